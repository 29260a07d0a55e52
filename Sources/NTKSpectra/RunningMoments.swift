import NTKLinearAlgebra

/// Streaming mean and variance of a scalar: Welford's update (1962) and the pairwise merge of
/// Chan, Golub & LeVeque (1979), so that partial ensembles computed on different workers combine
/// exactly (up to round-off) into the statistics of the union.
///
/// Update for a new sample x (n → n + 1): δ = x − μ, μ += δ/(n+1), M₂ += δ(x − μ).
/// Merge of (n_a, μ_a, M₂a) and (n_b, μ_b, M₂b): δ = μ_b − μ_a, n = n_a + n_b,
/// μ = μ_a + δ n_b/n, M₂ = M₂a + M₂b + δ² n_a n_b / n.
/// - Complexity: O(1) per sample and per merge; no samples are stored.
public struct RunningMoments: Sendable, Hashable, Codable {
    public private(set) var count: Int = 0
    public private(set) var mean: Double = 0
    /// M₂ = Σ (x − μ)².
    public private(set) var sumOfSquaredDeviations: Double = 0

    public init() {}

    /// The moments of `samples`.
    public init<S: Sequence>(_ samples: S) where S.Element: BinaryFloatingPoint {
        for x in samples { add(Double(x)) }
    }

    public mutating func add(_ x: Double) {
        count += 1
        let delta = x - mean
        mean += delta / Double(count)
        sumOfSquaredDeviations += delta * (x - mean)
    }

    public mutating func merge(_ other: RunningMoments) {
        guard other.count > 0 else { return }
        guard count > 0 else { self = other; return }
        let n = count + other.count
        let delta = other.mean - mean
        mean += delta * Double(other.count) / Double(n)
        sumOfSquaredDeviations += other.sumOfSquaredDeviations
            + delta * delta * Double(count) * Double(other.count) / Double(n)
        count = n
    }

    /// The unbiased sample variance M₂/(n − 1) (NaN below two samples).
    public var variance: Double { count > 1 ? sumOfSquaredDeviations / Double(count - 1) : .nan }
    public var standardDeviation: Double { variance.squareRoot() }
    /// Standard error of the mean, √(variance/n).
    public var standardError: Double { (variance / Double(count)).squareRoot() }
}

/// `RunningMoments` of every component of a vector (kernel entries, predictions), in Double
/// whatever the precision of the samples.
public struct ElementwiseMoments: Sendable, Hashable {
    public let length: Int
    public private(set) var count: Int = 0
    public private(set) var mean: [Double]
    public private(set) var sumOfSquaredDeviations: [Double]

    public init(length: Int) {
        self.length = length
        mean = Array(repeating: 0, count: length)
        sumOfSquaredDeviations = Array(repeating: 0, count: length)
    }

    /// Adds one sample vector (Float or Double).
    /// - Throws: `NTKError.shapeMismatch` if its length differs, `.nonFinite` for NaN/Inf.
    public mutating func add<C: Collection>(_ sample: C) throws where C.Element: BinaryFloatingPoint {
        guard sample.count == length else {
            throw NTKError.shapeMismatch("a sample of \(sample.count) values for moments of length \(length)")
        }
        guard sample.allSatisfy({ $0.isFinite }) else { throw NTKError.nonFinite("a sample added to an ensemble") }
        count += 1
        let n = Double(count)
        for (j, value) in sample.enumerated() {
            let x = Double(value)
            let delta = x - mean[j]
            mean[j] += delta / n
            sumOfSquaredDeviations[j] += delta * (x - mean[j])
        }
    }

    /// Chan–Golub–LeVeque merge of another ensemble of the same length.
    public mutating func merge(_ other: ElementwiseMoments) throws {
        guard other.length == length else {
            throw NTKError.shapeMismatch("merging moments of length \(other.length) into length \(length)")
        }
        guard other.count > 0 else { return }
        guard count > 0 else { self = other; return }
        let na = Double(count), nb = Double(other.count), n = na + nb
        for j in 0..<length {
            let delta = other.mean[j] - mean[j]
            mean[j] += delta * nb / n
            sumOfSquaredDeviations[j] += other.sumOfSquaredDeviations[j] + delta * delta * na * nb / n
        }
        count += other.count
    }

    /// Unbiased per-component variances (NaN below two samples).
    public var variance: [Double] {
        count > 1 ? sumOfSquaredDeviations.map { $0 / Double(count - 1) } : Array(repeating: .nan, count: length)
    }
}

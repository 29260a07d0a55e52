import NTKLinearAlgebra

/// Statistics of a kernel over an ensemble (random initializations, training runs): the mean
/// and the variance of every entry K_ij, and of the trace, the spectral entropy and the top
/// eigenvalues, accumulated one kernel at a time (Welford; see `RunningMoments`) so that no
/// ensemble is stored, and merged across workers (Chan–Golub–LeVeque).
///
/// neural-tangents' Monte-Carlo kernel (`monte_carlo_kernel_fn`) returns only the mean; the
/// finite-width fluctuations Var[K_ij] = O(1/N) of Bordelon & Pehlevan (arXiv:2304.03408) and
/// the ratio E[K²]/E[K]² of Hanin & Nica (arXiv:1909.05989) need the second moments too.
///
/// Entropy and trace follow `SpectrumStatistics` (negative round-off eigenvalues clipped,
/// p = λ/Σλ, natural log); the top eigenvalues are λ₁ ≥ λ₂ ≥ … of each kernel.
/// - Complexity: O(d²) per kernel for the entries plus the eigensolver's O(d³) (LAPACK
///   `dsyevd`) when the eigenvalues are not given; memory O(d²).
public struct KernelEnsemble: Sendable {
    /// The kernel's dimension d (d × d kernels).
    public let dimension: Int
    /// How many top eigenvalues are tracked.
    public let topCount: Int
    /// Moments of the d² entries, row-major.
    public private(set) var entries: ElementwiseMoments
    public private(set) var trace = RunningMoments()
    public private(set) var entropy = RunningMoments()
    /// Moments of λ₁, λ₂, …, λ_topCount (descending).
    public private(set) var topEigenvalues: [RunningMoments]

    /// - Throws: `NTKError.invalidOption` for a non-positive dimension or a negative `topCount`.
    public init(dimension: Int, topCount: Int = 3) throws {
        guard dimension > 0 else { throw NTKError.invalidOption("dimension", "a positive kernel size, got \(dimension)") }
        guard topCount >= 0 else { throw NTKError.invalidOption("topCount", "a count ≥ 0, got \(topCount)") }
        guard SizeLimit.product([dimension, dimension]) != nil else {
            throw NTKError.invalidOption("dimension", "a kernel size whose square fits the integer range, got \(dimension)")
        }
        self.dimension = dimension
        self.topCount = min(topCount, dimension)
        entries = ElementwiseMoments(length: dimension * dimension)
        topEigenvalues = Array(repeating: RunningMoments(), count: self.topCount)
    }

    /// The number of kernels added.
    public var count: Int { entries.count }

    /// Adds one kernel (Float or Double; statistics in Double), computing its eigenvalues.
    /// - Throws: `NTKError.shapeMismatch` for a kernel that is not d × d, `.nonFinite` for NaN/Inf.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public mutating func add<Scalar: BLASScalar>(_ kernel: Matrix<Scalar>) throws {
        try checkShape(kernel.rows, kernel.columns)
        guard kernel.storage.allSatisfy({ $0.isFinite }) else { throw NTKError.nonFinite("a kernel added to an ensemble") }
        var k = try Matrix<Double>(rows: dimension, columns: dimension, storage: kernel.storage.map { Double($0) })
        let eigenvalues = try SymmetricEigen(destroying: &k).values
        try add(kernel, eigenvalues: eigenvalues)
    }

    /// Adds one kernel whose eigenvalues are already known (any order).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public mutating func add<Scalar: BLASScalar>(_ kernel: Matrix<Scalar>, eigenvalues: [Double]) throws {
        try checkShape(kernel.rows, kernel.columns)
        guard eigenvalues.count == dimension else {
            throw NTKError.shapeMismatch("\(eigenvalues.count) eigenvalues for a \(dimension)×\(dimension) kernel")
        }
        try entries.add(kernel.storage)
        let statistics = SpectrumStatistics(eigenvalues: eigenvalues)
        trace.add(statistics.trace)
        entropy.add(statistics.entropy)
        let top = eigenvalues.sorted(by: >)
        for j in 0..<topCount { topEigenvalues[j].add(top[j]) }
    }

    /// Merges an ensemble of the same dimension and top count (e.g. another worker's seeds).
    public mutating func merge(_ other: KernelEnsemble) throws {
        guard other.dimension == dimension, other.topCount == topCount else {
            throw NTKError.shapeMismatch(
                "merging an ensemble of \(other.dimension)×\(other.dimension) kernels (top \(other.topCount)) into \(dimension)×\(dimension) (top \(topCount))")
        }
        try entries.merge(other.entries)
        trace.merge(other.trace)
        entropy.merge(other.entropy)
        for j in 0..<topCount { topEigenvalues[j].merge(other.topEigenvalues[j]) }
    }

    /// E[K], entrywise.
    public var mean: Matrix<Double> { try! Matrix(rows: dimension, columns: dimension, storage: entries.mean) }
    /// Var[K_ij] (unbiased), entrywise.
    public var variance: Matrix<Double> { try! Matrix(rows: dimension, columns: dimension, storage: entries.variance) }

    /// The average of Var[K_ij] over all entries (i ≤ j and i > j alike).
    public var meanEntryVariance: Double { entries.variance.reduce(0, +) / Double(dimension * dimension) }

    /// The kernel's signal-to-noise ratio ‖E K‖²_F / Σ_ij Var[K_ij]: the squared mean over the
    /// summed fluctuation, O(N) for width-N networks.
    public var signalToNoise: Double {
        entries.mean.reduce(0) { $0 + $1 * $1 } / entries.variance.reduce(0, +)
    }

    func checkShape(_ rows: Int, _ columns: Int) throws {
        guard rows == dimension, columns == dimension else {
            throw NTKError.shapeMismatch("a \(rows)×\(columns) kernel added to an ensemble of \(dimension)×\(dimension) kernels")
        }
    }
}

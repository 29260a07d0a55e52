import NTKLinearAlgebra

/// Spectral density by SLQ with Gaussian smoothing (Lin, Saad & Yang 2016, SIAM Review 58,
/// "Approximating spectral densities of large matrices", §3.2):
/// φ_σ(λ) = (1/n_v) Σ_l Σ_j τ_j^(l) g_σ(λ − θ_j^(l)), with τ the Gauss weights of the unit
/// probe z_l/‖z_l‖ and g_σ the N(0, σ²) density, evaluated on a uniform grid covering
/// [θ_min − 5σ, θ_max + 5σ] (trapezoid weights), so it integrates to 1 up to O(e^{-12}).
/// - Complexity: probes·steps applications; O(probes·steps·points) to evaluate.
public struct SmoothedLanczosDensity: Sendable {
    public var probes: Int
    public var steps: Int
    /// Gaussian width σ; nil means 1% of the Ritz-value range.
    public var width: Double?
    public var points: Int
    public var seed: UInt64

    public init(probes: Int = 8, steps: Int = 40, width: Double? = nil, points: Int = 512, seed: UInt64 = 0) {
        self.probes = probes
        self.steps = steps
        self.width = width
        self.points = points
        self.seed = seed
    }

    public func estimate(_ op: any SymmetricOperator) throws -> SpectralDensity {
        try require(probes >= 1, "SmoothedLanczosDensity.probes", probes, "at least 1")
        try require(points >= 2, "SmoothedLanczosDensity.points", points, "at least 2")
        if let width { try require(width > 0 && width.isFinite, "SmoothedLanczosDensity.width", width, "a positive width") }
        let counted = CountingOperator(op)
        let n = counted.dimension
        guard n > 0 else { throw EstimationError.emptyOperator }
        var generator = SeededGenerator(seed: seed)
        var start = Matrix<Double>(rows: probes, columns: n)
        ProbeDistribution.rademacher.fill(&start, using: &generator)
        let round = try SLQRound.run(counted, start: start, lanczos: Lanczos(steps: steps))
        return Self.smoothed(round.probes.map { ($0.gauss.nodes, $0.gauss.weights) }, width: width, points: points,
                             cost: counted.cost)
    }

    /// The Gaussian-smoothed density of weighted nodes, averaged over groups (one group per
    /// probe's Gauss rule; or one group holding a whole spectrum with weights 1/N, which gives the
    /// exact spectrum smoothed the same way): φ(x) = (1/G) Σ_g Σ_i τ_gi N(x; θ_gi, σ²) on `points`
    /// equally spaced points from the smallest node − 5σ to the largest + 5σ, σ = `width` or 1%
    /// of the node range.
    public static func smoothed(_ groups: [(nodes: [Double], weights: [Double])], width: Double?, points: Int,
                                cost: OperatorCost = OperatorCost()) -> SpectralDensity {
        var low = Double.infinity, high = -Double.infinity
        for g in groups {
            low = min(low, g.nodes.min() ?? low)
            high = max(high, g.nodes.max() ?? high)
        }
        if !low.isFinite || !high.isFinite { low = 0; high = 0 }
        let sigma = width ?? max(0.01 * (high - low), 1e-12 * max(abs(high), 1))
        let a = low - 5 * sigma, b = high + 5 * sigma
        let h = (b - a) / Double(points - 1)
        var grid = [Double](repeating: 0, count: points)
        var values = [Double](repeating: 0, count: points)
        var weights = [Double](repeating: h, count: points)
        weights[0] = h / 2
        weights[points - 1] = h / 2
        let normalization = 1 / (sigma * (2 * Double.pi).squareRoot() * Double(max(groups.count, 1)))
        for j in 0..<points {
            let x = a + Double(j) * h
            grid[j] = x
            var sum = 0.0
            for g in groups {
                for (theta, tau) in zip(g.nodes, g.weights) {
                    let d = (x - theta) / sigma
                    sum += tau * Double.exp(-0.5 * d * d)
                }
            }
            values[j] = sum * normalization
        }
        return SpectralDensity(points: grid, values: values, weights: weights, cost: cost)
    }
}

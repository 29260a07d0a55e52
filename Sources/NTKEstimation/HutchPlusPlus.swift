import NTKLinearAlgebra

/// Hutch++ (Meyer, Musco, Musco & Woodruff 2021, SOSA; arXiv:2010.09649): with a budget of
/// m applications, k = m/3 go to a sketch Y = A S, Q = orth(Y); tr A = tr(QᵀAQ) (k more
/// applications, exact) + Hutchinson on (I − QQᵀ) A (I − QQᵀ) with the last k probes.
/// Error O(1/m) instead of O(1/√m) for PSD A with decaying spectrum. The reported standard
/// error is that of the Hutchinson part (the low-rank part is deterministic given Q).
/// - Complexity: m applications; O(m²·N) flops for the QR and projections.
public struct HutchPlusPlus: Sendable {
    /// Total operator applications m (rounded down to a multiple of 3, at least 6).
    public var applications: Int
    public var confidenceLevel: Double
    public var distribution: ProbeDistribution
    public var seed: UInt64

    public init(applications: Int = 60, confidenceLevel: Double = 0.95,
                distribution: ProbeDistribution = .rademacher, seed: UInt64 = 0) {
        self.applications = applications
        self.confidenceLevel = confidenceLevel
        self.distribution = distribution
        self.seed = seed
    }

    public func estimate(_ op: any SymmetricOperator) throws -> MonteCarloEstimate {
        try require(applications >= 6, "HutchPlusPlus.applications", applications, "at least 6")
        let counted = CountingOperator(op)
        let n = counted.dimension
        guard n > 0 else { throw EstimationError.emptyOperator }
        let k = min(applications / 3, n)
        let clock = ContinuousClock()
        let start = clock.now
        var generator = SeededGenerator(seed: seed)
        var sketch = Matrix<Double>(rows: k, columns: n)
        distribution.fill(&sketch, using: &generator)
        var image = Matrix<Double>(rows: k, columns: n)
        try counted.apply(sketch, into: &image)
        let q = try BlockKernels.orthonormalRows(image)
        try counted.apply(q, into: &image)
        let lowRank = try BlockKernels.rowDots(q, image).reduce(0, +)
        var probes = Matrix<Double>(rows: k, columns: n)
        distribution.fill(&probes, using: &generator)
        let deflated = try DeflatedOperator(counted, basis: q)
        try deflated.project(&probes)
        try deflated.apply(probes, into: &image)
        let samples = try BlockKernels.rowDots(probes, image)
        return try .fromSamples(samples, offset: lowRank, confidenceLevel: confidenceLevel,
                                applications: counted.cost.applications, seconds: (clock.now - start).seconds)
    }
}

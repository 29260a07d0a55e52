import NTKLinearAlgebra

/// What `SpectralEstimator` measured, each value with its error bar and the total cost.
public struct SpectralReport: Sendable {
    /// T = tr A (exact when a trace hint was given).
    public var trace: MonteCarloEstimate
    /// S = log T − tr(A log A)/T, the von Neumann entropy of A/T (natural log); `biasBound`
    /// is the Gauss/Gauss–Radau quadrature bracket, separate from the statistical interval.
    public var entropy: MonteCarloEstimate
    /// exp(S) (interval mapped through exp).
    public var effectiveRank: MonteCarloEstimate
    /// T² / tr A² (delta method).
    public var participationRatio: MonteCarloEstimate
    /// tr A² = ‖A‖²_F.
    public var traceOfSquare: MonteCarloEstimate
    /// tr(A log A) (0 log 0 = 0).
    public var traceXLogX: MonteCarloEstimate
    /// Largest Ritz values from the pilot Lanczos runs (descending) and their residual norms.
    public var topEigenvalues: [Double]
    public var topResidualNorms: [Double]
    /// Number of deflated (exactly accounted) Ritz pairs r.
    public var deflationRank: Int
    /// Σ_{i ≤ r} θ_i / T: the share of the trace carried by the deflated pairs.
    public var deflatedTraceShare: Double
    /// Estimated number of eigenvalues clipped to 0 (below N·ε·λ_max) in the complement.
    public var clippedMass: Double
    /// Complement probes used.
    public var probes: Int
    /// Mean Lanczos depth of the complement probes.
    public var lanczosDepth: Double
    /// Whether the trace was supplied exactly.
    public var traceWasExact: Bool
    /// N, the operator's dimension.
    public var dimension: Int
    /// Total operator cost (pilot + complement probes); `cost.seconds` is time inside the operator.
    public var cost: OperatorCost
    /// Wall-clock seconds of the whole estimate (operator + Lanczos + quadrature).
    public var seconds: Double
    /// How the estimate used a warm start (all zero/false for a cold start).
    public var warmStart = WarmStartUsage()
    public var applications: Int { cost.applications }
    /// S / log N ∈ [0, 1] (the "effective" entropy of the collective-variables reference code).
    public var normalizedEntropy: Double { dimension > 1 ? entropy.value / Double.log(Double(dimension)) : 0 }
}

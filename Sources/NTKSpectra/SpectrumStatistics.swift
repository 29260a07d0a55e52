import NTKLinearAlgebra

/// Collective variables of a kernel computed from its exact eigenvalues, with the
/// conventions of the collective-variables reference code (ZnNL / papyrus; arXiv:2410.07451):
/// eigenvalues below zero from round-off are clipped to 0, p_i = λ_i / Σλ, natural log,
/// 0·log 0 = 0.
///
/// - Trace T = Σ λ_i (raw; `tracePerSample` divides by n, `meanDiagonal` by the dimension).
/// - Entropy S = −Σ p_i log p_i = log T − Σ λ_i log λ_i / T; `normalizedEntropy` = S / log N.
/// - Effective rank exp(S) (Roy & Vetterli 2007); participation ratio (Σλ)² / Σλ².
public struct SpectrumStatistics: Sendable, Equatable, Codable {
    /// Number of eigenvalues (the kernel's dimension N).
    public var dimension: Int
    public var trace: Double
    public var entropy: Double
    public var normalizedEntropy: Double
    public var effectiveRank: Double
    public var participationRatio: Double
    public var topEigenvalue: Double
    /// Total magnitude of negative eigenvalues clipped to zero (round-off diagnostics).
    public var clippedNegativeMass: Double

    /// - Parameter eigenvalues: the spectrum of a symmetric positive semi-definite kernel.
    public init(eigenvalues: [Double]) {
        dimension = eigenvalues.count
        let clipped = eigenvalues.map { max($0, 0) }
        clippedNegativeMass = eigenvalues.reduce(0) { $0 + ($1 < 0 ? -$1 : 0) }
        let t = clipped.reduce(0, +)
        trace = t
        topEigenvalue = clipped.max() ?? 0
        if t > 0 {
            var s = 0.0, squares = 0.0
            for l in clipped where l > 0 {
                let p = l / t
                s -= p * Double.log(p)
                squares += l * l
            }
            entropy = s
            participationRatio = t * t / squares
        } else {
            entropy = 0
            participationRatio = 0
        }
        normalizedEntropy = dimension > 1 ? entropy / Double.log(Double(dimension)) : 0
        effectiveRank = Double.exp(entropy)
    }
}

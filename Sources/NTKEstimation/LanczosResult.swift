import NTKLinearAlgebra

/// One probe's Lanczos decomposition A V_mᵀ = V_mᵀ T_m + r e_mᵀ (V_m has the m Lanczos
/// vectors as rows), with T_m tridiagonal (α on the diagonal, β off it).
public struct LanczosResult: Sendable {
    /// α₁…α_m (m ≤ steps; shorter on breakdown or early stop).
    public var alpha: [Double]
    /// β₁…β_{m−1}, the off-diagonal of T_m.
    public var beta: [Double]
    /// β_m = ‖r‖, the norm of the residual after the last step (≈ 0 on breakdown).
    public var residualNorm: Double
    /// ‖start vector‖; quadratic forms are ‖v‖² e₁ᵀ f(T_m) e₁.
    public var startNorm: Double
    /// The Krylov space was exhausted (invariant subspace found): Gauss quadrature is exact.
    public var brokeDown: Bool
    /// The caller's stop criterion ended this probe before `steps`.
    public var stoppedEarly: Bool
    /// The Lanczos vectors as rows (m × N), when requested.
    public var basis: Matrix<Double>?
    /// The residual vector r = β_m v_{m+1} (length N), when the basis was requested.
    public var residual: [Double]?

    /// m, the Lanczos depth reached (= operator applications spent on this probe).
    public var depth: Int { alpha.count }
}

import NTKLinearAlgebra

/// A quadrature rule Σ_j w_j f(θ_j) for the spectral measure μ_v of a unit start vector v
/// (μ_v = Σ_i (q_iᵀv)² δ_{λ_i}), built from a Lanczos tridiagonal T_m.
///
/// - Gauss (Golub & Welsch 1969): nodes θ_j = eigenvalues of T_m, weights w_j = (e₁ᵀy_j)²;
///   exact for polynomials of degree ≤ 2m − 1, so vᵀ f(A) v ≈ e₁ᵀ f(T_m) e₁.
/// - Gauss–Radau with a prescribed node a (Golub & Meurant 2010, §6.2): extend T_m by
///   β_m and α̃_{m+1} = a + δ_m, where (T_m − aI) δ = β_m² e_m; the extended matrix has a as an
///   eigenvalue. For f with f^(2m) < 0 and f^(2m+1) > 0 on the spectrum (e.g. f(x) = −x log x
///   with a = 0 ≤ λ_min), Radau ≤ vᵀf(A)v ≤ Gauss: a deterministic bracket per probe.
/// - Complexity: O(m²) (LAPACK `dstev` with first components).
public struct GaussQuadrature: Sendable {
    public let nodes: [Double]
    public let weights: [Double]

    /// The Gauss rule of the tridiagonal (α on the diagonal, β off it).
    public init(diagonal: [Double], offDiagonal: [Double]) throws {
        let eigen = try TridiagonalEigen(diagonal: diagonal, offDiagonal: offDiagonal)
        nodes = eigen.values
        weights = eigen.firstComponents.map { $0 * $0 }
    }

    /// The Gauss rule of one Lanczos run.
    public init(_ result: LanczosResult) throws {
        try self.init(diagonal: result.alpha, offDiagonal: result.beta)
    }

    /// The Gauss–Radau rule with a node prescribed at `node` (default 0, for PSD operators).
    /// On breakdown (β_m = 0) the Gauss rule is exact and is returned. Returns nil when
    /// T_m − aI is numerically singular (the rule is then undefined).
    public static func radau(_ result: LanczosResult, prescribedNode node: Double = 0) throws -> GaussQuadrature? {
        try radau(diagonal: result.alpha, offDiagonal: result.beta, residualNorm: result.residualNorm,
                  brokeDown: result.brokeDown, prescribedNode: node)
    }

    static func radau(diagonal: [Double], offDiagonal: [Double], residualNorm: Double, brokeDown: Bool,
                      prescribedNode node: Double) throws -> GaussQuadrature? {
        let m = diagonal.count
        if m == 0 { return GaussQuadrature(nodes: [], weights: []) }
        if brokeDown || residualNorm == 0 {
            return try GaussQuadrature(diagonal: diagonal, offDiagonal: offDiagonal)
        }
        // Thomas algorithm for (T − aI) δ = β_m² e_m (T − aI is positive definite when a < λ_min).
        var c = [Double](repeating: 0, count: m)  // modified super-diagonal
        var d = [Double](repeating: 0, count: m)  // modified right-hand side
        var pivot = diagonal[0] - node
        guard pivot != 0 else { return nil }
        c[0] = m > 1 ? offDiagonal[0] / pivot : 0
        d[0] = m == 1 ? residualNorm * residualNorm / pivot : 0
        for i in 1..<max(1, m) {
            pivot = diagonal[i] - node - offDiagonal[i - 1] * c[i - 1]
            guard pivot != 0 else { return nil }
            c[i] = i < m - 1 ? offDiagonal[i] / pivot : 0
            let rhs = i == m - 1 ? residualNorm * residualNorm : 0
            d[i] = (rhs - offDiagonal[i - 1] * d[i - 1]) / pivot
        }
        let delta = d[m - 1]  // back substitution is not needed for the last component
        let extended = node + delta
        guard extended.isFinite else { return nil }
        return try GaussQuadrature(diagonal: diagonal + [extended], offDiagonal: offDiagonal + [residualNorm])
    }

    init(nodes: [Double], weights: [Double]) {
        self.nodes = nodes
        self.weights = weights
    }

    /// Σ_j w_j f(θ_j).
    public func integrate(_ f: (Double) -> Double) -> Double {
        var sum = 0.0
        for (x, w) in zip(nodes, weights) { sum += w * f(x) }
        return sum
    }
}

import NTKLinearAlgebra

/// Ritz pairs (θ_i, q_i) of A from the UNION of the Krylov spaces of several Lanczos runs,
/// by Rayleigh–Ritz, with exact residual norms ‖A q_i − θ_i q_i‖, at no extra operator
/// applications: every run satisfies A V_pᵀ = V_pᵀ T_p + r_p e_mᵀ, so the image of each Lanczos
/// vector is known.
///
/// The union is orthonormalized through its Gram matrix (directions whose singular value is
/// below `dropTolerance` relative to the largest are dropped: different probes share the
/// converged top eigenvectors), carrying the images along by the same linear map. For symmetric A each
/// θ_i is within ‖A q_i − θ_i q_i‖ of an eigenvalue (Parlett, The Symmetric Eigenvalue
/// Problem, Thm 4.5.1).
/// - Complexity: O(M²·N) flops for M = Σ_p m_p Lanczos vectors; no applications.
public struct RitzPairs: Sendable {
    /// Ritz values, descending.
    public var values: [Double]
    /// ‖A q_i − θ_i q_i‖, in the order of `values`.
    public var residualNorms: [Double]
    /// Ritz vectors as rows (orthonormal), in the order of `values`.
    public var vectors: Matrix<Double>

    /// - Parameter runs: Lanczos results with `basis` and `residual` (run with `keepBasis`).
    public init(union runs: [LanczosResult], dropTolerance: Double = 1e-6) throws {
        try require(dropTolerance > 0 && dropTolerance < 1, "RitzPairs.dropTolerance", dropTolerance, "a value in (0, 1)")
        var n = 0
        var total = 0
        for (p, run) in runs.enumerated() where run.depth > 0 {
            guard let basis = run.basis, let residual = run.residual else {
                throw EstimationError.invalidConfiguration(
                    name: "Lanczos run \(p)", value: "without basis", expected: "a run with keepBasis = true")
            }
            n = basis.columns
            guard residual.count == n else {
                throw EstimationError.dimensionMismatch(what: "Lanczos residual of run \(p)", got: residual.count, expected: n)
            }
            total += run.depth
        }
        guard total > 0 else {
            values = []; residualNorms = []; vectors = Matrix(rows: 0, columns: n)
            return
        }
        // Stack the Lanczos vectors B (M × N) and their exact images AB (three-term relation).
        var b = Matrix<Double>(rows: total, columns: n)
        var ab = Matrix<Double>(rows: total, columns: n)
        var row = 0
        for run in runs where run.depth > 0 {
            let basis = run.basis!, residual = run.residual!
            let m = run.depth
            for i in 0..<m {
                for j in 0..<n {
                    let vi = basis[i, j]
                    b[row, j] = vi
                    var image = run.alpha[i] * vi
                    if i > 0 { image += run.beta[i - 1] * basis[i - 1, j] }
                    if i < m - 1 { image += run.beta[i] * basis[i + 1, j] } else { image += residual[j] }
                    ab[row, j] = image
                }
                row += 1
            }
        }
        // W = C B with orthonormal rows: whiten by the Gram matrix G = B Bᵀ (dropping directions
        // with eigenvalue below dropTolerance² · max), then once more by (W Wᵀ)^(−1/2) to remove the
        // rounding of the first step. The images follow exactly: AW = C AB, so errors are not
        // compounded vector by vector (as they would be by Gram–Schmidt on the images).
        let gram = try Self.symmetrized(b.multiplied(by: b, transposeOther: true))
        let g = try SymmetricEigen(gram, computeVectors: true)
        let gMax = g.values.last ?? 0
        let kept = g.values.indices.filter { g.values[$0] > dropTolerance * dropTolerance * gMax }
        var c = Matrix<Double>(rows: kept.count, columns: total)
        for (r, idx) in kept.enumerated() {
            let scale = 1 / g.values[idx].squareRoot()
            for j in 0..<total { c[r, j] = g.vectors![idx, j] * scale }
        }
        var wm = try c.multiplied(by: b)
        var awm = try c.multiplied(by: ab)
        let overlap = try Self.symmetrized(wm.multiplied(by: wm, transposeOther: true))
        let o = try SymmetricEigen(overlap, computeVectors: true)
        let k = kept.count
        // (W Wᵀ)^(−1/2) = Eᵀ diag(λ^(−1/2)) E with the eigenvectors as rows of E (λ > 0 only): one
        // GEMM (the scalar triple loop it replaces took ~1 s at k = 480, measured).
        guard let eigenvectors = o.vectors else { throw EstimationError.nonFinite(what: "Gram eigenvectors") }
        var scaled = eigenvectors
        for l in 0..<k {
            let scale = o.values[l] > 0 ? 1 / o.values[l].squareRoot() : 0
            for a in 0..<k { scaled[l, a] *= scale }
        }
        let inverseRoot = try eigenvectors.multiplied(by: scaled, transposeSelf: true)
        wm = try inverseRoot.multiplied(by: wm)
        awm = try inverseRoot.multiplied(by: awm)
        let h = try Self.symmetrized(wm.multiplied(by: awm, transposeOther: true))
        let eigen = try SymmetricEigen(h, computeVectors: true)
        guard let e = eigen.vectors else {
            throw EstimationError.nonFinite(what: "Rayleigh–Ritz eigenvectors")
        }
        // Descending order: reverse the rows of E.
        var ordered = Matrix<Double>(rows: k, columns: k)
        for i in 0..<k { for j in 0..<k { ordered[i, j] = e[k - 1 - i, j] } }
        let q = try ordered.multiplied(by: wm)
        let aq = try ordered.multiplied(by: awm)
        var values: [Double] = []
        var residuals: [Double] = []
        for i in 0..<k {
            let theta = eigen.values[k - 1 - i]
            var sum = 0.0
            for j in 0..<n { let d = aq[i, j] - theta * q[i, j]; sum += d * d }
            values.append(theta)
            residuals.append(sum.squareRoot())
        }
        self.values = values
        self.residualNorms = residuals
        self.vectors = q
    }

    static func symmetrized(_ m: Matrix<Double>) -> Matrix<Double> {
        var m = m
        for i in 0..<m.rows { for j in 0..<i { let s = 0.5 * (m[i, j] + m[j, i]); m[i, j] = s; m[j, i] = s } }
        return m
    }

    /// Indices (in descending-value order) of pairs with residual ≤ `tolerance` · max|θ|.
    public func converged(relativeTolerance tolerance: Double) -> [Int] {
        let scale = values.map(abs).max() ?? 0
        return values.indices.filter { residualNorms[$0] <= tolerance * scale }
    }
}

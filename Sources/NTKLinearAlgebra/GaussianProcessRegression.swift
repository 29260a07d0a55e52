/// Gaussian-process regression with a given kernel (Rasmussen & Williams 2006, Algorithm 2.1):
/// for training inputs with kernel matrix K (n×n), targets Y (n×k, one column per output) and
/// observation-noise variance σ², the posterior at m test inputs with cross-kernel K_* (m×n,
/// row j = k(x*_j, X)) and test diagonal k_** is
///
///     mean      = K_* α,                 α = (K + σ²I)⁻¹ Y,
///     variance  = k_** − diag(K_* (K + σ²I)⁻¹ K_*ᵀ)   (the same for every output column).
///
/// (K + σ²I) is factored once by Cholesky (`CholeskyFactorization`, LAPACK `dpotrf`/`dpotrs`);
/// `jitter` is added on top of σ² only to rescue a numerically singular matrix and is reported.
/// The kernel may come from anywhere: an NNGP formula, a network's conjugate kernel, an NTK.
/// In Double: kernels are reductions (see DESIGN: all reductions are Double).
/// - Complexity: n³/3 + 2n²k flops to fit; 2mnk for means, 2n²m for variances.
public struct GaussianProcessRegression: Sendable {
    public let cholesky: CholeskyFactorization
    /// α = (K + σ²I)⁻¹ Y, n×k.
    public let weights: Matrix<Double>
    public let noiseVariance: Double

    /// Fits the posterior.
    /// - Throws: `CholeskyError.notPositiveDefinite` when K + (σ² + jitter)I is not positive
    ///   definite; `LinearAlgebraError.shapeMismatch` for a non-square K or targets with another
    ///   row count, `.nonFinite` for NaN/Inf, `.invalidSize` for a negative noise variance.
    public init(kernel: Matrix<Double>, targets: Matrix<Double>, noiseVariance: Double, jitter: Double = 0) throws {
        guard noiseVariance.isFinite, noiseVariance >= 0 else {
            throw LinearAlgebraError.invalidSize(name: "noise variance", value: 0, expected: "a finite σ² ≥ 0, got \(noiseVariance)")
        }
        guard targets.rows == kernel.rows else {
            throw LinearAlgebraError.shapeMismatch("targets have \(targets.rows) rows for a \(kernel.rows)×\(kernel.columns) kernel")
        }
        cholesky = try CholeskyFactorization(kernel, jitter: noiseVariance + jitter)
        weights = try cholesky.solve(targets)
        self.noiseVariance = noiseVariance
    }

    /// Posterior means K_* α (m×k) for a cross-kernel K_* (m×n).
    public func mean(crossKernel: Matrix<Double>) throws -> Matrix<Double> {
        let n = weights.rows, k = weights.columns, m = crossKernel.rows
        guard crossKernel.columns == n else {
            throw LinearAlgebraError.shapeMismatch("cross-kernel \(crossKernel.rows)×\(crossKernel.columns), expected m×\(n)")
        }
        var out = Matrix<Double>(rows: m, columns: k)
        if m > 0, n > 0, k > 0 {
            try crossKernel.storage.withUnsafeBufferPointer { a in
                try weights.storage.withUnsafeBufferPointer { b in
                    try out.storage.withUnsafeMutableBufferPointer { c in
                        try Double.gemm(.none, .none, m: m, n: k, k: n, alpha: 1, a: a.baseAddress!, lda: n,
                                        b: b.baseAddress!, ldb: k, beta: 0, c: c.baseAddress!, ldc: k)
                    }
                }
            }
        }
        return out
    }

    /// Posterior variances k_**(j) − K_*[j,:] (K + σ²I)⁻¹ K_*[j,:]ᵀ of the latent function (add
    /// σ² for a noisy observation), one per test input.
    public func variance(crossKernel: Matrix<Double>, testDiagonal: [Double]) throws -> [Double] {
        let n = weights.rows, m = crossKernel.rows
        guard crossKernel.columns == n, testDiagonal.count == m else {
            throw LinearAlgebraError.shapeMismatch(
                "cross-kernel \(crossKernel.rows)×\(crossKernel.columns) and \(testDiagonal.count) test diagonal entries, expected m×\(n) and m")
        }
        let v = try cholesky.solve(crossKernel.transposed())  // n×m
        return (0..<m).map { j in
            var q = 0.0
            for i in 0..<n { q += crossKernel[j, i] * v[i, j] }
            return testDiagonal[j] - q
        }
    }
}

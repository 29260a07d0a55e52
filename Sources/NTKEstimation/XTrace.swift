import NTKLinearAlgebra

/// XTrace (Epperly, Tropp & Webber 2024, SIAM J. Matrix Anal. Appl.; arXiv:2301.07825): an
/// exchangeable Hutch++. With m Gaussian vectors Ω and Y = AΩ, for each i the basis
/// Q_(i) of span{y_j : j ≠ i} gives the unbiased estimate
/// t_i = tr(Q_(i)ᵀ A Q_(i)) + ω_iᵀ (I − Q_(i)Q_(i)ᵀ) A (I − Q_(i)Q_(i)ᵀ) ω_i; XTrace = mean t_i.
/// All m leave-one-out bases come from one QR Y = QR: Q_(i)Q_(i)ᵀ = Q (I − s_i s_iᵀ) Qᵀ with s_i
/// the normalized i-th column of R⁻ᵀ, and A Q_(i) from Z = AQ, so the cost is 2m applications.
/// The standard error is the sample standard deviation of the t_i over √m (the estimator the
/// paper reports; the t_i are exchangeable, not independent).
/// When Y is numerically rank deficient, range(Y) ⊇ range(A) and tr(QᵀAQ) is exact.
/// - Complexity: 2m applications; O(m²·N) flops.
public struct XTrace: Sendable {
    /// Total operator applications (2m; rounded down to even, at least 4).
    public var applications: Int
    public var confidenceLevel: Double
    public var seed: UInt64

    public init(applications: Int = 60, confidenceLevel: Double = 0.95, seed: UInt64 = 0) {
        self.applications = applications
        self.confidenceLevel = confidenceLevel
        self.seed = seed
    }

    public func estimate(_ op: any SymmetricOperator) throws -> MonteCarloEstimate {
        try require(applications >= 4, "XTrace.applications", applications, "at least 4")
        let counted = CountingOperator(op)
        let n = counted.dimension
        guard n > 0 else { throw EstimationError.emptyOperator }
        let m = min(applications / 2, n)
        let clock = ContinuousClock()
        let start = clock.now
        var generator = SeededGenerator(seed: seed)
        var omega = Matrix<Double>(rows: m, columns: n)
        ProbeDistribution.gaussian.fill(&omega, using: &generator)
        var y = Matrix<Double>(rows: m, columns: n)
        try counted.apply(omega, into: &y)
        let q = try BlockKernels.orthonormalRows(y)          // m × N
        var z = Matrix<Double>(rows: m, columns: n)
        try counted.apply(q, into: &z)                        // rows A q_k
        let r = try q.multiplied(by: y, transposeOther: true)  // R_kj = q_k · y_j (upper triangular)
        var h = try q.multiplied(by: z, transposeOther: true)  // H_kl = q_k · A q_l
        for i in 0..<m { for j in 0..<i { let s = 0.5 * (h[i, j] + h[j, i]); h[i, j] = s; h[j, i] = s } }
        let w = try q.multiplied(by: omega, transposeOther: true)  // W_ki = q_k · ω_i
        let traceH = h.trace
        var diagonalScale = 0.0
        for i in 0..<m { diagonalScale = max(diagonalScale, abs(r[i, i])) }
        var rankDeficient = diagonalScale == 0
        for i in 0..<m where abs(r[i, i]) <= 1e-12 * diagonalScale { rankDeficient = true }
        let seconds = { (clock.now - start).seconds }
        if rankDeficient {
            return .exact(traceH, confidenceLevel: confidenceLevel, applications: counted.cost.applications,
                          seconds: seconds())
        }
        // X = R⁻¹ by back substitution on the upper triangle; row i of R⁻¹ is column i of R⁻ᵀ.
        var inverse = Matrix<Double>(rows: m, columns: m)
        for col in 0..<m {
            for i in stride(from: m - 1, through: 0, by: -1) {
                var sum = i == col ? 1.0 : 0.0
                for k in (i + 1)..<max(i + 1, m) { sum -= r[i, k] * inverse[k, col] }
                inverse[i, col] = sum / r[i, i]
            }
        }
        var samples: [Double] = []
        var coefficients = [Double](repeating: 0, count: m)
        var p = [Double](repeating: 0, count: n)
        var ap = [Double](repeating: 0, count: n)
        for i in 0..<m {
            var s = inverse.row(i)
            let norm = s.reduce(0) { $0 + $1 * $1 }.squareRoot()
            for k in 0..<m { s[k] /= norm }
            var sw = 0.0
            for k in 0..<m { sw += s[k] * w[k, i] }
            var shs = 0.0
            for k in 0..<m { for l in 0..<m { shs += s[k] * h[k, l] * s[l] } }
            for k in 0..<m { coefficients[k] = w[k, i] - s[k] * sw }
            // p = ω_i − Qᵀ u, A p = y_i − Zᵀ u with u = (I − s sᵀ) Qᵀ ω_i.
            for j in 0..<n { p[j] = omega[i, j]; ap[j] = y[i, j] }
            try q.storage.withUnsafeBufferPointer { qb in
                try z.storage.withUnsafeBufferPointer { zb in
                    try coefficients.withUnsafeBufferPointer { cb in
                        try p.withUnsafeMutableBufferPointer { pb in
                            try Double.gemv(.transpose, m: m, n: n, alpha: -1, a: qb.baseAddress!, lda: n,
                                            x: cb.baseAddress!, incx: 1, beta: 1, y: pb.baseAddress!, incy: 1)
                        }
                        try ap.withUnsafeMutableBufferPointer { ab in
                            try Double.gemv(.transpose, m: m, n: n, alpha: -1, a: zb.baseAddress!, lda: n,
                                            x: cb.baseAddress!, incx: 1, beta: 1, y: ab.baseAddress!, incy: 1)
                        }
                    }
                }
            }
            var quadratic = 0.0
            for j in 0..<n { quadratic += p[j] * ap[j] }
            samples.append(traceH - shs + quadratic)
        }
        return try .fromSamples(samples, confidenceLevel: confidenceLevel,
                                applications: counted.cost.applications, seconds: seconds())
    }
}

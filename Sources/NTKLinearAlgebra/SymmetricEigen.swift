import CLAPACKE

/// Eigendecomposition A = Q Λ Qᵀ of a dense real symmetric matrix by LAPACK, in Double:
/// the divide-and-conquer driver `dsyevd`, or for eigenvalues alone of a large matrix its
/// two-stage variant `dsyevd_2stage` (LAPACK ≥ 3.7).
///
/// Both reduce A to tridiagonal form and then solve the tridiagonal problem. `dsyevd`'s
/// one-stage reduction (`dsytrd`) does half its flops in memory-bound `dsymv` calls; the
/// two-stage reduction goes through a band matrix with BLAS-3 kernels first, which pays off
/// once the matrix no longer fits in cache (measured, Debian's OpenBLAS 0.3.21, 2 threads,
/// Xeon with a 105 MB L3: 4.6 s vs 4.9 s at n = 4096, 63.6 s vs 44.0 s at n = 10240, values
/// agreeing to 1e-15 relative). Eigenvectors always use `dsyevd` (the two-stage drivers
/// compute values only).
///
/// The matrix is handed to LAPACK in column-major order without a transposition copy: the
/// row-major upper triangle is the column-major lower one, and the column-major eigenvector
/// columns are row-major rows.
///
/// Eigenvalues are in ascending order; `vectors` (when requested) holds the eigenvectors as
/// **rows** (row i is the unit eigenvector of `values[i]`).
/// - Complexity: O(n³) flops; O(n²) memory: one working copy of A (none with
///   `init(destroying:)`), plus LAPACK's workspace (about 2n² more doubles with vectors).
public struct SymmetricEigen: Sendable {
    public let values: [Double]
    public let vectors: Matrix<Double>?
    /// The LAPACK routine that ran (`dsyevd` or `dsyevd_2stage`).
    public let routine: String

    /// Which LAPACK driver runs.
    public enum Driver: String, Sendable, CaseIterable {
        /// `dsyevd_2stage` for values alone from `twoStageMinimumDimension` on, else `dsyevd`.
        case automatic
        /// `dsyevd` (one-stage reduction, divide and conquer).
        case divideAndConquer = "dsyevd"
        /// `dsyevd_2stage` (values only: with vectors `dsyevd` runs instead).
        case twoStage = "dsyevd_2stage"
    }

    /// Dimension from which eigenvalues alone are computed by `dsyevd_2stage` (below it the
    /// two drivers tie within noise, see the type's documentation).
    public static let twoStageMinimumDimension = 4096

    /// The driver that runs for an n×n decomposition under `driver` (never `.automatic`).
    static func resolved(dimension n: Int, computeVectors: Bool, driver: Driver) -> Driver {
        if computeVectors { return .divideAndConquer }
        switch driver {
        case .automatic: return n >= twoStageMinimumDimension ? .twoStage : .divideAndConquer
        case .divideAndConquer, .twoStage: return driver
        }
    }

    /// The LAPACK routine that computes an n×n decomposition under `driver`.
    public static func routine(dimension n: Int, computeVectors: Bool, driver: Driver = .automatic) -> String {
        resolved(dimension: n, computeVectors: computeVectors, driver: driver).rawValue
    }

    /// Decomposes `matrix`, which must be square and finite; only its upper triangle (in
    /// row-major terms) is read.
    public init(_ matrix: Matrix<Double>, computeVectors: Bool = false, driver: Driver = .automatic)
        throws(LinearAlgebraError)
    {
        var copy = matrix
        try self.init(destroying: &copy, computeVectors: computeVectors, driver: driver)
    }

    /// Decomposes `matrix` in place, without a working copy: on return its contents are
    /// unspecified (LAPACK's workspace; the eigenvectors when `computeVectors`). Use it when
    /// the matrix is not needed afterwards — at n = 10240 it saves 800 MB.
    public init(destroying matrix: inout Matrix<Double>, computeVectors: Bool = false, driver: Driver = .automatic)
        throws(LinearAlgebraError)
    {
        guard matrix.rows == matrix.columns else {
            throw .shapeMismatch("eigendecomposition needs a square matrix, got \(matrix.rows)×\(matrix.columns)")
        }
        guard matrix.isFinite else { throw .nonFinite("matrix passed to dsyevd") }
        let n = matrix.rows
        let n32 = try cInt(n, "n")
        let resolved = Self.resolved(dimension: n, computeVectors: computeVectors, driver: driver)
        routine = resolved.rawValue
        if n == 0 {
            values = []
            vectors = computeVectors ? Matrix(rows: 0, columns: 0) : nil
            return
        }
        var w = [Double](repeating: 0, count: n)
        let jobz = computeVectors ? CChar(UInt8(ascii: "V")) : CChar(UInt8(ascii: "N"))
        let lower = CChar(UInt8(ascii: "L"))   // column-major lower = row-major upper
        let info = matrix.storage.withUnsafeMutableBufferPointer { ap in
            w.withUnsafeMutableBufferPointer { wp in
                resolved == .twoStage
                    ? LAPACKE_dsyevd_2stage(LAPACK_COL_MAJOR, jobz, lower, n32, ap.baseAddress, n32, wp.baseAddress)
                    : LAPACKE_dsyevd(LAPACK_COL_MAJOR, jobz, lower, n32, ap.baseAddress, n32, wp.baseAddress)
            }
        }
        try checkInfo(info, routine: routine)
        values = w
        // Column-major eigenvectors in the columns are row-major rows: no transpose.
        vectors = computeVectors ? matrix : nil
    }
}

/// Eigenvalues of a symmetric tridiagonal matrix and the **first components** of its unit
/// eigenvectors, by LAPACK's `dstev` — exactly what Gauss quadrature needs: for the Jacobi
/// matrix T of a Lanczos run, nodes θ_j are the eigenvalues and weights are τ_j = (e₁ᵀq_j)²
/// (Golub & Welsch 1969).
/// - Complexity: O(m²) flops for m×m with vectors (m is the Lanczos depth, ≤ a few hundred).
public struct TridiagonalEigen: Sendable {
    /// Eigenvalues in ascending order.
    public let values: [Double]
    /// e₁ᵀ q_j, the first component of each unit eigenvector (sign as returned by LAPACK).
    public let firstComponents: [Double]
    /// The full eigenvectors as rows, when requested.
    public let vectors: Matrix<Double>?

    /// - Parameters:
    ///   - diagonal: α₁…α_m.
    ///   - offDiagonal: β₁…β_{m−1}.
    public init(diagonal: [Double], offDiagonal: [Double], keepVectors: Bool = false)
        throws(LinearAlgebraError)
    {
        let m = diagonal.count
        guard offDiagonal.count == max(0, m - 1) else {
            throw .shapeMismatch("tridiagonal of size \(m) needs \(max(0, m - 1)) off-diagonal entries, got \(offDiagonal.count)")
        }
        guard diagonal.allSatisfy(\.isFinite), offDiagonal.allSatisfy(\.isFinite) else {
            throw .nonFinite("tridiagonal entries passed to dstev")
        }
        if m == 0 {
            values = []; firstComponents = []; vectors = keepVectors ? Matrix(rows: 0, columns: 0) : nil
            return
        }
        let m32 = try cInt(m, "m")
        var d = diagonal
        var e = offDiagonal + [0]
        var z = [Double](repeating: 0, count: m * m)
        let info = d.withUnsafeMutableBufferPointer { dp in
            e.withUnsafeMutableBufferPointer { ep in
                z.withUnsafeMutableBufferPointer { zp in
                    LAPACKE_dstev(
                        LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "V")), m32, dp.baseAddress, ep.baseAddress,
                        zp.baseAddress, m32)
                }
            }
        }
        try checkInfo(info, routine: "dstev")
        values = d
        // Row-major Z: column j is eigenvector j, so its first component is z[0 * m + j].
        firstComponents = Array(z[0..<m])
        vectors = keepVectors ? try Matrix(rows: m, columns: m, storage: z).transposed() : nil
    }
}

/// Thin QR factorization of a tall matrix by LAPACK `dgeqrf` + `dorgqr`, in Double:
/// returns Q with orthonormal columns spanning the columns of A (m×n, m ≥ n).
/// - Complexity: O(m·n²) flops.
public func orthonormalColumns(_ a: Matrix<Double>) throws(LinearAlgebraError) -> Matrix<Double> {
    let m = a.rows, n = a.columns
    guard m >= n else {
        throw .shapeMismatch("thin QR needs rows ≥ columns, got \(m)×\(n)")
    }
    guard a.isFinite else { throw .nonFinite("matrix passed to dgeqrf") }
    if n == 0 { return a }
    let m32 = try cInt(m, "m"), n32 = try cInt(n, "n")
    var storage = a.storage
    var tau = [Double](repeating: 0, count: n)
    var info = storage.withUnsafeMutableBufferPointer { ap in
        tau.withUnsafeMutableBufferPointer { tp in
            LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, m32, n32, ap.baseAddress, n32, tp.baseAddress)
        }
    }
    try checkInfo(info, routine: "dgeqrf")
    info = storage.withUnsafeMutableBufferPointer { ap in
        tau.withUnsafeMutableBufferPointer { tp in
            LAPACKE_dorgqr(LAPACK_ROW_MAJOR, m32, n32, n32, ap.baseAddress, n32, tp.baseAddress)
        }
    }
    try checkInfo(info, routine: "dorgqr")
    return try Matrix(rows: m, columns: n, storage: storage)
}

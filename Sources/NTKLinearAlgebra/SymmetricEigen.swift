import CLAPACKE

/// Eigendecomposition A = Q Λ Qᵀ of a dense real symmetric matrix by LAPACK's
/// divide-and-conquer driver `dsyevd`, in Double.
///
/// Eigenvalues are in ascending order; `vectors` (when requested) holds the eigenvectors as
/// **rows** (row i is the unit eigenvector of `values[i]`).
/// - Complexity: O(n³) flops, O(n²) memory (about 2n² extra doubles with vectors).
public struct SymmetricEigen: Sendable {
    public let values: [Double]
    public let vectors: Matrix<Double>?

    /// Decomposes `matrix`, which must be square and finite; only its upper triangle (in
    /// row-major terms) is read.
    public init(_ matrix: Matrix<Double>, computeVectors: Bool = false) throws(LinearAlgebraError) {
        guard matrix.rows == matrix.columns else {
            throw .shapeMismatch("eigendecomposition needs a square matrix, got \(matrix.rows)×\(matrix.columns)")
        }
        guard matrix.isFinite else { throw .nonFinite("matrix passed to dsyevd") }
        let n = matrix.rows
        let n32 = try cInt(n, "n")
        if n == 0 {
            values = []
            vectors = computeVectors ? Matrix(rows: 0, columns: 0) : nil
            return
        }
        var a = matrix.storage
        var w = [Double](repeating: 0, count: n)
        // Row-major upper triangle is column-major lower triangle: A symmetric, so either way.
        let info = a.withUnsafeMutableBufferPointer { ap in
            w.withUnsafeMutableBufferPointer { wp in
                LAPACKE_dsyevd(
                    LAPACK_ROW_MAJOR, computeVectors ? CChar(UInt8(ascii: "V")) : CChar(UInt8(ascii: "N")),
                    CChar(UInt8(ascii: "U")), n32, ap.baseAddress, n32, wp.baseAddress)
            }
        }
        try checkInfo(info, routine: "dsyevd")
        values = w
        if computeVectors {
            // Row-major A holds eigenvectors in its columns; transpose to rows.
            vectors = try Matrix(rows: n, columns: n, storage: a).transposed()
        } else {
            vectors = nil
        }
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

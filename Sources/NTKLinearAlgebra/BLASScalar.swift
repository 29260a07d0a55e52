@_exported import RealModule

/// Whether a BLAS operand is used as stored or transposed.
public enum Transpose: Sendable, Hashable, CaseIterable {
    case none
    case transpose
}

/// A real scalar type with BLAS level-1/2/3 kernels (OpenBLAS), so that every algorithm in
/// NTKSpectra is written once, generic over `Float` and `Double`.
///
/// All matrix arguments are **row-major** (C order): element (i, j) of an operand with
/// leading dimension `ld` lives at `pointer[i * ld + j]`, the layout of `Matrix`, NumPy and
/// PyTorch. Sizes are checked on conversion to the C integer type (`cInt`).
public protocol BLASScalar: Real, BinaryFloatingPoint, Sendable, Codable
where RawSignificand: FixedWidthInteger {
    /// C ← α·op(A)·op(B) + β·C with op(A) m×k, op(B) k×n, C m×n.
    /// - Complexity: 2·m·n·k flops.
    static func gemm(
        _ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int,
        alpha: Self, a: UnsafePointer<Self>, lda: Int,
        b: UnsafePointer<Self>, ldb: Int,
        beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int
    ) throws(LinearAlgebraError)

    /// y ← α·op(A)·x + β·y with A m×n (as stored).
    static func gemv(
        _ trans: Transpose, m: Int, n: Int, alpha: Self, a: UnsafePointer<Self>, lda: Int,
        x: UnsafePointer<Self>, incx: Int, beta: Self, y: UnsafeMutablePointer<Self>, incy: Int
    ) throws(LinearAlgebraError)

    /// C ← α·A·Aᵀ + β·C (trans = .none, A n×k) or α·Aᵀ·A + β·C (trans = .transpose, A k×n);
    /// only the upper triangle of C (n×n) is referenced and written.
    static func syrk(
        _ trans: Transpose, n: Int, k: Int, alpha: Self, a: UnsafePointer<Self>, lda: Int,
        beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int
    ) throws(LinearAlgebraError)

    /// y ← α·x + y.
    static func axpy(
        n: Int, alpha: Self, x: UnsafePointer<Self>, incx: Int, y: UnsafeMutablePointer<Self>,
        incy: Int) throws(LinearAlgebraError)

    /// xᵀy.
    static func dot(
        n: Int, x: UnsafePointer<Self>, incx: Int, y: UnsafePointer<Self>, incy: Int
    ) throws(LinearAlgebraError) -> Self

    /// ‖x‖₂, computed without overflow.
    static func nrm2(n: Int, x: UnsafePointer<Self>, incx: Int) throws(LinearAlgebraError) -> Self

    /// x ← α·x.
    static func scal(n: Int, alpha: Self, x: UnsafeMutablePointer<Self>, incx: Int)
        throws(LinearAlgebraError)

    /// A short name for messages and JSON ("float32" or "float64").
    static var precisionName: String { get }
}

extension Transpose {
    @usableFromInline
    func isTransposed() -> Bool { self == .transpose }
}

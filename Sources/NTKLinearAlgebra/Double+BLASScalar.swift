import COpenBLAS
import RealModule

extension Double: BLASScalar {
    public static var precisionName: String { "float64" }

    @inlinable
    public static func gemm(
        _ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int,
        alpha: Double, a: UnsafePointer<Double>, lda: Int,
        b: UnsafePointer<Double>, ldb: Int,
        beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int
    ) throws(LinearAlgebraError) {
        let m32 = try cInt(m, "m"), n32 = try cInt(n, "n"), k32 = try cInt(k, "k")
        let lda32 = try checkedLeading(lda, columns: transA == .none ? k : m, "lda")
        let ldb32 = try checkedLeading(ldb, columns: transB == .none ? n : k, "ldb")
        let ldc32 = try checkedLeading(ldc, columns: n, "ldc")
        if m == 0 || n == 0 { return }
        cblas_dgemm(
            CblasRowMajor, transA.cblas, transB.cblas, m32, n32, k32,
            alpha, a, lda32, b, ldb32, beta, c, ldc32)
    }

    @inlinable
    public static func gemv(
        _ trans: Transpose, m: Int, n: Int, alpha: Double, a: UnsafePointer<Double>, lda: Int,
        x: UnsafePointer<Double>, incx: Int, beta: Double, y: UnsafeMutablePointer<Double>, incy: Int
    ) throws(LinearAlgebraError) {
        let m32 = try cInt(m, "m"), n32 = try cInt(n, "n")
        let lda32 = try checkedLeading(lda, columns: n, "lda")
        let incx32 = try checkedIncrement(incx, "incx"), incy32 = try checkedIncrement(incy, "incy")
        if m == 0 || n == 0 { return }
        cblas_dgemv(CblasRowMajor, trans.cblas, m32, n32, alpha, a, lda32, x, incx32, beta, y, incy32)
    }

    @inlinable
    public static func syrk(
        _ trans: Transpose, n: Int, k: Int, alpha: Double, a: UnsafePointer<Double>, lda: Int,
        beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int
    ) throws(LinearAlgebraError) {
        let n32 = try cInt(n, "n"), k32 = try cInt(k, "k")
        let lda32 = try checkedLeading(lda, columns: trans == .none ? k : n, "lda")
        let ldc32 = try checkedLeading(ldc, columns: n, "ldc")
        if n == 0 { return }
        cblas_dsyrk(CblasRowMajor, CblasUpper, trans.cblas, n32, k32, alpha, a, lda32, beta, c, ldc32)
    }

    @inlinable
    public static func axpy(
        n: Int, alpha: Double, x: UnsafePointer<Double>, incx: Int, y: UnsafeMutablePointer<Double>,
        incy: Int
    ) throws(LinearAlgebraError) {
        let n32 = try cInt(n, "n")
        let incx32 = try checkedIncrement(incx, "incx"), incy32 = try checkedIncrement(incy, "incy")
        cblas_daxpy(n32, alpha, x, incx32, y, incy32)
    }

    @inlinable
    public static func dot(
        n: Int, x: UnsafePointer<Double>, incx: Int, y: UnsafePointer<Double>, incy: Int
    ) throws(LinearAlgebraError) -> Double {
        let n32 = try cInt(n, "n")
        let incx32 = try checkedIncrement(incx, "incx"), incy32 = try checkedIncrement(incy, "incy")
        return cblas_ddot(n32, x, incx32, y, incy32)
    }

    @inlinable
    public static func nrm2(n: Int, x: UnsafePointer<Double>, incx: Int) throws(LinearAlgebraError) -> Double {
        let n32 = try cInt(n, "n")
        let incx32 = try checkedIncrement(incx, "incx")
        return cblas_dnrm2(n32, x, incx32)
    }

    @inlinable
    public static func scal(n: Int, alpha: Double, x: UnsafeMutablePointer<Double>, incx: Int)
        throws(LinearAlgebraError)
    {
        let n32 = try cInt(n, "n")
        let incx32 = try checkedIncrement(incx, "incx")
        cblas_dscal(n32, alpha, x, incx32)
    }
}

import COpenBLAS
import RealModule

extension Float: BLASScalar {
    public static var precisionName: String { "float32" }

    @inlinable
    public static func gemm(
        _ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int,
        alpha: Float, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) throws(LinearAlgebraError) {
        let m32 = try cInt(m, "m"), n32 = try cInt(n, "n"), k32 = try cInt(k, "k")
        let lda32 = try checkedLeading(lda, columns: transA == .none ? k : m, "lda")
        let ldb32 = try checkedLeading(ldb, columns: transB == .none ? n : k, "ldb")
        let ldc32 = try checkedLeading(ldc, columns: n, "ldc")
        if m == 0 || n == 0 { return }
        cblas_sgemm(
            CblasRowMajor, transA.cblas, transB.cblas, m32, n32, k32,
            alpha, a, lda32, b, ldb32, beta, c, ldc32)
    }

    @inlinable
    public static func gemv(
        _ trans: Transpose, m: Int, n: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
        x: UnsafePointer<Float>, incx: Int, beta: Float, y: UnsafeMutablePointer<Float>, incy: Int
    ) throws(LinearAlgebraError) {
        let m32 = try cInt(m, "m"), n32 = try cInt(n, "n")
        let lda32 = try checkedLeading(lda, columns: n, "lda")
        let incx32 = try checkedIncrement(incx, "incx"), incy32 = try checkedIncrement(incy, "incy")
        if m == 0 || n == 0 { return }
        cblas_sgemv(CblasRowMajor, trans.cblas, m32, n32, alpha, a, lda32, x, incx32, beta, y, incy32)
    }

    @inlinable
    public static func syrk(
        _ trans: Transpose, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) throws(LinearAlgebraError) {
        let n32 = try cInt(n, "n"), k32 = try cInt(k, "k")
        let lda32 = try checkedLeading(lda, columns: trans == .none ? k : n, "lda")
        let ldc32 = try checkedLeading(ldc, columns: n, "ldc")
        if n == 0 { return }
        cblas_ssyrk(CblasRowMajor, CblasUpper, trans.cblas, n32, k32, alpha, a, lda32, beta, c, ldc32)
    }

    @inlinable
    public static func axpy(
        n: Int, alpha: Float, x: UnsafePointer<Float>, incx: Int, y: UnsafeMutablePointer<Float>,
        incy: Int
    ) throws(LinearAlgebraError) {
        let n32 = try cInt(n, "n")
        let incx32 = try checkedIncrement(incx, "incx"), incy32 = try checkedIncrement(incy, "incy")
        cblas_saxpy(n32, alpha, x, incx32, y, incy32)
    }

    @inlinable
    public static func dot(
        n: Int, x: UnsafePointer<Float>, incx: Int, y: UnsafePointer<Float>, incy: Int
    ) throws(LinearAlgebraError) -> Float {
        let n32 = try cInt(n, "n")
        let incx32 = try checkedIncrement(incx, "incx"), incy32 = try checkedIncrement(incy, "incy")
        return cblas_sdot(n32, x, incx32, y, incy32)
    }

    @inlinable
    public static func nrm2(n: Int, x: UnsafePointer<Float>, incx: Int) throws(LinearAlgebraError) -> Float {
        let n32 = try cInt(n, "n")
        let incx32 = try checkedIncrement(incx, "incx")
        return cblas_snrm2(n32, x, incx32)
    }

    @inlinable
    public static func scal(n: Int, alpha: Float, x: UnsafeMutablePointer<Float>, incx: Int)
        throws(LinearAlgebraError)
    {
        let n32 = try cInt(n, "n")
        let incx32 = try checkedIncrement(incx, "incx")
        cblas_sscal(n32, alpha, x, incx32)
    }
}

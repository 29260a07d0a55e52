import NTKLinearAlgebra

/// Small dense helpers on row blocks (s × N matrices whose rows are vectors), all by BLAS.
enum BlockKernels {
    /// Row-wise dot products: out[i] = a_i · b_i.
    static func rowDots(_ a: Matrix<Double>, _ b: Matrix<Double>) throws -> [Double] {
        let n = a.columns
        var out = [Double](repeating: 0, count: a.rows)
        try a.storage.withUnsafeBufferPointer { x in
            try b.storage.withUnsafeBufferPointer { y in
                for i in 0..<a.rows {
                    out[i] = try Double.dot(n: n, x: x.baseAddress! + i * n, incx: 1, y: y.baseAddress! + i * n, incy: 1)
                }
            }
        }
        return out
    }

    /// Rows of `block` replaced by an orthonormal basis of their span (thin QR of the
    /// transpose; when the rows are dependent the extra rows are still orthonormal).
    static func orthonormalRows(_ block: Matrix<Double>) throws -> Matrix<Double> {
        try orthonormalColumns(block.transposed()).transposed()
    }
}

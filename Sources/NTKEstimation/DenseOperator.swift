import NTKLinearAlgebra

/// A dense symmetric matrix as an operator: one block application is one GEMM,
/// Y = X·A (A symmetric, so X·A = (A·Xᵀ)ᵀ), or one GEMV per vector for blocks of one or two.
/// - Complexity: 2·s·N² flops per block of width s.
public final class DenseOperator: SymmetricOperator {
    public let matrix: Matrix<Double>

    /// Wraps `matrix`, which must be square and finite (symmetry is the caller's promise; it
    /// is checked to a relative tolerance of 1e-10 · max|A_ij|).
    public init(_ matrix: Matrix<Double>) throws {
        guard matrix.rows == matrix.columns else {
            throw EstimationError.dimensionMismatch(
                what: "dense operator matrix (\(matrix.rows) rows)", got: matrix.columns, expected: matrix.rows)
        }
        guard matrix.isFinite else { throw EstimationError.nonFinite(what: "dense operator matrix") }
        let n = matrix.rows
        var scale = 0.0
        for x in matrix.storage { scale = max(scale, abs(x)) }
        for i in 0..<n {
            for j in (i + 1)..<max(i + 1, n) where abs(matrix[i, j] - matrix[j, i]) > 1e-10 * scale {
                throw EstimationError.invalidConfiguration(
                    name: "dense operator matrix[\(i), \(j)]", value: "\(matrix[i, j]) vs \(matrix[j, i])",
                    expected: "a symmetric matrix")
            }
        }
        self.matrix = matrix
    }

    public var dimension: Int { matrix.rows }

    /// Blocks of at most this many vectors are applied one GEMV per vector.
    static let vectorwiseWidth = 2

    public func apply(_ input: Matrix<Double>, into output: inout Matrix<Double>) throws {
        try checkBlock(input, dimension: dimension, name: "dense operator input")
        if output.rows != input.rows || output.columns != input.columns {
            output = Matrix(rows: input.rows, columns: input.columns)
        }
        let n = dimension, s = input.rows
        if s == 0 || n == 0 { return }
        if s <= Self.vectorwiseWidth {
            // One GEMV per vector: it streams A once, where a thin GEMM first packs all of A
            // (measured at N = 10240: ≈ 100 ms per single-vector GEMM, ≈ 30 ms per GEMV).
            try input.storage.withUnsafeBufferPointer { x in
                try matrix.storage.withUnsafeBufferPointer { a in
                    try output.storage.withUnsafeMutableBufferPointer { y in
                        for t in 0..<s {
                            try Double.gemv(.none, m: n, n: n, alpha: 1, a: a.baseAddress!, lda: n,
                                            x: x.baseAddress! + t * n, incx: 1, beta: 0, y: y.baseAddress! + t * n, incy: 1)
                        }
                    }
                }
            }
            return
        }
        try input.storage.withUnsafeBufferPointer { x in
            try matrix.storage.withUnsafeBufferPointer { a in
                try output.storage.withUnsafeMutableBufferPointer { y in
                    try Double.gemm(
                        .none, .none, m: s, n: n, k: n, alpha: 1, a: x.baseAddress!, lda: n,
                        b: a.baseAddress!, ldb: n, beta: 0, c: y.baseAddress!, ldc: n)
                }
            }
        }
    }
}

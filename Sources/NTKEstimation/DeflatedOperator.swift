import NTKLinearAlgebra

/// The deflated operator P A P with P = I − QᵀQ, for a block Q (r × N) of orthonormal
/// rows (typically converged top Ritz vectors). On range(P) it acts as A restricted to the
/// orthogonal complement of span(Q); on span(Q) it is zero.
///
/// Deflated stochastic trace estimation: tr f(A) = Σ_i f(θ_i) + tr_{range P} f(PAP) when
/// the rows of Q are eigenvectors of A (Chen & Hallman 2023, arXiv:2212.11339; Gambhir,
/// Stathopoulos & Orginos 2017).
/// - Complexity: one base application plus 8·s·r·N flops (two projections) per block.
public final class DeflatedOperator: SymmetricOperator {
    public let base: any SymmetricOperator
    /// r × N, orthonormal rows.
    public let basis: Matrix<Double>
    private var coefficients = Matrix<Double>(rows: 0, columns: 0)
    private var projected = Matrix<Double>(rows: 0, columns: 0)

    /// - Parameter basis: r × N with orthonormal rows (checked to 1e-8 in each Gram entry).
    public init(_ base: any SymmetricOperator, basis: Matrix<Double>) throws {
        guard basis.columns == base.dimension else {
            throw EstimationError.dimensionMismatch(
                what: "deflation basis", got: basis.columns, expected: base.dimension)
        }
        guard basis.isFinite else { throw EstimationError.nonFinite(what: "deflation basis") }
        let gram = try basis.multiplied(by: basis, transposeOther: true)
        for i in 0..<basis.rows {
            for j in 0..<basis.rows {
                let expected = i == j ? 1.0 : 0.0
                guard abs(gram[i, j] - expected) <= 1e-8 else {
                    throw EstimationError.invalidConfiguration(
                        name: "deflation basis Gram entry (\(i), \(j))", value: "\(gram[i, j])",
                        expected: "orthonormal rows (\(expected) ± 1e-8)")
                }
            }
        }
        self.base = base
        self.basis = basis
    }

    public var dimension: Int { base.dimension }
    /// r, the number of deflated directions.
    public var rank: Int { basis.rows }

    /// X ← X − (X Qᵀ) Q, i.e. every row projected onto the complement of span(Q).
    public func project(_ block: inout Matrix<Double>) throws {
        try checkBlock(block, dimension: dimension, name: "deflated operator block")
        let s = block.rows, n = dimension, r = basis.rows
        if s == 0 || r == 0 { return }
        if coefficients.rows != s || coefficients.columns != r {
            coefficients = Matrix(rows: s, columns: r)
        }
        try block.storage.withUnsafeMutableBufferPointer { x in
            try basis.storage.withUnsafeBufferPointer { q in
                try coefficients.storage.withUnsafeMutableBufferPointer { c in
                    try Double.gemm(.none, .transpose, m: s, n: r, k: n, alpha: 1, a: x.baseAddress!, lda: n,
                                    b: q.baseAddress!, ldb: n, beta: 0, c: c.baseAddress!, ldc: r)
                    try Double.gemm(.none, .none, m: s, n: n, k: r, alpha: -1, a: c.baseAddress!, lda: r,
                                    b: q.baseAddress!, ldb: n, beta: 1, c: x.baseAddress!, ldc: n)
                }
            }
        }
    }

    public func apply(_ input: Matrix<Double>, into output: inout Matrix<Double>) throws {
        try checkBlock(input, dimension: dimension, name: "deflated operator input")
        if projected.rows != input.rows || projected.columns != input.columns {
            projected = Matrix(rows: input.rows, columns: input.columns)
        }
        projected.storage.withUnsafeMutableBufferPointer { p in
            input.storage.withUnsafeBufferPointer { x in
                if let pb = p.baseAddress, let xb = x.baseAddress { pb.update(from: xb, count: x.count) }
            }
        }
        try project(&projected)
        try base.apply(projected, into: &output)
        try project(&output)
    }
}

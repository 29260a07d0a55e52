import NTKLinearAlgebra

/// An operator defined by a dimension and a block-apply closure
/// `(input s×N, inout output s×N) throws -> Void`.
public final class ClosureOperator: SymmetricOperator {
    public let dimension: Int
    private let body: (Matrix<Double>, inout Matrix<Double>) throws -> Void

    public init(dimension: Int, _ body: @escaping (Matrix<Double>, inout Matrix<Double>) throws -> Void) throws {
        try require(dimension > 0, "ClosureOperator.dimension", dimension, "a positive dimension")
        self.dimension = dimension
        self.body = body
    }

    public func apply(_ input: Matrix<Double>, into output: inout Matrix<Double>) throws {
        try checkBlock(input, dimension: dimension, name: "closure operator input")
        if output.rows != input.rows || output.columns != input.columns {
            output = Matrix(rows: input.rows, columns: input.columns)
        }
        try body(input, &output)
    }
}

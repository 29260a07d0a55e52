import NTKLinearAlgebra

/// Wraps an operator and counts every application (vectors, blocks, seconds); also checks
/// that the wrapped operator's output is finite. Estimators wrap the operator they are given
/// in one of these, so every result can report its cost.
public final class CountingOperator: SymmetricOperator {
    public let base: any SymmetricOperator
    /// Everything spent through this wrapper so far.
    public private(set) var cost = OperatorCost()

    public init(_ base: any SymmetricOperator) { self.base = base }

    public var dimension: Int { base.dimension }

    public func apply(_ input: Matrix<Double>, into output: inout Matrix<Double>) throws {
        try checkBlock(input, dimension: dimension, name: "operator input block")
        let clock = ContinuousClock()
        let start = clock.now
        try base.apply(input, into: &output)
        cost.seconds += (clock.now - start).seconds
        cost.applications += input.rows
        cost.blocks += 1
        guard output.rows == input.rows, output.columns == input.columns else {
            throw EstimationError.dimensionMismatch(
                what: "operator output block (\(output.rows) rows)", got: output.columns, expected: input.columns)
        }
        guard output.isFinite else { throw EstimationError.nonFinite(what: "operator output block") }
    }
}

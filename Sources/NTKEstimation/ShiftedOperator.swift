import NTKLinearAlgebra

/// A + σI for a base operator A.
/// - Complexity: one base application plus N·s flops per block.
public final class ShiftedOperator: SymmetricOperator {
    public let base: any SymmetricOperator
    public let shift: Double

    public init(_ base: any SymmetricOperator, shift: Double) throws {
        try require(shift.isFinite, "ShiftedOperator.shift", shift, "a finite shift")
        self.base = base
        self.shift = shift
    }

    public var dimension: Int { base.dimension }

    public func apply(_ input: Matrix<Double>, into output: inout Matrix<Double>) throws {
        try base.apply(input, into: &output)
        let count = input.storage.count
        if count == 0 || shift == 0 { return }
        try input.storage.withUnsafeBufferPointer { x in
            try output.storage.withUnsafeMutableBufferPointer { y in
                try Double.axpy(n: count, alpha: shift, x: x.baseAddress!, incx: 1, y: y.baseAddress!, incy: 1)
            }
        }
    }
}

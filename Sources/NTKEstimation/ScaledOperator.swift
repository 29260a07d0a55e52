import NTKLinearAlgebra

/// c·A for a base operator A (e.g. trace normalization A / tr A).
/// - Complexity: one base application plus N·s flops per block.
public final class ScaledOperator: SymmetricOperator {
    public let base: any SymmetricOperator
    public let scale: Double

    public init(_ base: any SymmetricOperator, scale: Double) throws {
        try require(scale.isFinite, "ScaledOperator.scale", scale, "a finite scale")
        self.base = base
        self.scale = scale
    }

    public var dimension: Int { base.dimension }

    public func apply(_ input: Matrix<Double>, into output: inout Matrix<Double>) throws {
        try base.apply(input, into: &output)
        let count = output.storage.count
        if count == 0 || scale == 1 { return }
        try output.storage.withUnsafeMutableBufferPointer { y in
            try Double.scal(n: count, alpha: scale, x: y.baseAddress!, incx: 1)
        }
    }
}

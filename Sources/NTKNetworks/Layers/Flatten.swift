import NTKLinearAlgebra

/// Flattens each example to a vector, like PyTorch's `nn.Flatten()` (start_dim 1). The
/// memory layout is unchanged (C order), so every pass is a copy.
public struct Flatten<Scalar: BLASScalar>: ElementCopyLayer {
    public let inputShape: [Int]
    public let outputShape: [Int]

    public init(inputShape: [Int]) {
        self.inputShape = inputShape
        self.outputShape = [inputShape.reduce(1, *)]
    }

    public func converted<Other: BLASScalar>(to: Other.Type) throws -> any Layer<Other> {
        Flatten<Other>(inputShape: inputShape)
    }
}


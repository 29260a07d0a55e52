import NTKLinearAlgebra

/// Dropout in evaluation mode, like PyTorch's `nn.Dropout(p)` after `model.eval()`: the
/// identity (the NTK is taken in evaluation mode; no units are dropped and nothing is
/// rescaled). `p` is kept for the spec and checked to lie in [0, 1).
/// - Complexity: one copy per pass.
public struct Dropout<Scalar: BLASScalar>: ElementCopyLayer {
    public let inputShape: [Int]
    /// The drop probability of training mode (unused in evaluation).
    public let probability: Double

    /// - Throws: `NetworkError.invalidLayer` naming `p` if it is not in [0, 1).
    public init(inputShape: [Int], probability: Double = 0.5) throws {
        guard probability >= 0, probability < 1 else {
            throw NetworkError.invalidLayer(layer: "dropout", field: "p", message: "got \(probability), expected a probability in [0, 1)")
        }
        self.inputShape = inputShape
        self.probability = probability
    }

    public var outputShape: [Int] { inputShape }

    public func converted<Other: BLASScalar>(to: Other.Type) throws -> any Layer<Other> {
        try Dropout<Other>(inputShape: inputShape, probability: probability)
    }
}


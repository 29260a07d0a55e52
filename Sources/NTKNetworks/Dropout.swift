import NTKLinearAlgebra

/// Dropout in evaluation mode, like PyTorch's `nn.Dropout(p)` after `model.eval()`: the
/// identity (the NTK is taken in evaluation mode; no units are dropped and nothing is
/// rescaled). `p` is kept for the spec and checked to lie in [0, 1).
/// - Complexity: one copy per pass.
public struct Dropout<Scalar: BLASScalar>: ParameterFreeLayer {
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

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(
        parameters: UnsafePointer<Scalar>, input: UnsafePointer<Scalar>, batch: Int,
        output: UnsafeMutablePointer<Scalar>, saved: UnsafeMutablePointer<Scalar>
    ) {
        output.update(from: input, count: batch * inputSize)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func jvp(
        _ state: LayerState<Scalar>, parameterTangents: UnsafePointer<Scalar>?, parameterStride: Int,
        inputTangents: UnsafePointer<Scalar>?, block s: Int,
        outputTangents: UnsafeMutablePointer<Scalar>, scratch: UnsafeMutablePointer<Scalar>
    ) {
        let count = state.batch * s * inputSize
        if let inputTangents {
            outputTangents.update(from: inputTangents, count: count)
        } else {
            outputTangents.update(repeating: 0, count: count)
        }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func vjp(
        _ state: LayerState<Scalar>, outputCotangents: UnsafePointer<Scalar>, block s: Int,
        parameterCotangents: UnsafeMutablePointer<Scalar>?, parameterStride: Int,
        inputCotangents: UnsafeMutablePointer<Scalar>?, scratch: UnsafeMutablePointer<Scalar>
    ) {
        inputCotangents?.update(from: outputCotangents, count: state.batch * s * inputSize)
    }
}

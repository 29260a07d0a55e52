import NTKLinearAlgebra

/// Flattens each example to a vector, like PyTorch's `nn.Flatten()` (start_dim 1). The
/// memory layout is unchanged (C order), so every pass is a copy.
public struct Flatten<Scalar: BLASScalar>: ParameterFreeLayer {
    public let inputShape: [Int]
    public let outputShape: [Int]

    public init(inputShape: [Int]) {
        self.inputShape = inputShape
        self.outputShape = [inputShape.reduce(1, *)]
    }

    public func converted<Other: BLASScalar>(to: Other.Type) throws -> any Layer<Other> {
        Flatten<Other>(inputShape: inputShape)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(
        parameters: UnsafePointer<Scalar>, input: UnsafePointer<Scalar>, batch: Int,
        output: UnsafeMutablePointer<Scalar>, saved: UnsafeMutablePointer<Scalar>
    ) throws {
        output.update(from: input, count: batch * inputSize)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func jvp(
        _ state: LayerState<Scalar>, parameterTangents: UnsafePointer<Scalar>?, parameterStride: Int,
        inputTangents: UnsafePointer<Scalar>?, block s: Int,
        outputTangents: UnsafeMutablePointer<Scalar>, scratch: UnsafeMutablePointer<Scalar>
    ) throws {
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
    ) throws {
        inputCotangents?.update(from: outputCotangents, count: state.batch * s * inputSize)
    }
}

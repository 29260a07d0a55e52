import NTKLinearAlgebra

/// Global average pooling [C, H, W] → [C]: y[c] = (1/(H·W)) Σ_{h,w} x[c, h, w], the PyTorch
/// `nn.AdaptiveAvgPool2d(1)` followed by `nn.Flatten()` (the usual ResNet head).
/// - Complexity: b·s·C·H·W additions per pass.
public struct GlobalAvgPool<Scalar: BLASScalar>: ParameterFreeLayer {
    public let inputShape: [Int]
    public let outputShape: [Int]

    /// - Throws: `NetworkError.invalidLayer` if the input is not [C, H, W].
    public init(inputShape: [Int]) throws {
        guard inputShape.count == 3, inputShape.allSatisfy({ $0 > 0 }) else {
            throw NetworkError.invalidLayer(
                layer: "globalavgpool", field: "input_shape", message: "got \(inputShape), expected [C, H, W] with positive sizes")
        }
        self.inputShape = inputShape
        self.outputShape = [inputShape[0]]
    }

    var channels: Int { inputShape[0] }
    var planeSize: Int { inputShape[1] * inputShape[2] }

    public func converted<Other: BLASScalar>(to: Other.Type) throws -> any Layer<Other> {
        try GlobalAvgPool<Other>(inputShape: inputShape)
    }

    func pool(_ x: UnsafePointer<Scalar>, into y: UnsafeMutablePointer<Scalar>, planes: Int) {
        let n = planeSize, scale = 1 / Scalar(n)
        for p in 0..<planes {
            let src = x + p * n
            var sum: Scalar = 0
            for j in 0..<n { sum += src[j] }
            y[p] = sum * scale
        }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(
        parameters: UnsafePointer<Scalar>, input: UnsafePointer<Scalar>, batch: Int,
        output: UnsafeMutablePointer<Scalar>, saved: UnsafeMutablePointer<Scalar>
    ) throws {
        pool(input, into: output, planes: batch * channels)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func jvp(
        _ state: LayerState<Scalar>, parameterTangents: UnsafePointer<Scalar>?, parameterStride: Int,
        inputTangents: UnsafePointer<Scalar>?, block s: Int,
        outputTangents: UnsafeMutablePointer<Scalar>, scratch: UnsafeMutablePointer<Scalar>
    ) throws {
        guard let inputTangents else {
            outputTangents.update(repeating: 0, count: state.batch * s * channels)
            return
        }
        pool(inputTangents, into: outputTangents, planes: state.batch * s * channels)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func vjp(
        _ state: LayerState<Scalar>, outputCotangents: UnsafePointer<Scalar>, block s: Int,
        parameterCotangents: UnsafeMutablePointer<Scalar>?, parameterStride: Int,
        inputCotangents: UnsafeMutablePointer<Scalar>?, scratch: UnsafeMutablePointer<Scalar>
    ) throws {
        guard let inputCotangents else { return }
        let n = planeSize, scale = 1 / Scalar(n)
        for p in 0..<(state.batch * s * channels) {
            (inputCotangents + p * n).update(repeating: outputCotangents[p] * scale, count: n)
        }
    }
}

import NTKLinearAlgebra

/// Average pooling on NCHW inputs, like PyTorch's `nn.AvgPool2d(kernel_size, stride)` with
/// no padding and floor mode: y[c, oy, ox] = (1/(kh·kw)) Σ_{ky,kx} x[c, oy·s_h + ky, ox·s_w + kx].
///
/// The layer is linear with no parameters, so the JVP applies the same map to every input
/// tangent and the VJP spreads each cotangent evenly over its window (the adjoint).
/// - Complexity: b·s·C·H_out·W_out·kh·kw additions per pass.
public struct AvgPool2d<Scalar: BLASScalar>: ParameterFreeLayer {
    public let channels: Int
    public let inputHeight: Int
    public let inputWidth: Int
    public let kernelSize: (height: Int, width: Int)
    public let stride: (height: Int, width: Int)
    public let outputHeight: Int
    public let outputWidth: Int
    public let inputShape: [Int]
    public let outputShape: [Int]

    /// - Parameter stride: defaults to the kernel size, as in PyTorch.
    /// - Throws: `NetworkError.invalidLayer` naming `kernel_size` or `stride`.
    public init(inputShape: [Int], kernelSize: (Int, Int), stride: (Int, Int)? = nil) throws {
        func fail(_ field: String, _ message: String) -> NetworkError {
            .invalidLayer(layer: "avgpool2d", field: field, message: message)
        }
        guard inputShape.count == 3, inputShape.allSatisfy({ $0 > 0 }) else {
            throw fail("input_shape", "got \(inputShape), expected [C, H, W] with positive sizes")
        }
        let stride = stride ?? kernelSize
        guard kernelSize.0 > 0, kernelSize.1 > 0, kernelSize.0 <= inputShape[1], kernelSize.1 <= inputShape[2] else {
            throw fail("kernel_size", "got \(kernelSize), expected positive sizes at most the input \(inputShape[1])×\(inputShape[2])")
        }
        guard stride.0 > 0, stride.1 > 0 else { throw fail("stride", "got \(stride), expected positive strides") }
        channels = inputShape[0]
        inputHeight = inputShape[1]
        inputWidth = inputShape[2]
        self.kernelSize = kernelSize
        self.stride = stride
        outputHeight = (inputHeight - kernelSize.0) / stride.0 + 1
        outputWidth = (inputWidth - kernelSize.1) / stride.1 + 1
        self.inputShape = inputShape
        self.outputShape = [channels, outputHeight, outputWidth]
    }


    public func converted<Other: BLASScalar>(to: Other.Type) throws -> any Layer<Other> {
        try AvgPool2d<Other>(
            inputShape: inputShape, kernelSize: (kernelSize.height, kernelSize.width), stride: (stride.height, stride.width))
    }

    /// Pools `images` consecutive [C, H, W] images.
    func pool(_ x: UnsafePointer<Scalar>, into y: UnsafeMutablePointer<Scalar>, images: Int) {
        let (kh, kw) = kernelSize, (sh, sw) = stride
        let H = inputHeight, W = inputWidth, Ho = outputHeight, Wo = outputWidth
        let scale = 1 / Scalar(kh * kw)
        for plane in 0..<(images * channels) {
            let src = x + plane * H * W, dst = y + plane * Ho * Wo
            for oy in 0..<Ho {
                for ox in 0..<Wo {
                    var sum: Scalar = 0
                    for ky in 0..<kh {
                        let line = src + (oy * sh + ky) * W + ox * sw
                        for kx in 0..<kw { sum += line[kx] }
                    }
                    dst[oy * Wo + ox] = sum * scale
                }
            }
        }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(
        parameters: UnsafePointer<Scalar>, input: UnsafePointer<Scalar>, batch: Int,
        output: UnsafeMutablePointer<Scalar>, saved: UnsafeMutablePointer<Scalar>
    ) throws {
        pool(input, into: output, images: batch)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func jvp(
        _ state: LayerState<Scalar>, parameterTangents: UnsafePointer<Scalar>?, parameterStride: Int,
        inputTangents: UnsafePointer<Scalar>?, block s: Int,
        outputTangents: UnsafeMutablePointer<Scalar>, scratch: UnsafeMutablePointer<Scalar>
    ) throws {
        guard let inputTangents else {
            outputTangents.update(repeating: 0, count: state.batch * s * outputSize)
            return
        }
        pool(inputTangents, into: outputTangents, images: state.batch * s)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func vjp(
        _ state: LayerState<Scalar>, outputCotangents: UnsafePointer<Scalar>, block s: Int,
        parameterCotangents: UnsafeMutablePointer<Scalar>?, parameterStride: Int,
        inputCotangents: UnsafeMutablePointer<Scalar>?, scratch: UnsafeMutablePointer<Scalar>
    ) throws {
        guard let inputCotangents else { return }
        let (kh, kw) = kernelSize, (sh, sw) = stride
        let H = inputHeight, W = inputWidth, Ho = outputHeight, Wo = outputWidth
        let scale = 1 / Scalar(kh * kw)
        inputCotangents.update(repeating: 0, count: state.batch * s * inputSize)
        for plane in 0..<(state.batch * s * channels) {
            let src = outputCotangents + plane * Ho * Wo, dst = inputCotangents + plane * H * W
            for oy in 0..<Ho {
                for ox in 0..<Wo {
                    let value = src[oy * Wo + ox] * scale
                    for ky in 0..<kh {
                        let line = dst + (oy * sh + ky) * W + ox * sw
                        for kx in 0..<kw { line[kx] += value }
                    }
                }
            }
        }
    }
}

import NTKLinearAlgebra

/// Max pooling on NCHW inputs, like PyTorch's `nn.MaxPool2d(kernel_size, stride, padding)`
/// with dilation 1 and floor mode: y[c, oy, ox] = max over the window rows
/// oy·s_h − p_h … + k_h − 1 and columns ox·s_w − p_w … + k_w − 1 of x[c], the padding counting
/// as −∞ (so it never wins; PyTorch requires p ≤ k/2, which keeps a real element in every window).
///
/// The maximum is picked exactly as PyTorch's CPU kernel does: the window's in-range elements
/// are visited in row-major order starting from −∞ with the first element's index, and an
/// element replaces the current maximum if it is strictly greater or NaN — so among ties the
/// first in row-major order wins, and a NaN wins (the last NaN, if several).
///
/// The derivative is routed through that argmax (PyTorch's convention for ties): with a(o)
/// the input position chosen for output o (saved by `forward` as its index in the plane),
/// ẏ[o] = ẋ[a(o)] and x̄[p] = Σ_{o: a(o) = p} ȳ[o].
/// - Complexity: forward b·C·H_out·W_out·k_h·k_w comparisons; JVP and VJP b·s·C·H_out·W_out.
public struct MaxPool2d<Scalar: BLASScalar>: ParameterFreeLayer {
    public let channels: Int
    public let inputHeight: Int
    public let inputWidth: Int
    public let kernelSize: (height: Int, width: Int)
    public let stride: (height: Int, width: Int)
    public let padding: (height: Int, width: Int)
    public let outputHeight: Int
    public let outputWidth: Int
    public let inputShape: [Int]
    public let outputShape: [Int]

    /// The largest plane whose indices a `Float` holds exactly (2²⁴), since the argmax is
    /// saved in the activation buffers as `Scalar`.
    public static var maximumPlaneSize: Int { 1 << 24 }

    /// - Parameters:
    ///   - stride: defaults to the kernel size, as in PyTorch.
    ///   - dilation, ceilMode: only PyTorch's defaults (1, false) are supported.
    /// - Throws: `NetworkError.invalidLayer` naming `input_shape`, `kernel_size`, `stride`,
    ///   `padding`, `dilation` or `ceil_mode`.
    public init(
        inputShape: [Int], kernelSize: (Int, Int), stride: (Int, Int)? = nil, padding: (Int, Int) = (0, 0),
        dilation: (Int, Int) = (1, 1), ceilMode: Bool = false
    ) throws {
        func fail(_ field: String, _ message: String) -> NetworkError {
            .invalidLayer(layer: "maxpool2d", field: field, message: message)
        }
        guard inputShape.count == 3, inputShape.allSatisfy({ $0 > 0 }), SizeLimit.product(inputShape) != nil else {
            throw fail("input_shape", "got \(inputShape), expected [C, H, W] with positive sizes")
        }
        guard dilation == (1, 1) else { throw fail("dilation", "got \(dilation), only dilation 1 is supported") }
        guard !ceilMode else { throw fail("ceil_mode", "got true, only ceil_mode false is supported") }
        let stride = stride ?? kernelSize
        guard kernelSize.0 > 0, kernelSize.1 > 0 else { throw fail("kernel_size", "got \(kernelSize), expected positive sizes") }
        guard stride.0 > 0, stride.1 > 0 else { throw fail("stride", "got \(stride), expected positive strides") }
        guard padding.0 >= 0, padding.1 >= 0, padding.0 <= kernelSize.0 / 2, padding.1 <= kernelSize.1 / 2 else {
            throw fail("padding", "got \(padding), expected non-negative padding at most half the kernel size \(kernelSize)")
        }
        let (H, W) = (inputShape[1], inputShape[2])
        guard let paddedH = SizeLimit.sum([H, padding.0, padding.0]), let paddedW = SizeLimit.sum([W, padding.1, padding.1]),
            paddedH >= kernelSize.0, paddedW >= kernelSize.1
        else {
            throw fail("kernel_size", "kernel \(kernelSize) does not fit the padded input \(H)×\(W) (padding \(padding))")
        }
        guard H * W <= Self.maximumPlaneSize else {
            throw fail("input_shape", "a \(H)×\(W) plane exceeds \(Self.maximumPlaneSize) elements (argmax indices are stored as floating point)")
        }
        channels = inputShape[0]
        inputHeight = H
        inputWidth = W
        self.kernelSize = kernelSize
        self.stride = stride
        self.padding = padding
        outputHeight = (paddedH - kernelSize.0) / stride.0 + 1
        outputWidth = (paddedW - kernelSize.1) / stride.1 + 1
        self.inputShape = inputShape
        self.outputShape = [channels, outputHeight, outputWidth]
    }

    /// The argmax of every output, as its index within the input plane.
    public func savedCount(batch: Int) -> Int { batch * outputSize }

    public func converted<Other: BLASScalar>(to: Other.Type) throws -> any Layer<Other> {
        try MaxPool2d<Other>(
            inputShape: inputShape, kernelSize: (kernelSize.height, kernelSize.width), stride: (stride.height, stride.width),
            padding: (padding.height, padding.width))
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(
        parameters: UnsafePointer<Scalar>, input: UnsafePointer<Scalar>, batch: Int,
        output: UnsafeMutablePointer<Scalar>, saved: UnsafeMutablePointer<Scalar>
    ) {
        let (kh, kw) = kernelSize, (sh, sw) = stride, (ph, pw) = padding
        let H = inputHeight, W = inputWidth, Ho = outputHeight, Wo = outputWidth
        for plane in 0..<(batch * channels) {
            let src = input + plane * H * W, dst = output + plane * Ho * Wo, argmax = saved + plane * Ho * Wo
            for oy in 0..<Ho {
                let y0 = max(oy * sh - ph, 0), y1 = min(oy * sh - ph + kh, H)
                for ox in 0..<Wo {
                    let x0 = max(ox * sw - pw, 0), x1 = min(ox * sw - pw + kw, W)
                    var best = y0 * W + x0
                    var value = -Scalar.infinity
                    for iy in y0..<y1 {
                        for ix in x0..<x1 {
                            let v = src[iy * W + ix]
                            if v > value || v.isNaN {
                                value = v
                                best = iy * W + ix
                            }
                        }
                    }
                    dst[oy * Wo + ox] = value
                    argmax[oy * Wo + ox] = Scalar(best)
                }
            }
        }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func jvp(
        _ state: LayerState<Scalar>, parameterTangents: UnsafePointer<Scalar>?, parameterStride: Int,
        inputTangents: UnsafePointer<Scalar>?, block s: Int,
        outputTangents: UnsafeMutablePointer<Scalar>, scratch: UnsafeMutablePointer<Scalar>
    ) {
        let b = state.batch, C = channels, HW = inputHeight * inputWidth, L = outputHeight * outputWidth
        guard let inputTangents else {
            outputTangents.update(repeating: 0, count: b * s * outputSize)
            return
        }
        for i in 0..<b {
            for t in 0..<s {
                for c in 0..<C {
                    let argmax = state.saved + (i * C + c) * L
                    let src = inputTangents + ((i * s + t) * C + c) * HW, dst = outputTangents + ((i * s + t) * C + c) * L
                    for o in 0..<L { dst[o] = src[Int(argmax[o])] }
                }
            }
        }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func vjp(
        _ state: LayerState<Scalar>, outputCotangents: UnsafePointer<Scalar>, block s: Int,
        parameterCotangents: UnsafeMutablePointer<Scalar>?, parameterStride: Int,
        inputCotangents: UnsafeMutablePointer<Scalar>?, scratch: UnsafeMutablePointer<Scalar>
    ) {
        guard let inputCotangents else { return }
        let b = state.batch, C = channels, HW = inputHeight * inputWidth, L = outputHeight * outputWidth
        inputCotangents.update(repeating: 0, count: b * s * inputSize)
        for i in 0..<b {
            for t in 0..<s {
                for c in 0..<C {
                    let argmax = state.saved + (i * C + c) * L
                    let src = outputCotangents + ((i * s + t) * C + c) * L, dst = inputCotangents + ((i * s + t) * C + c) * HW
                    for o in 0..<L { dst[Int(argmax[o])] += src[o] }
                }
            }
        }
    }
}

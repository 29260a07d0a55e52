import NTKLinearAlgebra

/// A 2-D convolution on NCHW inputs, like PyTorch's `nn.Conv2d` (no dilation, no groups):
/// y[o, p] = c_w Σ_{c,ky,kx} W[o, c, ky, kx] · x[c, p_y·s_h − p_h + ky, p_x·s_w − p_w + kx] + c_b b[o],
/// with zero padding. Implemented as im2col + GEMM: with the columns X_i [C·kh·kw, L]
/// (L = H_out·W_out) of example i, y_i = c_w W X_i + c_b b 1ᵀ, W viewed as [O, C·kh·kw].
///
/// Derivatives for a block of s vectors (per example i; the im2col columns are saved):
/// - JVP: ẏ_{i,t} = c_w (Ẇ_t X_i + W im2col(ẋ_{i,t})) + c_b ḃ_t. The s weight tangents are
///   packed into [s·O, CKK] so that Ẇ X_i for all t is one GEMM giving [s, O, L] directly; the
///   s input tangents are unfolded side by side into [CKK, s·L] so that W·(…) is one GEMM.
/// - VJP: W̄_t += c_w Σ_i ȳ_{i,t} X_iᵀ, one GEMM per example for all t ([s·O, L]·[L, CKK]);
///   x̄_{i,t} = col2im(c_w Wᵀ ȳ_{i,t}), one GEMM per example for all t.
/// - Complexity: forward 2·b·O·CKK·L flops; JVP/VJP about 4·b·s·O·CKK·L flops.
public struct Conv2d<Scalar: BLASScalar>: Layer {
    public let inChannels: Int
    public let outChannels: Int
    public let kernelSize: (height: Int, width: Int)
    public let stride: (height: Int, width: Int)
    public let padding: (height: Int, width: Int)
    public let hasBias: Bool
    public let inputHeight: Int
    public let inputWidth: Int
    public let parameterization: Parameterization
    public let outputHeight: Int
    public let outputWidth: Int
    public let inputShape: [Int]
    public let outputShape: [Int]
    let weightMultiplier: Scalar
    let biasMultiplier: Scalar

    /// - Throws: `NetworkError.invalidLayer` naming the PyTorch field (`in_channels`,
    ///   `kernel_size`, `stride`, `padding`, …) when a size is invalid or the output would be empty.
    public init(
        inChannels: Int, outChannels: Int, kernelSize: (Int, Int), stride: (Int, Int) = (1, 1),
        padding: (Int, Int) = (0, 0), bias: Bool = true, inputHeight: Int, inputWidth: Int,
        parameterization: Parameterization = .standard
    ) throws {
        func fail(_ field: String, _ message: String) -> NetworkError {
            .invalidLayer(layer: "conv2d", field: field, message: message)
        }
        guard inChannels > 0 else { throw fail("in_channels", "got \(inChannels), expected a positive count") }
        guard outChannels > 0 else { throw fail("out_channels", "got \(outChannels), expected a positive count") }
        guard kernelSize.0 > 0, kernelSize.1 > 0 else { throw fail("kernel_size", "got \(kernelSize), expected positive sizes") }
        guard stride.0 > 0, stride.1 > 0 else { throw fail("stride", "got \(stride), expected positive strides") }
        guard padding.0 >= 0, padding.1 >= 0 else { throw fail("padding", "got \(padding), expected non-negative padding") }
        let (patch, patchOverflow) = inChannels.multipliedReportingOverflow(by: kernelSize.0 &* kernelSize.1)
        guard kernelSize.0 <= Int(Int32.max), kernelSize.1 <= Int(Int32.max), !patchOverflow,
            !patch.multipliedReportingOverflow(by: outChannels).overflow
        else {
            throw fail("kernel_size", "\(outChannels) × \(inChannels) × \(kernelSize) weights overflow the integer range")
        }
        guard !patch.multipliedReportingOverflow(by: outChannels).0.addingReportingOverflow(outChannels).overflow else {
            throw fail("out_channels", "\(outChannels) × \(patch) weights and \(outChannels) biases overflow the integer range")
        }
        // Padded sizes H + 2p, checked: a huge padding is an error, not a trap.
        guard let paddedH = SizeLimit.sum([inputHeight, padding.0, padding.0]),
            let paddedW = SizeLimit.sum([inputWidth, padding.1, padding.1])
        else {
            throw fail("padding", "got \(padding): the padded input \(inputHeight)×\(inputWidth) overflows the integer range")
        }
        guard inputHeight > 0, inputWidth > 0, paddedH >= kernelSize.0, paddedW >= kernelSize.1 else {
            throw fail("kernel_size", "kernel \(kernelSize) does not fit the padded input \(inputHeight)×\(inputWidth) (padding \(padding))")
        }
        let outH = (paddedH - kernelSize.0) / stride.0 + 1
        let outW = (paddedW - kernelSize.1) / stride.1 + 1
        guard let outputCount = SizeLimit.product([outChannels, outH, outW]),
            SizeLimit.product([inChannels, inputHeight, inputWidth]) != nil, SizeLimit.product([outputCount, 2]) != nil,
            SizeLimit.product([patch, outH, outW]) != nil
        else {
            throw fail("padding", "the output \(outChannels) × \(outH) × \(outW) (padding \(padding), stride \(stride)) overflows the integer range")
        }
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernelSize = kernelSize
        self.stride = stride
        self.padding = padding
        self.hasBias = bias
        self.inputHeight = inputHeight
        self.inputWidth = inputWidth
        self.parameterization = parameterization
        self.outputHeight = outH
        self.outputWidth = outW
        self.inputShape = [inChannels, inputHeight, inputWidth]
        self.outputShape = [outChannels, outH, outW]
        let m = parameterization.multipliers(fanIn: inChannels * kernelSize.0 * kernelSize.1)
        weightMultiplier = Scalar(m.weight)
        biasMultiplier = Scalar(m.bias)
    }

    /// C·kh·kw: the fan-in and the rows of the im2col matrix.
    var patchSize: Int { inChannels * kernelSize.0 * kernelSize.1 }
    /// L = H_out·W_out.
    var positions: Int { outputHeight * outputWidth }
    var weightCount: Int { outChannels * patchSize }
    public var parameterCount: Int { weightCount + (hasBias ? outChannels : 0) }

    public var parameterTensors: [ParameterTensor] {
        var t = [ParameterTensor(name: "weight", shape: [outChannels, inChannels, kernelSize.0, kernelSize.1], offset: 0)]
        if hasBias { t.append(ParameterTensor(name: "bias", shape: [outChannels], offset: weightCount)) }
        return t
    }

    /// Rebuilt with the same geometry, bias flag and parameterization (multipliers recomputed in `Other`).
    public func converted<Other: BLASScalar>(to: Other.Type) throws -> any Layer<Other> {
        try Conv2d<Other>(
            inChannels: inChannels, outChannels: outChannels, kernelSize: (kernelSize.height, kernelSize.width),
            stride: (stride.height, stride.width), padding: (padding.height, padding.width), bias: hasBias,
            inputHeight: inputHeight, inputWidth: inputWidth, parameterization: parameterization)
    }

    public func initialize(parameters: UnsafeMutableBufferPointer<Scalar>, using generator: inout SeededGenerator) {
        parameterization.initialize(
            UnsafeMutableBufferPointer(rebasing: parameters[0..<weightCount]), fanIn: patchSize, using: &generator)
        if hasBias {
            parameterization.initialize(
                UnsafeMutableBufferPointer(rebasing: parameters[weightCount..<parameterCount]), fanIn: patchSize,
                using: &generator)
        }
    }

    public func savedCount(batch: Int) -> Int { batch * patchSize * positions }

    public func scratchCount(batch: Int, block s: Int) -> Int {
        s * weightCount + patchSize * s * positions + outChannels * s * positions
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(
        parameters: UnsafePointer<Scalar>, input: UnsafePointer<Scalar>, batch: Int,
        output: UnsafeMutablePointer<Scalar>, saved: UnsafeMutablePointer<Scalar>
    ) throws {
        let L = positions, K = patchSize, O = outChannels
        for i in 0..<batch {
            let cols = saved + i * K * L
            im2col(input + i * inputSize, into: cols, leadingDimension: L)
            let y = output + i * O * L
            try Scalar.gemm(
                .none, .none, m: O, n: L, k: K, alpha: weightMultiplier, a: parameters, lda: K,
                b: cols, ldb: L, beta: 0, c: y, ldc: L)
            if hasBias { addBias(parameters + weightCount, to: y, channels: O) }
        }
    }

    /// y[o, :] += c_b · bias[o] for one [O, L] image.
    @inline(__always)
    func addBias(_ bias: UnsafePointer<Scalar>, to y: UnsafeMutablePointer<Scalar>, channels: Int) {
        let L = positions
        for o in 0..<channels {
            let value = biasMultiplier * bias[o]
            let row = y + o * L
            for l in 0..<L { row[l] += value }
        }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func jvp(
        _ state: LayerState<Scalar>, parameterTangents: UnsafePointer<Scalar>?, parameterStride: Int,
        inputTangents: UnsafePointer<Scalar>?, block s: Int,
        outputTangents: UnsafeMutablePointer<Scalar>, scratch: UnsafeMutablePointer<Scalar>
    ) throws {
        let L = positions, K = patchSize, O = outChannels, b = state.batch
        let pack = scratch, unfolded = scratch + s * weightCount, product = unfolded + K * s * L
        if let tangents = parameterTangents {
            for t in 0..<s { (pack + t * weightCount).update(from: tangents + t * parameterStride, count: weightCount) }
        }
        for i in 0..<b {
            let yDot = outputTangents + i * s * O * L  // [s, O, L]
            if let tangents = parameterTangents {
                try Scalar.gemm(
                    .none, .none, m: s * O, n: L, k: K, alpha: weightMultiplier, a: pack, lda: K,
                    b: state.saved + i * K * L, ldb: L, beta: 0, c: yDot, ldc: L)
                if hasBias {
                    for t in 0..<s { addBias(tangents + t * parameterStride + weightCount, to: yDot + t * O * L, channels: O) }
                }
            } else {
                yDot.update(repeating: 0, count: s * O * L)
            }
            if let inputTangents {
                for t in 0..<s {
                    im2col(inputTangents + (i * s + t) * inputSize, into: unfolded + t * L, leadingDimension: s * L)
                }
                try Scalar.gemm(
                    .none, .none, m: O, n: s * L, k: K, alpha: weightMultiplier, a: state.parameters, lda: K,
                    b: unfolded, ldb: s * L, beta: 0, c: product, ldc: s * L)
                // product is [O, s, L]; ẏ is [s, O, L].
                for t in 0..<s {
                    for o in 0..<O {
                        let src = product + o * s * L + t * L, dst = yDot + (t * O + o) * L
                        for l in 0..<L { dst[l] += src[l] }
                    }
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
    ) throws {
        let L = positions, K = patchSize, O = outChannels, b = state.batch
        let weightBar = scratch, permuted = scratch + s * weightCount, unfolded = permuted + O * s * L
        if let cotangents = parameterCotangents {
            for i in 0..<b {
                try Scalar.gemm(
                    .none, .transpose, m: s * O, n: K, k: L, alpha: weightMultiplier,
                    a: outputCotangents + i * s * O * L, lda: L, b: state.saved + i * K * L, ldb: L,
                    beta: i == 0 ? 0 : 1, c: weightBar, ldc: K)
            }
            for t in 0..<s {
                let dst = cotangents + t * parameterStride, src = weightBar + t * weightCount
                for j in 0..<weightCount { dst[j] += src[j] }
                if hasBias {
                    let biasBar = dst + weightCount
                    for i in 0..<b {
                        for o in 0..<O {
                            let row = outputCotangents + ((i * s + t) * O + o) * L
                            var sum: Scalar = 0
                            for l in 0..<L { sum += row[l] }
                            biasBar[o] += biasMultiplier * sum
                        }
                    }
                }
            }
        }
        if let inputCotangents {
            for i in 0..<b {
                let yBar = outputCotangents + i * s * O * L  // [s, O, L]
                for t in 0..<s {
                    for o in 0..<O {
                        (permuted + o * s * L + t * L).update(from: yBar + (t * O + o) * L, count: L)
                    }
                }
                try Scalar.gemm(
                    .transpose, .none, m: K, n: s * L, k: O, alpha: weightMultiplier, a: state.parameters, lda: K,
                    b: permuted, ldb: s * L, beta: 0, c: unfolded, ldc: s * L)
                for t in 0..<s {
                    let xBar = inputCotangents + (i * s + t) * inputSize
                    xBar.update(repeating: 0, count: inputSize)
                    col2imAdd(unfolded + t * L, leadingDimension: s * L, into: xBar)
                }
            }
        }
    }
}

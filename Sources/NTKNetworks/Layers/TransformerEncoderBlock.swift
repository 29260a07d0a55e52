import NTKLinearAlgebra

/// A pre-LN transformer encoder block (Xiong et al. 2020, arXiv:2002.04745; PyTorch
/// `nn.TransformerEncoderLayer(d_model: D, nhead: H, dim_feedforward: F, dropout: 0,
/// activation: "gelu", batch_first: true, norm_first: true)`) on x [T, D]:
///
///     h = x + MHA(N₁(x)),    y = h + W₂ GELU(W₁ N₂(h) + b₁) + b₂,
///
/// where N₁, N₂ are the normalization layers made by `normalization`: by default
/// `layerNorm()`, PyTorch's `LayerNorm(D, eps=1e-5)` over the last axis (gain and bias,
/// state_dict "norm1.weight", "norm1.bias", "norm2.*"); nil gives the identity (no N₁, N₂,
/// no parameters). Parameter names follow PyTorch: "self_attn.in_proj_weight", …,
/// "linear1.weight", "linear2.bias", "norm1.weight".
///
/// The block is two residual branches, each a `Sequential`; derivatives are the branches'
/// plus the skip connection: ḣ = ẋ + J₁ẋ…, x̄ = h̄ + J₁ᵀh̄ with h̄ = ȳ + J₂ᵀȳ.
/// Saved: the branch outputs u₁ = MHA(N₁(x)), u₂, and h ([b, T, D] each), then the branches'
/// own state.
///
/// - Complexity: MHA (8·T·D² + 4·T²·D) plus feed-forward (4·T·D·F) flops per example and
///   forward; JVP/VJP about twice that per vector of the block. No allocation in any pass.
public struct TransformerEncoderBlock<Scalar: BLASScalar>: Layer {
    /// Makes a normalization layer for a [T, D] input (e.g. a layer norm over the last axis).
    public typealias Normalization = @Sendable (_ sequenceLength: Int, _ embedDimension: Int) throws -> any Layer<Scalar>

    /// The pre-LN block's normalization (the default): a `LayerNorm` over the last axis of the
    /// [T, D] input, gain and bias of size D, ε = `epsilon` (PyTorch's `layer_norm_eps`,
    /// default 1e-5; Ba, Kiros & Hinton 2016, arXiv:1607.06450).
    public static func layerNorm(epsilon: Double = 1e-5) -> Normalization {
        { sequenceLength, embedDimension in
            try LayerNorm<Scalar>(inputShape: [sequenceLength, embedDimension], normalizedShape: [embedDimension], epsilon: epsilon)
        }
    }

    public let sequenceLength: Int
    public let embedDimension: Int
    /// Branch 1: [N₁,] self-attention.
    public let attentionBranch: Sequential<Scalar>
    /// Branch 2: [N₂,] linear1, GELU, linear2.
    public let feedForwardBranch: Sequential<Scalar>
    let attentionNames: [String]
    let feedForwardNames: [String]

    /// - Parameter normalization: N₁ and N₂ (default: `layerNorm()`, the standard pre-LN block);
    ///   nil for none.
    /// - Throws: `NetworkError.invalidLayer` for invalid sizes (see `MultiHeadAttention`,
    ///   `TokenLinear`) or a normalization layer whose shapes are not [T, D] → [T, D].
    public init(
        sequenceLength: Int, embedDimension: Int, headCount: Int, feedForwardDimension: Int, causal: Bool = false,
        parameterization: Parameterization = .standard, normalization: Normalization? = Self.layerNorm()
    ) throws {
        let T = sequenceLength, D = embedDimension, shape = [T, D]
        var first: [any Layer<Scalar>] = [], firstNames: [String] = []
        var second: [any Layer<Scalar>] = [], secondNames: [String] = []
        if let normalization {
            for (k, name) in ["norm1", "norm2"].enumerated() {
                let norm = try normalization(T, D)
                guard norm.inputShape == shape, norm.outputShape == shape else {
                    throw NetworkError.invalidLayer(
                        layer: "transformer_encoder_block", field: name,
                        message: "the normalization maps \(norm.inputShape) → \(norm.outputShape), expected \(shape) → \(shape)")
                }
                if k == 0 { first.append(norm); firstNames.append(name) } else { second.append(norm); secondNames.append(name) }
            }
        }
        first.append(try MultiHeadAttention<Scalar>(
            sequenceLength: T, embedDimension: D, headCount: headCount, causal: causal, parameterization: parameterization))
        firstNames.append("self_attn")
        second.append(try TokenLinear<Scalar>(
            tokens: T, inFeatures: D, outFeatures: feedForwardDimension, parameterization: parameterization))
        second.append(Activation<Scalar>(.gelu, shape: [T, feedForwardDimension]))
        second.append(try TokenLinear<Scalar>(
            tokens: T, inFeatures: feedForwardDimension, outFeatures: D, parameterization: parameterization))
        secondNames += ["linear1", "activation", "linear2"]
        attentionBranch = try Sequential(inputShape: shape, layers: first)
        feedForwardBranch = try Sequential(inputShape: shape, layers: second)
        attentionNames = firstNames
        feedForwardNames = secondNames
        inputShape = shape
        outputShape = shape
        self.sequenceLength = T
        self.embedDimension = D
    }

    /// A block from already built branches (their names as in the main initializer).
    init(
        sequenceLength: Int, embedDimension: Int, attentionBranch: Sequential<Scalar>, feedForwardBranch: Sequential<Scalar>,
        attentionNames: [String], feedForwardNames: [String]
    ) {
        self.sequenceLength = sequenceLength
        self.embedDimension = embedDimension
        self.attentionBranch = attentionBranch
        self.feedForwardBranch = feedForwardBranch
        self.attentionNames = attentionNames
        self.feedForwardNames = feedForwardNames
        inputShape = [sequenceLength, embedDimension]
        outputShape = inputShape
    }

    public let inputShape: [Int]
    public let outputShape: [Int]
    var secondOffset: Int { attentionBranch.parameterCount }
    public var parameterCount: Int { attentionBranch.parameterCount + feedForwardBranch.parameterCount }

    public var parameterTensors: [ParameterTensor] {
        var tensors: [ParameterTensor] = []
        for (branch, names, base) in [(attentionBranch, attentionNames, 0), (feedForwardBranch, feedForwardNames, secondOffset)] {
            for (k, layer) in branch.layers.enumerated() {
                for t in layer.parameterTensors {
                    tensors.append(ParameterTensor(
                        name: "\(names[k]).\(t.name)", shape: t.shape, offset: base + branch.parameterOffsets[k] + t.offset))
                }
            }
        }
        return tensors
    }

    /// Both branches converted layer by layer (normalization, attention, feed-forward), with the
    /// same state_dict names. The `Normalization` closure the block was built with is not
    /// re-run: it makes `Scalar` layers, so its layers are converted instead.
    public func converted<Other: BLASScalar>(to: Other.Type) throws -> any Layer<Other> {
        TransformerEncoderBlock<Other>(
            sequenceLength: sequenceLength, embedDimension: embedDimension,
            attentionBranch: try attentionBranch.convertedChain(to: Other.self),
            feedForwardBranch: try feedForwardBranch.convertedChain(to: Other.self),
            attentionNames: attentionNames, feedForwardNames: feedForwardNames)
    }

    public func initialize(parameters: UnsafeMutableBufferPointer<Scalar>, using generator: inout SeededGenerator) {
        attentionBranch.initialize(parameters: UnsafeMutableBufferPointer(rebasing: parameters[0..<secondOffset]), using: &generator)
        feedForwardBranch.initialize(
            parameters: UnsafeMutableBufferPointer(rebasing: parameters[secondOffset..<parameterCount]), using: &generator)
    }

    var tokenCount: Int { sequenceLength * embedDimension }

    public func savedCount(batch: Int) -> Int {
        3 * batch * tokenCount + attentionBranch.savedCount(batch: batch) + feedForwardBranch.savedCount(batch: batch)
    }

    public func scratchCount(batch: Int, block s: Int) -> Int {
        batch * s * tokenCount
            + max(attentionBranch.scratchCount(batch: batch, block: s), feedForwardBranch.scratchCount(batch: batch, block: s))
    }

    /// Saved regions: u₁, h, u₂ ([b, T·D] each), branch 1 state, branch 2 state.
    func regions(_ saved: UnsafePointer<Scalar>, batch b: Int) -> (u1: UnsafePointer<Scalar>, h: UnsafePointer<Scalar>, u2: UnsafePointer<Scalar>, first: UnsafePointer<Scalar>, second: UnsafePointer<Scalar>) {
        let n = b * tokenCount, first = saved + 3 * n
        return (saved, saved + n, saved + 2 * n, first, first + attentionBranch.savedCount(batch: b))
    }

    func states(_ state: LayerState<Scalar>) -> (LayerState<Scalar>, LayerState<Scalar>) {
        let r = regions(state.saved, batch: state.batch)
        return (
            LayerState(parameters: state.parameters, input: state.input, output: r.u1, saved: r.first, batch: state.batch),
            LayerState(parameters: state.parameters + secondOffset, input: r.h, output: r.u2, saved: r.second, batch: state.batch))
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(
        parameters: UnsafePointer<Scalar>, input: UnsafePointer<Scalar>, batch: Int,
        output: UnsafeMutablePointer<Scalar>, saved: UnsafeMutablePointer<Scalar>
    ) throws {
        let n = batch * tokenCount
        let r = regions(saved, batch: batch)
        let u1 = saved, h = saved + n, u2 = saved + 2 * n
        try attentionBranch.forward(
            parameters: parameters, input: input, batch: batch, output: u1, saved: UnsafeMutablePointer(mutating: r.first))
        for j in 0..<n { h[j] = input[j] + u1[j] }
        try feedForwardBranch.forward(
            parameters: parameters + secondOffset, input: h, batch: batch, output: u2,
            saved: UnsafeMutablePointer(mutating: r.second))
        for j in 0..<n { output[j] = h[j] + u2[j] }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func jvp(
        _ state: LayerState<Scalar>, parameterTangents: UnsafePointer<Scalar>?, parameterStride: Int,
        inputTangents: UnsafePointer<Scalar>?, block s: Int,
        outputTangents: UnsafeMutablePointer<Scalar>, scratch: UnsafeMutablePointer<Scalar>
    ) throws {
        let n = state.batch * s * tokenCount
        let (first, second) = states(state)
        let hDot = scratch, branchScratch = scratch + n
        try attentionBranch.jvp(
            first, parameterTangents: parameterTangents, parameterStride: parameterStride, inputTangents: inputTangents,
            block: s, outputTangents: hDot, scratch: branchScratch)
        if let inputTangents { for j in 0..<n { hDot[j] += inputTangents[j] } }
        try feedForwardBranch.jvp(
            second, parameterTangents: parameterTangents.map { $0 + secondOffset }, parameterStride: parameterStride,
            inputTangents: hDot, block: s, outputTangents: outputTangents, scratch: branchScratch)
        for j in 0..<n { outputTangents[j] += hDot[j] }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func vjp(
        _ state: LayerState<Scalar>, outputCotangents: UnsafePointer<Scalar>, block s: Int,
        parameterCotangents: UnsafeMutablePointer<Scalar>?, parameterStride: Int,
        inputCotangents: UnsafeMutablePointer<Scalar>?, scratch: UnsafeMutablePointer<Scalar>
    ) throws {
        guard parameterCotangents != nil || inputCotangents != nil else { return }
        let n = state.batch * s * tokenCount
        let (first, second) = states(state)
        let hBar = scratch, branchScratch = scratch + n
        try feedForwardBranch.vjp(
            second, outputCotangents: outputCotangents, block: s,
            parameterCotangents: parameterCotangents.map { $0 + secondOffset }, parameterStride: parameterStride,
            inputCotangents: hBar, scratch: branchScratch)
        for j in 0..<n { hBar[j] += outputCotangents[j] }
        try attentionBranch.vjp(
            first, outputCotangents: hBar, block: s, parameterCotangents: parameterCotangents,
            parameterStride: parameterStride, inputCotangents: inputCotangents, scratch: branchScratch)
        if let inputCotangents { for j in 0..<n { inputCotangents[j] += hBar[j] } }
    }
}

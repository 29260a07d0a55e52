import NTKLinearAlgebra

/// A dense layer applied to every token (row) of a [T, in] example:
/// y[τ, :] = c_w · W x[τ, :] + c_b · b, i.e. PyTorch's `nn.Linear` on a [batch, T, in] tensor
/// (W is [out, in], state_dict names "weight", "bias"). Used as the token embedding and the
/// feed-forward layers of a transformer.
///
/// (c_w, c_b) and the initialization follow `Parameterization` with fan-in `in`, exactly as
/// `Linear`. Derivatives: see `TokenAffine` (GEMMs over all b·s·T rows at once).
///
/// - Complexity: forward 2·b·T·in·out flops; JVP and VJP ≈ 4·b·s·T·in·out flops each.
public struct TokenLinear<Scalar: BLASScalar>: Layer {
    public let tokens: Int
    public let inFeatures: Int
    public let outFeatures: Int
    public let hasBias: Bool
    public let parameterization: Parameterization
    let affine: TokenAffine<Scalar>

    /// - Throws: `NetworkError.invalidLayer` if a size is not positive.
    public init(
        tokens: Int, inFeatures: Int, outFeatures: Int, bias: Bool = true, parameterization: Parameterization = .standard
    ) throws {
        for (field, value) in [("seq_len", tokens), ("in_features", inFeatures), ("out_features", outFeatures)] where value <= 0 {
            throw NetworkError.invalidLayer(layer: "token_linear", field: field, message: "got \(value), expected a positive size")
        }
        guard SizeLimit.product([inFeatures, outFeatures]).flatMap({ SizeLimit.sum([$0, outFeatures]) }) != nil,
            SizeLimit.product([tokens, max(inFeatures, outFeatures)]) != nil
        else {
            throw NetworkError.invalidLayer(
                layer: "token_linear", field: "out_features",
                message: "\(inFeatures) × \(outFeatures) weights (or \(tokens) tokens of them) overflow the integer range")
        }
        inputShape = [tokens, inFeatures]
        outputShape = [tokens, outFeatures]
        self.tokens = tokens
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        self.hasBias = bias
        self.parameterization = parameterization
        let m = parameterization.multipliers(fanIn: inFeatures)
        affine = TokenAffine(
            rows: tokens, inFeatures: inFeatures, outFeatures: outFeatures, hasBias: bias,
            weightMultiplier: Scalar(m.weight), biasMultiplier: Scalar(m.bias))
    }

    public let inputShape: [Int]
    public let outputShape: [Int]
    public var parameterCount: Int { affine.parameterCount }

    public var parameterTensors: [ParameterTensor] {
        var t = [ParameterTensor(name: "weight", shape: [outFeatures, inFeatures], offset: 0)]
        if hasBias { t.append(ParameterTensor(name: "bias", shape: [outFeatures], offset: affine.weightCount)) }
        return t
    }

    /// Rebuilt with the same sizes, bias flag and parameterization (multipliers recomputed in `Other`).
    public func converted<Other: BLASScalar>(to: Other.Type) throws -> any Layer<Other> {
        try TokenLinear<Other>(
            tokens: tokens, inFeatures: inFeatures, outFeatures: outFeatures, bias: hasBias,
            parameterization: parameterization)
    }

    public func initialize(parameters: UnsafeMutableBufferPointer<Scalar>, using generator: inout SeededGenerator) {
        parameterization.initialize(parameters, fanIn: inFeatures, using: &generator)
    }

    public func savedCount(batch: Int) -> Int { 0 }
    public func scratchCount(batch: Int, block: Int) -> Int { affine.scratchCount(batch: batch, block: block) }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(
        parameters: UnsafePointer<Scalar>, input: UnsafePointer<Scalar>, batch: Int,
        output: UnsafeMutablePointer<Scalar>, saved: UnsafeMutablePointer<Scalar>
    ) throws {
        try affine.forward(parameters: parameters, input: input, batch: batch, output: output)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func jvp(
        _ state: LayerState<Scalar>, parameterTangents: UnsafePointer<Scalar>?, parameterStride: Int,
        inputTangents: UnsafePointer<Scalar>?, block s: Int,
        outputTangents: UnsafeMutablePointer<Scalar>, scratch: UnsafeMutablePointer<Scalar>
    ) throws {
        try affine.jvp(
            parameters: state.parameters, input: state.input, batch: state.batch,
            parameterTangents: parameterTangents, parameterStride: parameterStride, inputTangents: inputTangents,
            block: s, outputTangents: outputTangents, scratch: scratch)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func vjp(
        _ state: LayerState<Scalar>, outputCotangents: UnsafePointer<Scalar>, block s: Int,
        parameterCotangents: UnsafeMutablePointer<Scalar>?, parameterStride: Int,
        inputCotangents: UnsafeMutablePointer<Scalar>?, scratch: UnsafeMutablePointer<Scalar>
    ) throws {
        try affine.vjp(
            parameters: state.parameters, input: state.input, batch: state.batch, outputCotangents: outputCotangents,
            block: s, parameterCotangents: parameterCotangents, parameterStride: parameterStride,
            inputCotangents: inputCotangents, scratch: scratch)
    }
}

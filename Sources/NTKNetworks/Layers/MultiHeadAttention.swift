import NTKLinearAlgebra

/// Multi-head self-attention over a sequence x [T, D] per example (Vaswani et al. 2017,
/// arXiv:1706.03762), with PyTorch `nn.MultiheadAttention(embed_dim: D, num_heads: H,
/// bias: true, batch_first: true)` semantics and parameter names:
///
///     [Q | K | V] = x W_inᵀ + b_in                      (in_proj_weight [3D, D], in_proj_bias [3D])
///     P_h = softmax(Q_h K_hᵀ / √d_h  (+ causal mask))   (per head h, d_h = D/H, rows sum to 1)
///     O = [P_1 V_1 | … | P_H V_H]                       ([T, D])
///     y = O W_outᵀ + b_out                              (out_proj.weight [D, D], out_proj.bias [D])
///
/// The causal mask (`is_causal=True`, PyTorch's `generate_square_subsequent_mask`) sets
/// the scores S[τ, j] with j > τ to −∞, i.e. P[τ, j] = 0.
///
/// The forward pass saves [Q|K|V] ([b, T, 3D]), the probabilities P ([b, H, T, T]) and O
/// ([b, T, D]). Derivatives (exact), with ṡ denoting a tangent and s̄ a cotangent:
/// - JVP: [Q̇|K̇|V̇] from the in-projection (`TokenAffine`), Ṡ = (Q̇Kᵀ + QK̇ᵀ)/√d_h,
///   Ṗ = P ⊙ (Ṡ − rowsum(P ⊙ Ṡ)) (softmax Jacobian; masked entries stay 0),
///   Ȯ = Ṗ V + P V̇, then the out-projection.
/// - VJP: Ō from the out-projection, P̄ = Ō Vᵀ, V̄ = Pᵀ Ō, S̄ = P ⊙ (P̄ − rowsum(P ⊙ P̄)),
///   Q̄ = S̄ K/√d_h, K̄ = S̄ᵀ Q/√d_h, then the in-projection.
/// For each example and head, the products with a shared factor (Q̇Kᵀ, K̇Qᵀ, ṖV; ŌVᵀ, S̄K) are
/// single GEMMs over all s·T rows of the block; the others are s GEMMs of T×T×d_h.
///
/// Initialization: standard = PyTorch's `_reset_parameters` (in_proj_weight Xavier-uniform
/// with bound √(6/(D + 3D)), out_proj.weight U(±1/√D) from `nn.Linear`, both biases 0);
/// `.ntk(σ_w, σ_b)` = all N(0, 1), with forward multipliers σ_w/√D on both weights and σ_b
/// on both biases (Jacot et al. 2018).
///
/// - Complexity: forward 8·b·T·D² + 4·b·T²·D flops; JVP and VJP about twice that per
///   vector of the block. Saved 4·b·T·D + b·H·T² elements; no allocation in any pass.
public struct MultiHeadAttention<Scalar: BLASScalar>: Layer {
    public let sequenceLength: Int
    public let embedDimension: Int
    public let headCount: Int
    public let isCausal: Bool
    public let parameterization: Parameterization
    let inProjection: TokenAffine<Scalar>
    let outProjection: TokenAffine<Scalar>

    /// - Throws: `NetworkError.invalidLayer` if a size is not positive or `num_heads` does not
    ///   divide `embed_dim`.
    public init(
        sequenceLength: Int, embedDimension: Int, headCount: Int, causal: Bool = false,
        parameterization: Parameterization = .standard
    ) throws {
        for (field, value) in [("seq_len", sequenceLength), ("embed_dim", embedDimension), ("num_heads", headCount)] where value <= 0 {
            throw NetworkError.invalidLayer(layer: "multihead_attention", field: field, message: "got \(value), expected a positive size")
        }
        guard embedDimension % headCount == 0 else {
            throw NetworkError.invalidLayer(
                layer: "multihead_attention", field: "num_heads",
                message: "got \(headCount), expected a divisor of embed_dim \(embedDimension)")
        }
        guard SizeLimit.product([4, embedDimension, embedDimension]).flatMap({ SizeLimit.sum([$0, 4 * embedDimension]) }) != nil,
            SizeLimit.product([sequenceLength, sequenceLength, headCount]) != nil,
            SizeLimit.product([3, sequenceLength, embedDimension]) != nil
        else {
            throw NetworkError.invalidLayer(
                layer: "multihead_attention", field: "embed_dim",
                message: "got \(embedDimension) with \(sequenceLength) tokens and \(headCount) heads: 4 × \(embedDimension)² weights or the attention scores overflow the integer range")
        }
        inputShape = [sequenceLength, embedDimension]
        outputShape = inputShape
        self.sequenceLength = sequenceLength
        self.embedDimension = embedDimension
        self.headCount = headCount
        self.isCausal = causal
        self.parameterization = parameterization
        let m = parameterization.multipliers(fanIn: embedDimension)
        inProjection = TokenAffine(
            rows: sequenceLength, inFeatures: embedDimension, outFeatures: 3 * embedDimension, hasBias: true,
            weightMultiplier: Scalar(m.weight), biasMultiplier: Scalar(m.bias))
        outProjection = TokenAffine(
            rows: sequenceLength, inFeatures: embedDimension, outFeatures: embedDimension, hasBias: true,
            weightMultiplier: Scalar(m.weight), biasMultiplier: Scalar(m.bias))
    }

    public var headDimension: Int { embedDimension / headCount }
    public let inputShape: [Int]
    public let outputShape: [Int]
    /// Offset of out_proj.weight in this layer's slice.
    var outOffset: Int { inProjection.parameterCount }
    public var parameterCount: Int { inProjection.parameterCount + outProjection.parameterCount }

    public var parameterTensors: [ParameterTensor] {
        let D = embedDimension
        return [
            ParameterTensor(name: "in_proj_weight", shape: [3 * D, D], offset: 0),
            ParameterTensor(name: "in_proj_bias", shape: [3 * D], offset: 3 * D * D),
            ParameterTensor(name: "out_proj.weight", shape: [D, D], offset: outOffset),
            ParameterTensor(name: "out_proj.bias", shape: [D], offset: outOffset + D * D),
        ]
    }

    /// Rebuilt with the same sizes, causal flag and parameterization (the projections'
    /// multipliers are recomputed in `Other`).
    public func converted<Other: BLASScalar>(to: Other.Type) throws -> any Layer<Other> {
        try MultiHeadAttention<Other>(
            sequenceLength: sequenceLength, embedDimension: embedDimension, headCount: headCount, causal: isCausal,
            parameterization: parameterization)
    }

    public func initialize(parameters: UnsafeMutableBufferPointer<Scalar>, using generator: inout SeededGenerator) {
        let D = embedDimension
        switch parameterization {
        case .standard:
            let xavier = (6.0 / Double(4 * D)).squareRoot()
            generator.fillUniform(UnsafeMutableBufferPointer(rebasing: parameters[0..<(3 * D * D)]), low: -xavier, high: xavier)
            let bound = 1 / Double(D).squareRoot()
            generator.fillUniform(
                UnsafeMutableBufferPointer(rebasing: parameters[outOffset..<(outOffset + D * D)]), low: -bound, high: bound)
            for j in (3 * D * D)..<outOffset { parameters[j] = 0 }
            for j in (outOffset + D * D)..<parameterCount { parameters[j] = 0 }
        case .ntk, .meanField:
            generator.fillGaussian(parameters)
        }
    }

    var qkvCount: Int { sequenceLength * 3 * embedDimension }
    var probabilityCount: Int { headCount * sequenceLength * sequenceLength }
    var tokenCount: Int { sequenceLength * embedDimension }

    public func savedCount(batch: Int) -> Int { batch * (qkvCount + probabilityCount + tokenCount) }

    public func scratchCount(batch: Int, block s: Int) -> Int {
        let affine = max(inProjection.scratchCount(batch: batch, block: s), outProjection.scratchCount(batch: batch, block: s))
        return batch * s * (qkvCount + tokenCount) + 2 * s * sequenceLength * sequenceLength + affine
    }

    /// The saved regions: [Q|K|V] [b, T, 3D], P [b, H, T, T], O [b, T, D].
    func savedRegions<P>(_ saved: UnsafeMutablePointer<P>, batch: Int) -> (qkv: UnsafeMutablePointer<P>, p: UnsafeMutablePointer<P>, o: UnsafeMutablePointer<P>) {
        (saved, saved + batch * qkvCount, saved + batch * (qkvCount + probabilityCount))
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(
        parameters: UnsafePointer<Scalar>, input: UnsafePointer<Scalar>, batch: Int,
        output: UnsafeMutablePointer<Scalar>, saved: UnsafeMutablePointer<Scalar>
    ) throws {
        let T = sequenceLength, D = embedDimension, dh = headDimension, ld = 3 * D
        let scale = 1 / Scalar.sqrt(Scalar(dh))
        let (qkv, probabilities, o) = savedRegions(saved, batch: batch)
        try inProjection.forward(parameters: parameters, input: input, batch: batch, output: qkv)
        for i in 0..<batch {
            let q = qkv + i * qkvCount
            for h in 0..<headCount {
                let p = probabilities + (i * headCount + h) * T * T
                try Scalar.gemm(
                    .none, .transpose, m: T, n: T, k: dh, alpha: scale, a: q + h * dh, lda: ld,
                    b: q + D + h * dh, ldb: ld, beta: 0, c: p, ldc: T)
                softmaxRows(p)
                try Scalar.gemm(
                    .none, .none, m: T, n: dh, k: T, alpha: 1, a: p, lda: T, b: q + 2 * D + h * dh, ldb: ld,
                    beta: 0, c: o + i * tokenCount + h * dh, ldc: D)
            }
        }
        try outProjection.forward(parameters: parameters + outOffset, input: o, batch: batch, output: output)
    }

    /// Row-wise softmax of a [T, T] score matrix in place (max-subtracted), with the causal
    /// mask applied when `isCausal`.
    func softmaxRows(_ p: UnsafeMutablePointer<Scalar>) {
        let T = sequenceLength
        for tau in 0..<T {
            let row = p + tau * T, limit = isCausal ? tau + 1 : T
            var m = row[0]
            for j in 1..<limit { m = max(m, row[j]) }
            var sum: Scalar = 0
            for j in 0..<limit {
                row[j] = Scalar.exp(row[j] - m)
                sum += row[j]
            }
            let inverse = 1 / sum
            for j in 0..<limit { row[j] *= inverse }
            for j in limit..<T { row[j] = 0 }
        }
    }

    /// g ← P ⊙ (g − rowsum(P ⊙ g)) for the s row blocks of g [s·T, T]: the softmax Jacobian
    /// (self-adjoint, so it serves both the JVP and the VJP).
    func softmaxJacobian(_ p: UnsafePointer<Scalar>, _ g: UnsafeMutablePointer<Scalar>, block s: Int) {
        let T = sequenceLength
        for t in 0..<s {
            for tau in 0..<T {
                let row = g + (t * T + tau) * T, prow = p + tau * T
                var dot: Scalar = 0
                for j in 0..<T { dot += prow[j] * row[j] }
                for j in 0..<T { row[j] = prow[j] * (row[j] - dot) }
            }
        }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func jvp(
        _ state: LayerState<Scalar>, parameterTangents: UnsafePointer<Scalar>?, parameterStride: Int,
        inputTangents: UnsafePointer<Scalar>?, block s: Int,
        outputTangents: UnsafeMutablePointer<Scalar>, scratch: UnsafeMutablePointer<Scalar>
    ) throws {
        let b = state.batch, T = sequenceLength, D = embedDimension, dh = headDimension, ld = 3 * D
        guard parameterTangents != nil || inputTangents != nil else {
            outputTangents.update(repeating: 0, count: b * s * tokenCount)
            return
        }
        let scale = 1 / Scalar.sqrt(Scalar(dh))
        let (qkv, probabilities, o) = savedRegions(UnsafeMutablePointer(mutating: state.saved), batch: b)
        let qkvDot = scratch, oDot = qkvDot + b * s * qkvCount
        let sDot = oDot + b * s * tokenCount, transposed = sDot + s * T * T, affineScratch = transposed + s * T * T
        try inProjection.jvp(
            parameters: state.parameters, input: state.input, batch: b, parameterTangents: parameterTangents,
            parameterStride: parameterStride, inputTangents: inputTangents, block: s, outputTangents: qkvDot,
            scratch: affineScratch)
        for i in 0..<b {
            let q = qkv + i * qkvCount, qd = qkvDot + i * s * qkvCount, od = oDot + i * s * tokenCount
            for h in 0..<headCount {
                let p = probabilities + (i * headCount + h) * T * T
                // Ṡ = (Q̇ Kᵀ + (K̇ Qᵀ)ᵀ)/√d_h over all s·T rows.
                try Scalar.gemm(
                    .none, .transpose, m: s * T, n: T, k: dh, alpha: scale, a: qd + h * dh, lda: ld,
                    b: q + D + h * dh, ldb: ld, beta: 0, c: sDot, ldc: T)
                try Scalar.gemm(
                    .none, .transpose, m: s * T, n: T, k: dh, alpha: scale, a: qd + D + h * dh, lda: ld,
                    b: q + h * dh, ldb: ld, beta: 0, c: transposed, ldc: T)
                for t in 0..<s {
                    let st = sDot + t * T * T, kt = transposed + t * T * T
                    for tau in 0..<T {
                        for j in 0..<T { st[tau * T + j] += kt[j * T + tau] }
                    }
                }
                softmaxJacobian(p, sDot, block: s)
                // Ȯ = Ṗ V (one GEMM) + P V̇_t (one per vector).
                try Scalar.gemm(
                    .none, .none, m: s * T, n: dh, k: T, alpha: 1, a: sDot, lda: T, b: q + 2 * D + h * dh, ldb: ld,
                    beta: 0, c: od + h * dh, ldc: D)
                for t in 0..<s {
                    try Scalar.gemm(
                        .none, .none, m: T, n: dh, k: T, alpha: 1, a: p, lda: T, b: qd + t * qkvCount + 2 * D + h * dh,
                        ldb: ld, beta: 1, c: od + t * tokenCount + h * dh, ldc: D)
                }
            }
        }
        try outProjection.jvp(
            parameters: state.parameters + outOffset, input: o, batch: b,
            parameterTangents: parameterTangents.map { $0 + outOffset }, parameterStride: parameterStride,
            inputTangents: oDot, block: s, outputTangents: outputTangents, scratch: affineScratch)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func vjp(
        _ state: LayerState<Scalar>, outputCotangents: UnsafePointer<Scalar>, block s: Int,
        parameterCotangents: UnsafeMutablePointer<Scalar>?, parameterStride: Int,
        inputCotangents: UnsafeMutablePointer<Scalar>?, scratch: UnsafeMutablePointer<Scalar>
    ) throws {
        guard parameterCotangents != nil || inputCotangents != nil else { return }
        let b = state.batch, T = sequenceLength, D = embedDimension, dh = headDimension, ld = 3 * D
        let scale = 1 / Scalar.sqrt(Scalar(dh))
        let (qkv, probabilities, o) = savedRegions(UnsafeMutablePointer(mutating: state.saved), batch: b)
        let qkvBar = scratch, oBar = qkvBar + b * s * qkvCount
        let sBar = oBar + b * s * tokenCount, affineScratch = sBar + 2 * s * T * T
        try outProjection.vjp(
            parameters: state.parameters + outOffset, input: o, batch: b, outputCotangents: outputCotangents, block: s,
            parameterCotangents: parameterCotangents.map { $0 + outOffset }, parameterStride: parameterStride,
            inputCotangents: oBar, scratch: affineScratch)
        for i in 0..<b {
            let q = qkv + i * qkvCount, qb = qkvBar + i * s * qkvCount, ob = oBar + i * s * tokenCount
            for h in 0..<headCount {
                let p = probabilities + (i * headCount + h) * T * T
                // P̄ = Ō Vᵀ over all s·T rows; V̄_t = Pᵀ Ō_t.
                try Scalar.gemm(
                    .none, .transpose, m: s * T, n: T, k: dh, alpha: 1, a: ob + h * dh, lda: D,
                    b: q + 2 * D + h * dh, ldb: ld, beta: 0, c: sBar, ldc: T)
                for t in 0..<s {
                    try Scalar.gemm(
                        .transpose, .none, m: T, n: dh, k: T, alpha: 1, a: p, lda: T, b: ob + t * tokenCount + h * dh,
                        ldb: D, beta: 0, c: qb + t * qkvCount + 2 * D + h * dh, ldc: ld)
                }
                softmaxJacobian(p, sBar, block: s)
                // Q̄ = S̄ K/√d_h over all s·T rows; K̄_t = S̄_tᵀ Q/√d_h.
                try Scalar.gemm(
                    .none, .none, m: s * T, n: dh, k: T, alpha: scale, a: sBar, lda: T, b: q + D + h * dh, ldb: ld,
                    beta: 0, c: qb + h * dh, ldc: ld)
                for t in 0..<s {
                    try Scalar.gemm(
                        .transpose, .none, m: T, n: dh, k: T, alpha: scale, a: sBar + t * T * T, lda: T, b: q + h * dh,
                        ldb: ld, beta: 0, c: qb + t * qkvCount + D + h * dh, ldc: ld)
                }
            }
        }
        try inProjection.vjp(
            parameters: state.parameters, input: state.input, batch: b, outputCotangents: qkvBar, block: s,
            parameterCotangents: parameterCotangents, parameterStride: parameterStride,
            inputCotangents: inputCotangents, scratch: affineScratch)
    }
}

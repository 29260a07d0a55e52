import NTKLinearAlgebra

extension Network {
    /// A transformer encoder over sequences of T tokens with `tokenFeatures` features each
    /// (input [T, tokenFeatures] per example, flattened row-major):
    ///
    ///     token embedding (TokenLinear tokenFeatures → D) → learned positional embedding
    ///     → `blockCount` pre-LN `TransformerEncoderBlock`s → mean over tokens → Linear D → outputSize
    ///
    /// (the ViT/BERT-style encoder with mean pooling; Vaswani et al. 2017, Xiong et al. 2020).
    /// `normalization` makes the blocks' N₁, N₂ (default: a layer norm over the last axis, ε =
    /// 1e-5, the standard pre-LN block; nil: identity). State-dict names: "0.weight"
    /// (embedding), "1.weight" (positions), "2.norm1.weight", "2.self_attn.in_proj_weight", …,
    /// "\(blockCount + 3).weight" (head).
    ///
    /// - Complexity: per example and forward, 2·T·tokenFeatures·D + blockCount·(8·T·D² +
    ///   4·T²·D + 4·T·D·F) + 2·D·outputSize flops.
    /// - Throws: `NetworkError.invalidLayer` for an invalid size (e.g. `headCount` not dividing D).
    public static func transformerEncoder(
        sequenceLength: Int, tokenFeatures: Int, embedDimension: Int, headCount: Int, feedForwardDimension: Int,
        blockCount: Int, outputSize: Int, causal: Bool = false, parameterization: Parameterization = .standard,
        normalization: TransformerEncoderBlock<Scalar>.Normalization? = TransformerEncoderBlock<Scalar>.layerNorm(), seed: UInt64 = 0
    ) throws -> Network {
        guard blockCount >= 0 else {
            throw NetworkError.invalidLayer(layer: "transformer_encoder", field: "num_layers", message: "got \(blockCount), expected ≥ 0")
        }
        let T = sequenceLength, D = embedDimension
        var layers: [any Layer<Scalar>] = [
            try TokenLinear<Scalar>(tokens: T, inFeatures: tokenFeatures, outFeatures: D, parameterization: parameterization),
            try PositionalEmbedding<Scalar>(sequenceLength: T, embedDimension: D, parameterization: parameterization),
        ]
        for _ in 0..<blockCount {
            layers.append(try TransformerEncoderBlock<Scalar>(
                sequenceLength: T, embedDimension: D, headCount: headCount, feedForwardDimension: feedForwardDimension,
                causal: causal, parameterization: parameterization, normalization: normalization))
        }
        layers.append(try NodeMeanPool<Scalar>(nodes: T, features: D))
        layers.append(try Linear<Scalar>(inFeatures: D, outFeatures: outputSize, parameterization: parameterization))
        return try Network(inputShape: [T, tokenFeatures], layers: layers, seed: seed)
    }
}

import NTKLinearAlgebra
import Testing

@testable import NTKNetworks

/// Every attention, transformer and graph layer and model goes through `DerivativeHarness.check`
/// (JVP vs finite differences, adjoint identities to 1e-12, block = singles, Float vs Double).
@Suite("Attention, transformer and graph layer derivatives")
struct AttentionLayerTests {
    /// A 5-node graph with a cycle, a chord and a pendant node; the duplicate (1, 0) and the
    /// self-loop (4, 4) must be ignored.
    static let edges = [(0, 1), (1, 2), (2, 3), (3, 0), (1, 3), (4, 2), (1, 0), (4, 4)]

    static let cases: [AttentionModels] = [
        .positionalEmbedding(tokens: 3, dimension: 4, maxLength: 5),
        .tokenLinear(tokens: 3, inFeatures: 4, outFeatures: 5, bias: true),
        .tokenLinear(tokens: 2, inFeatures: 3, outFeatures: 4, bias: false),
        .nodeMeanPool(nodes: 4, features: 3),
        .attention(tokens: 4, dimension: 6, heads: 2, causal: false, stacked: false, parameterization: .standard),
        .attention(tokens: 4, dimension: 6, heads: 2, causal: true, stacked: false, parameterization: .standard),
        .attention(tokens: 3, dimension: 4, heads: 1, causal: false, stacked: true, parameterization: .standard),
        .attention(tokens: 3, dimension: 6, heads: 3, causal: true, stacked: true, parameterization: .ntk(weightScale: 1.2, biasScale: 0.3)),
        .encoderBlock(tokens: 3, dimension: 4, heads: 2, feedForward: 8, causal: false, normalization: .layerNorm),
        .encoderBlock(tokens: 3, dimension: 4, heads: 2, feedForward: 8, causal: true, normalization: .layerNorm),
        .encoderBlock(tokens: 3, dimension: 4, heads: 2, feedForward: 8, causal: true, normalization: .tanh),
        .encoderBlock(tokens: 3, dimension: 4, heads: 2, feedForward: 8, causal: false, normalization: .none),
        .transformer(tokens: 3, features: 3, dimension: 4, heads: 2, feedForward: 6, blocks: 2, outputs: 2, causal: false),
        .transformer(tokens: 4, features: 2, dimension: 4, heads: 2, feedForward: 6, blocks: 1, outputs: 3, causal: true),
        .gcn(nodes: 5, edges: edges, inFeatures: 3, outFeatures: 4, parameterization: .standard),
        .gcn(nodes: 5, edges: edges, inFeatures: 2, outFeatures: 3, parameterization: .ntk(weightScale: 1.5, biasScale: 0.2)),
        .gcnNodeModel(nodes: 5, edges: edges, features: 3, hidden: [4, 4], classes: 2),
        .gcnGraphModel(nodes: 5, edges: edges, features: 3, hidden: [4], outputs: 2),
    ]

    @Test(arguments: cases)
    func derivatives(_ model: AttentionModels) throws {
        try DerivativeHarness.check(model)
    }

    /// The layer norms' gains start at 1; noisy gains exercise their derivatives too.
    @Test func encoderBlockWithPerturbedLayerNormGains() throws {
        try DerivativeHarness.check(
            AttentionModels.encoderBlock(tokens: 3, dimension: 4, heads: 2, feedForward: 6, causal: true, normalization: .layerNorm),
            DerivativeHarness.Options(parameterNoise: 0.3))
    }

    @Test func batchOfOne() throws {
        try DerivativeHarness.check(
            AttentionModels.transformer(tokens: 2, features: 3, dimension: 4, heads: 2, feedForward: 4, blocks: 1, outputs: 2, causal: true),
            DerivativeHarness.Options(batch: 1, seed: 7))
    }
}

import NTKNetworks

/// The transformer and graph families as `ModelSpec`s (small enough for the dense reference),
/// shared by the `EmpiricalNTK` and `StructuredNTK` tests.
enum SequenceAndGraphModels {
    /// Edges of a 4-node cycle with a chord.
    static let sources = [0, 1, 2, 3, 1], targets = [1, 2, 3, 0, 3]

    /// Token embedding, learned positions, one pre-LN encoder layer, mean over tokens, head:
    /// input [3, 2], k = 2.
    static func transformer(causal: Bool) -> ModelSpec {
        ModelSpec(inputShape: [3, 2], layers: [
            .attention(.tokenLinear(inFeatures: 2, outFeatures: 4)),
            .attention(.positionalEmbedding(embedDimension: 4)),
            .attention(.transformerEncoderLayer(embedDimension: 4, headCount: 2, feedForwardDimension: 5, causal: causal)),
            .attention(.nodeMeanPool),
            .linear(inFeatures: 4, outFeatures: 2),
        ])
    }

    /// Node-level GCN → tanh → GCN on 4 nodes, output the [4, 2] node logits flattened (k = 8).
    static let gcnNodes = ModelSpec(inputShape: [4, 2], layers: [
        .attention(.graphConvolution(inFeatures: 2, outFeatures: 3, sources: sources, targets: targets)),
        .activation(.tanh),
        .attention(.graphConvolution(inFeatures: 3, outFeatures: 2, sources: sources, targets: targets)),
        .flatten,
    ])

    /// Graph-level GCN → tanh → mean over nodes → Linear (k = 2).
    static let gcnGraph = ModelSpec(inputShape: [4, 2], layers: [
        .attention(.graphConvolution(inFeatures: 2, outFeatures: 3, sources: sources, targets: targets)),
        .activation(.tanh),
        .attention(.nodeMeanPool),
        .linear(inFeatures: 3, outFeatures: 2),
    ])

    /// Layer graphs (`ModelSpec.inputs`): a DenseNet-style block (convolutions whose outputs are
    /// concatenated with their inputs) and a two-path block merged by a product, a quotient and a
    /// skip connection, each with convolutions and dense layers for the structured rules.
    static let denseBlock = ModelSpec(inputShape: [2, 4, 4], layers: [
        .conv2d(inChannels: 2, outChannels: 2, kernelSize: 3, padding: 1),   // 0
        .activation(.tanh),                                                  // 1
        .merge(.concat(dim: 1)),                                             // 2: [x | h1], 4 channels
        .conv2d(inChannels: 4, outChannels: 2, kernelSize: 3, padding: 1),   // 3
        .activation(.tanh),                                                  // 4
        .merge(.concat(dim: 1)),                                             // 5: [x | h1 | h2], 6 channels
        .globalAvgPool, .linear(inFeatures: 6, outFeatures: 3),
    ], inputs: [[-1], [0], [-1, 1], [2], [3], [2, 4], [5], [6]])

    static let gatedBlock = ModelSpec(inputShape: [4, 4], layers: [
        .linear(inFeatures: 4, outFeatures: 4),   // 0: token-wise
        .activation(.tanh),                       // 1
        .linear(inFeatures: 4, outFeatures: 4),   // 2
        .activation(.softplus),                   // 3
        .merge(.mul),                             // 4: tanh(W₀x) ⊙ W₂h
        .merge(.div),                             // 5: … / softplus
        .merge(.add),                             // 6: + x
        .merge(.matmul),                          // 7: [4, 4] × [4, 4]
        .flatten, .linear(inFeatures: 16, outFeatures: 2),
    ], inputs: [[-1], [0], [1], [2], [1, 2], [4, 3], [5, -1], [6, 2], [7], [8]])

    static let all: [(String, ModelSpec)] = [
        ("transformer", transformer(causal: false)),
        ("transformer-causal", transformer(causal: true)),
        ("gcn-nodes", gcnNodes),
        ("gcn-graph", gcnGraph),
        ("dense-block", denseBlock),
        ("gated-block", gatedBlock),
    ]
}

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

    static let all: [(String, ModelSpec)] = [
        ("transformer", transformer(causal: false)),
        ("transformer-causal", transformer(causal: true)),
        ("gcn-nodes", gcnNodes),
        ("gcn-graph", gcnGraph),
    ]
}

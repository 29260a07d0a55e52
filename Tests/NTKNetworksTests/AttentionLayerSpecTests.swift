import Foundation
import NTKLinearAlgebra
import Testing

@testable import NTKNetworks

/// A bare chain of `AttentionLayerSpec`s as a `NetworkFactory` (in a `ModelSpec` they appear as `LayerSpec.attention`).
struct AttentionSpecChain: NetworkFactory {
    var inputShape: [Int]
    var layers: [AttentionLayerSpec]

    func build<S: BLASScalar>(_: S.Type, seed: UInt64) throws -> Network<S> {
        var shape = inputShape
        var built: [any Layer<S>] = []
        for (k, spec) in layers.enumerated() {
            let layer: any Layer<S> = try spec.makeLayer(inputShape: shape, parameterization: .standard, path: "\(k)")
            built.append(layer)
            shape = layer.outputShape
        }
        return try Network(inputShape: inputShape, layers: built, seed: seed)
    }
}

@Suite("Attention layer JSON specs")
struct AttentionLayerSpecTests {
    static let sequenceJSON = """
        [{"type": "token_linear", "in_features": 3, "out_features": 4},
         {"type": "positional_embedding", "embed_dim": 4, "max_len": 6},
         {"type": "multihead_attention", "embed_dim": 4, "num_heads": 2, "causal": true},
         {"type": "node_mean_pool"}]
        """
    static let graphJSON = """
        [{"type": "gcn", "in_features": 2, "out_features": 3, "edge_index": [[0, 1, 2, 3], [1, 2, 3, 0]]},
         {"type": "gcn", "in_features": 3, "out_features": 3, "edge_index": [[0, 1, 2, 3], [1, 2, 3, 0]]},
         {"type": "node_mean_pool"}]
        """

    @Test func decodedChainsPassTheHarness() throws {
        let sequence = try JSONDecoder().decode([AttentionLayerSpec].self, from: Data(Self.sequenceJSON.utf8))
        #expect(sequence == [
            .tokenLinear(inFeatures: 3, outFeatures: 4), .positionalEmbedding(embedDimension: 4, maxLength: 6),
            .multiheadAttention(embedDimension: 4, headCount: 2, causal: true), .nodeMeanPool,
        ])
        try DerivativeHarness.check(AttentionSpecChain(inputShape: [5, 3], layers: sequence))
        let graph = try JSONDecoder().decode([AttentionLayerSpec].self, from: Data(Self.graphJSON.utf8))
        try DerivativeHarness.check(AttentionSpecChain(inputShape: [4, 2], layers: graph))
    }

    @Test func roundTrip() throws {
        let specs = try JSONDecoder().decode([AttentionLayerSpec].self, from: Data((Self.sequenceJSON).utf8))
            + JSONDecoder().decode([AttentionLayerSpec].self, from: Data((Self.graphJSON).utf8))
        let decoded = try JSONDecoder().decode([AttentionLayerSpec].self, from: JSONEncoder().encode(specs))
        #expect(decoded == specs)
    }

    @Test func mismatchesNameTheLayerAndField() throws {
        let chain = AttentionSpecChain(inputShape: [5, 3], layers: [
            .tokenLinear(inFeatures: 3, outFeatures: 4), .multiheadAttention(embedDimension: 6, headCount: 2),
        ])
        #expect(throws: NetworkError.invalidLayer(
            layer: "1 (multihead_attention)", field: "embed_dim", message: "got 6, but the incoming feature count is 4")) {
            try chain.makeNetwork(Double.self, seed: 0)
        }
        let badHeads = AttentionSpecChain(inputShape: [5, 6], layers: [.multiheadAttention(embedDimension: 6, headCount: 4)])
        do {
            _ = try badHeads.makeNetwork(Double.self, seed: 0)
            Issue.record("4 heads cannot split 6 features")
        } catch let error as NetworkError {
            #expect(error.description.hasPrefix("layer 0 (multihead_attention), field num_heads"))
        }
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(AttentionLayerSpec.self, from: Data(#"{"type": "conv7d"}"#.utf8))
        }
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(AttentionLayerSpec.self, from: Data(#"{"type": "gcn", "in_features": 1, "out_features": 1, "edge_index": [[0]]}"#.utf8))
        }
    }
}

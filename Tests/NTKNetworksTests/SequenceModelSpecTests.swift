import Foundation
import NTKLinearAlgebra
import Testing

@testable import NTKNetworks

/// Sequence and graph layers inside a `ModelSpec` JSON (`LayerSpec.attention`), including
/// `transformer_encoder_layer`: decode, round trip, build, derivative harness, typed errors.
@Suite("ModelSpec JSON with transformer and graph layers")
struct SequenceModelSpecTests {
    static func transformerJSON(causal: Bool) -> String {
        """
        {"input_shape": [4, 3], "layers": [
          {"type": "token_linear", "in_features": 3, "out_features": 4},
          {"type": "positional_embedding", "embed_dim": 4},
          {"type": "transformer_encoder_layer", "d_model": 4, "nhead": 2, "dim_feedforward": 6, "norm_first": true,
           "causal": \(causal)},
          {"type": "transformer_encoder_layer", "d_model": 4, "nhead": 1, "dim_feedforward": 5, "norm_first": true,
           "activation": "gelu", "layer_norm_eps": 1e-6, "causal": \(causal)},
          {"type": "node_mean_pool"},
          {"type": "linear", "in_features": 4, "out_features": 2}]}
        """
    }

    static let graphJSON = """
        {"input_shape": [5, 2], "layers": [
          {"type": "gcn", "in_features": 2, "out_features": 3, "edge_index": [[0, 1, 2, 3, 1], [1, 2, 3, 0, 4]]},
          {"type": "tanh"},
          {"type": "gcn", "in_features": 3, "out_features": 4, "edge_index": [[0, 1, 2, 3, 1], [1, 2, 3, 0, 4]]},
          {"type": "tanh"},
          {"type": "node_mean_pool"},
          {"type": "linear", "in_features": 4, "out_features": 2}]}
        """

    @Test(arguments: [false, true])
    func jsonTransformerDecodesBuildsAndPassesTheHarness(causal: Bool) throws {
        let spec = try ModelSpec.decode(json: Data(Self.transformerJSON(causal: causal).utf8))
        #expect(spec.layers[2] == .attention(.transformerEncoderLayer(
            embedDimension: 4, headCount: 2, feedForwardDimension: 6, causal: causal)))
        #expect(spec.layers[3] == .attention(.transformerEncoderLayer(
            embedDimension: 4, headCount: 1, feedForwardDimension: 5, causal: causal, layerNormEpsilon: 1e-6)))
        #expect(try ModelSpec.decode(json: spec.encodedJSON()) == spec)
        let network: Network<Double> = try spec.makeNetwork(seed: 2)
        #expect(network.outputShape == [2])
        let names = network.parameterTensors.map(\.name)
        for name in ["2.norm1.weight", "2.self_attn.in_proj_weight", "2.norm2.bias", "3.linear1.weight", "5.weight"] {
            #expect(names.contains(name), "\(name)")
        }
        let block = try #require(network.body.layers[3] as? TransformerEncoderBlock<Double>)
        #expect((block.attentionBranch.layers.first as? LayerNorm<Double>)?.epsilon == 1e-6)
        try DerivativeHarness.check(spec, DerivativeHarness.Options(parameterNoise: 0.2))
    }

    @Test func jsonGraphModelDecodesBuildsAndPassesTheHarness() throws {
        let spec = try ModelSpec.decode(json: Data(Self.graphJSON.utf8))
        #expect(spec.layers[0] == .attention(.graphConvolution(
            inFeatures: 2, outFeatures: 3, sources: [0, 1, 2, 3, 1], targets: [1, 2, 3, 0, 4])))
        #expect(spec.layers[4] == .attention(.nodeMeanPool) && spec.layers[4].typeName == "node_mean_pool")
        #expect(try ModelSpec.decode(json: spec.encodedJSON()) == spec)
        let network: Network<Double> = try spec.makeNetwork(seed: 2)
        #expect(network.parameterCount == (2 * 3 + 3) + (3 * 4 + 4) + (4 * 2 + 2))
        try DerivativeHarness.check(spec, DerivativeHarness.Options(parameterNoise: 0.2))
    }

    @Test func malformedFieldsNameTheLayerAndField() throws {
        let specs = ModelSpecTests()
        let head = #"{"input_shape": [3, 4], "layers": [{"type": "tanh"}, "#
        func layer(_ fields: String) -> String { head + #"{"type": "transformer_encoder_layer", "# + fields + "}]}" }
        let complete = #""d_model": 4, "nhead": 2, "dim_feedforward": 6"#
        // Decoding: the JSON path of the field.
        let post = specs.specError(layer(complete + #", "norm_first": false"#))
        #expect(post?.path == "layers[1].norm_first")
        #expect(post?.message.contains("expected true") == true)
        #expect(specs.specError(layer(complete))?.path == "layers[1].norm_first")
        #expect(specs.specError(layer(#""d_model": 4, "dim_feedforward": 6, "norm_first": true"#))?.path == "layers[1].nhead")
        #expect(specs.specError(layer(complete + #", "norm_first": true, "activation": "relu""#))?.path == "layers[1].activation")
        #expect(specs.specError(layer(#""d_model": "4", "nhead": 2, "dim_feedforward": 6, "norm_first": true"#))?.path
                == "layers[1].d_model")
        #expect(specs.specError(head + #"{"type": "gcn", "in_features": 4, "out_features": 2, "edge_index": [[0, 1]]}]}"#)?.path
                == "layers[1].edge_index")
        // Building: the layer index and the PyTorch field.
        func built(_ layers: [LayerSpec]) -> (layer: String, field: String)? {
            specs.invalidLayer(ModelSpec(inputShape: [3, 4], layers: [.activation(.tanh)] + layers))
        }
        let wrongWidth = built([.attention(.transformerEncoderLayer(embedDimension: 6, headCount: 2, feedForwardDimension: 6))])
        #expect(wrongWidth?.layer == "1 (transformer_encoder_layer)" && wrongWidth?.field == "d_model")
        #expect(built([.attention(.transformerEncoderLayer(embedDimension: 4, headCount: 3, feedForwardDimension: 6))])?.field == "nhead")
        #expect(built([.attention(.transformerEncoderLayer(embedDimension: 4, headCount: 2, feedForwardDimension: 0))])?.field
                == "dim_feedforward")
        #expect(built([.attention(.transformerEncoderLayer(
            embedDimension: 4, headCount: 2, feedForwardDimension: 6, layerNormEpsilon: 0))])?.field == "layer_norm_eps")
        let badEdge = built([.attention(.graphConvolution(inFeatures: 4, outFeatures: 2, sources: [0, 7], targets: [1, 2]))])
        #expect(badEdge?.layer == "1 (gcn)" && badEdge?.field == "edge_index")
        #expect(built([.flatten, .attention(.nodeMeanPool)])?.layer == "2 (node_mean_pool)")
        // The unknown-type message lists the sequence and graph types too.
        let unknown = specs.specError(head + #"{"type": "transformer"}]}"#)
        #expect(unknown?.path == "layers[1].type" && unknown?.message.contains("transformer_encoder_layer") == true)
    }
}

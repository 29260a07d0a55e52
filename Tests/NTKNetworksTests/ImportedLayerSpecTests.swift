import Foundation
import NTKLinearAlgebra
import Testing

@testable import NTKNetworks

@Suite("LayerSpec: batchnorm, maxpool2d, dropout, embedding, softmax")
struct ImportedLayerSpecTests {
    func specError(_ json: String) -> (path: String, message: String)? { decodingSpecError(json) }

    func invalidLayer(_ spec: ModelSpec) -> (layer: String, field: String)? {
        do {
            let _: Network<Double> = try spec.makeNetwork()
            return nil
        } catch let NetworkError.invalidLayer(layer, field, _) {
            return (layer, field)
        } catch {
            return nil
        }
    }

    @Test func jsonRoundTripWithPyTorchArgumentNames() throws {
        let json = #"""
            {"input_shape": [2, 8, 8], "layers": [
              {"type": "conv2d", "in_channels": 2, "out_channels": 4, "kernel_size": 3, "padding": 1},
              {"type": "BatchNorm2d", "num_features": 4, "eps": 0.001, "momentum": null, "affine": true, "track_running_stats": true},
              {"type": "relu"},
              {"type": "maxpool2d", "kernel_size": 3, "stride": 2, "padding": 1, "dilation": 1, "ceil_mode": false, "return_indices": false},
              {"type": "dropout", "p": 0.25, "inplace": false},
              {"type": "flatten"},
              {"type": "batchnorm1d", "num_features": 64, "momentum": 0.2, "affine": false},
              {"type": "linear", "in_features": 64, "out_features": 3},
              {"type": "softmax", "dim": 1}]}
            """#
        let spec = try ModelSpec.decode(json: Data(json.utf8))
        #expect(spec.layers[1] == .batchNorm2d(numFeatures: 4, epsilon: 0.001, momentum: nil, affine: true))
        #expect(spec.layers[3] == .maxPool2d(kernelSize: 3, stride: 2, padding: 1))
        #expect(spec.layers[4] == .dropout(p: 0.25))
        #expect(spec.layers[6] == .batchNorm1d(numFeatures: 64, momentum: 0.2, affine: false))
        #expect(spec.layers[8] == .softmax(dim: 1))
        let again = try ModelSpec.decode(json: spec.encodedJSON())
        #expect(again == spec)
        let network: Network<Double> = try spec.makeNetwork()
        #expect(network.outputShape == [3])
        #expect(network.parameterCount == (2 * 9 * 4 + 4) + 2 * 4 + (64 * 3 + 3))
        #expect(network.bufferTensors.map(\.name) == ["1.running_mean", "1.running_var", "6.running_mean", "6.running_var"])
        // Defaults: momentum 0.1, eps 1e-5, stride = kernel, padding 0, p 0.5.
        let defaults = try ModelSpec.decode(json: Data(#"""
            {"input_shape": [3, 4, 4], "layers": [{"type": "batchnorm2d", "num_features": 3}, {"type": "maxpool2d", "kernel_size": 2},
              {"type": "dropout"}]}
            """#.utf8))
        #expect(defaults.layers == [.batchNorm2d(numFeatures: 3), .maxPool2d(kernelSize: 2), .dropout()])
        #expect(try ModelSpec.decode(json: defaults.encodedJSON()) == defaults)
    }

    @Test func embeddingSpec() throws {
        let spec = try ModelSpec.decode(json: Data(#"""
            {"input_shape": [6], "layers": [{"type": "embedding", "num_embeddings": 100, "embedding_dim": 8},
              {"type": "layernorm", "normalized_shape": 8}, {"type": "softmax", "dim": -1}]}
            """#.utf8))
        #expect(spec.layers[0] == .embedding(numEmbeddings: 100, embeddingDimension: 8))
        #expect(try ModelSpec.decode(json: spec.encodedJSON()) == spec)
        let network: Network<Float> = try spec.makeNetwork()
        #expect(network.outputShape == [6, 8])
        #expect(network.parameterTensors.first == ParameterTensor(name: "0.weight", shape: [100, 8], offset: 0))
    }

    @Test func unsupportedOptionsAreRefusedWithThePath() {
        let bn = #"{"input_shape": [3, 4, 4], "layers": [{"type": "batchnorm2d", "num_features": 3, "#
        let refused = specError(bn + #""track_running_stats": false}]}"#)
        #expect(refused?.path == "layers[0].track_running_stats")
        #expect(refused?.message.contains("track_running_stats true") == true)
        #expect(specError(bn + #""momentum": "fast"}]}"#)?.path == "layers[0].momentum")
        #expect(specError(bn + #""affine": 1}]}"#)?.path == "layers[0].affine")
        #expect(specError(bn + #""running_mean": [0, 0, 0]}]}"#)?.path == "layers[0].running_mean")
        #expect(specError(#"{"input_shape": [3], "layers": [{"type": "batchnorm1d"}]}"#)?.path == "layers[0].num_features")
        let pool = #"{"input_shape": [1, 4, 4], "layers": [{"type": "maxpool2d", "kernel_size": 2, "#
        #expect(specError(pool + #""dilation": 2}]}"#)?.path == "layers[0].dilation")
        #expect(specError(pool + #""ceil_mode": true}]}"#)?.path == "layers[0].ceil_mode")
        #expect(specError(pool + #""return_indices": true}]}"#)?.path == "layers[0].return_indices")
        #expect(specError(pool + #""stride": [1, 2, 3]}]}"#)?.path == "layers[0].stride")
        #expect(specError(#"{"input_shape": [4], "layers": [{"type": "dropout", "p": "half"}]}"#)?.path == "layers[0].p")
        #expect(specError(#"{"input_shape": [4], "layers": [{"type": "embedding", "num_embeddings": 4}]}"#)?.path == "layers[0].embedding_dim")
        #expect(specError(#"{"input_shape": [4], "layers": [{"type": "embedding", "num_embeddings": 4, "embedding_dim": 2, "padding_idx": 0}]}"#)?.path
            == "layers[0].padding_idx")
        #expect(specError(#"{"input_shape": [4], "layers": [{"type": "softmax"}]}"#)?.path == "layers[0].dim")
    }

    @Test func invalidLayersNameTheField() {
        #expect(invalidLayer(ModelSpec(inputShape: [3, 4, 4], layers: [.batchNorm2d(numFeatures: 4)]))?.field == "num_features")
        #expect(invalidLayer(ModelSpec(inputShape: [3, 4, 4], layers: [.batchNorm1d(numFeatures: 3)]))?.field == "num_features")
        #expect(invalidLayer(ModelSpec(inputShape: [3], layers: [.batchNorm2d(numFeatures: 3)]))?.field == "num_features")
        #expect(invalidLayer(ModelSpec(inputShape: [3], layers: [.batchNorm1d(numFeatures: 3, epsilon: 0)]))?.field == "eps")
        #expect(invalidLayer(ModelSpec(inputShape: [1, 4, 4], layers: [.maxPool2d(kernelSize: 2, padding: 2)]))?.field == "padding")
        #expect(invalidLayer(ModelSpec(inputShape: [1, 2, 2], layers: [.maxPool2d(kernelSize: 3)]))?.field == "kernel_size")
        #expect(invalidLayer(ModelSpec(inputShape: [4], layers: [.maxPool2d(kernelSize: 2)]))?.layer == "0 (maxpool2d)")
        #expect(invalidLayer(ModelSpec(inputShape: [4], layers: [.dropout(p: 1)]))?.field == "p")
        #expect(invalidLayer(ModelSpec(inputShape: [4], layers: [.dropout(p: -0.1)]))?.field == "p")
        #expect(invalidLayer(ModelSpec(inputShape: [4], layers: [.embedding(numEmbeddings: 0, embeddingDimension: 2)]))?.field == "num_embeddings")
        #expect(invalidLayer(ModelSpec(inputShape: [4], layers: [.softmax(dim: 0)]))?.field == "dim")
        #expect(invalidLayer(ModelSpec(inputShape: [4], layers: [.softmax(dim: 2)]))?.field == "dim")
        #expect(invalidLayer(ModelSpec(inputShape: [4], layers: [.residual([.batchNorm1d(numFeatures: 5)])]))?.layer == "0.layers.0 (batchnorm1d)")
    }
}

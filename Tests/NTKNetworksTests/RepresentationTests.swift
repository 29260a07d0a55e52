import Foundation
import NTKLinearAlgebra
import Testing

@testable import NTKNetworks

@Suite("Hidden representations (prefix networks) and the initialization scale")
struct RepresentationTests {
    /// The representation after (Linear, tanh) equals tanh(W x + b) from the stored tensors
    /// (PyTorch layout: "0.weight" [out, in], "0.bias"), to 1e-13 relative.
    @Test func prefixOfAnMLPIsTheFirstHiddenLayer() throws {
        let network = try Network<Double>.mlp(inputSize: 5, hiddenSizes: [7, 6], outputSize: 3, activation: .tanh, seed: 11)
        var rng = SeededGenerator(seed: 12)
        let x = try Matrix<Double>(rows: 4, columns: 5, storage: .gaussian(count: 20, using: &rng))
        let h = try network.representations(x, afterLayers: 2)
        #expect(h.rows == 4 && h.columns == 7)
        let w = Array(network.parameters[0..<35]), b = Array(network.parameters[35..<42])
        for i in 0..<4 {
            for o in 0..<7 {
                var z = b[o]
                for j in 0..<5 { z += w[o * 5 + j] * x[i, j] }
                #expect(abs(h[i, o] - tanh(z)) <= 1e-13 * max(1, abs(z)))
            }
        }
    }

    /// Encoder then decoder (the remaining layers with the remaining parameter slice) is the
    /// network: for an MLP, a CNN, a ResNet (residual blocks are single layers of the chain) and
    /// a transformer encoder, at every split point, to 1e-12 relative.
    @Test func encoderThenDecoderIsTheNetwork() throws {
        let networks: [Network<Double>] = [
            try Network<Double>.mlp(inputSize: 16, hiddenSizes: [8, 8], outputSize: 2, activation: .relu, seed: 1),
            try ModelSpec.cnn(inputShape: [1, 4, 4], channels: [3, 4], outputSize: 2, activation: .tanh).makeNetwork(seed: 2),
            try ModelSpec.resnet(inputShape: [1, 4, 4], width: 3, blocks: 2, outputSize: 2, activation: .relu).makeNetwork(seed: 3),
            try Network<Double>.transformerEncoder(
                sequenceLength: 4, tokenFeatures: 4, embedDimension: 8, headCount: 2, feedForwardDimension: 8, blockCount: 2,
                outputSize: 2, seed: 4),
        ]
        var rng = SeededGenerator(seed: 5)
        for network in networks {
            let x = try Matrix<Double>(rows: 3, columns: 16, storage: .gaussian(count: 48, using: &rng))
            let full = try network.forward(x)
            for split in 1..<network.layers.count {
                let encoder = try network.prefix(layers: split)
                let h = try encoder.forward(x)
                let decoder = try Network<Double>(
                    body: Sequential(inputShape: encoder.outputShape, layers: Array(network.layers[split...])),
                    parameters: Array(network.parameters[network.body.parameterOffsets[split]...]))
                let y = try decoder.forward(h)
                for e in 0..<full.storage.count {
                    #expect(abs(y.storage[e] - full.storage[e]) <= 1e-12 * max(1, abs(full.storage[e])))
                }
            }
        }
    }

    @Test func prefixRejectsBadCounts() throws {
        let network = try Network<Double>.mlp(inputSize: 3, hiddenSizes: [4], outputSize: 1, seed: 0)
        #expect(throws: NetworkError.self) { try network.prefix(layers: 0) }
        #expect(throws: NetworkError.self) { try network.prefix(layers: 4) }
        #expect(throws: NetworkError.self) { try network.scalingParameters(by: 0) }
        #expect(throws: NetworkError.self) { try network.scalingParameters(by: .nan) }
    }

    /// α·θ: every parameter scaled; a bias-free two-layer ReLU network is positively
    /// homogeneous of degree 2 in θ, so its outputs scale by α² (1e-13 relative).
    @Test func scalingParametersScalesAHomogeneousNetwork() throws {
        let network = try Network<Double>.mlp(inputSize: 4, hiddenSizes: [6], outputSize: 2, activation: .relu, bias: false, seed: 7)
        let alpha = 0.3
        let scaled = try network.scalingParameters(by: alpha)
        for p in 0..<network.parameterCount { #expect(scaled.parameters[p] == network.parameters[p] * alpha) }
        var rng = SeededGenerator(seed: 8)
        let x = try Matrix<Double>(rows: 5, columns: 4, storage: .gaussian(count: 20, using: &rng))
        let y = try network.forward(x), ys = try scaled.forward(x)
        for e in 0..<y.storage.count { #expect(abs(ys.storage[e] - alpha * alpha * y.storage[e]) <= 1e-13 * max(1, abs(y.storage[e]))) }
    }
}

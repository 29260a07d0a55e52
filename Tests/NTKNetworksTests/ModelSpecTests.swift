import Foundation
import NTKLinearAlgebra
import Testing

@testable import NTKNetworks

@Suite("ModelSpec validation and JSON")
struct ModelSpecTests {
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

    @Test func jsonRoundTripAndPyTorchFieldNames() throws {
        let json = #"""
            {"input_shape": [1, 8, 8], "parameterization": "ntk", "weight_scale": 1.4, "layers": [
              {"type": "conv2d", "in_channels": 1, "out_channels": 4, "kernel_size": 3, "stride": 1, "padding": 1},
              {"type": "relu"}, {"type": "avgpool2d", "kernel_size": 2},
              {"type": "residual", "layers": [{"type": "conv2d", "in_channels": 4, "out_channels": 4, "kernel_size": [3, 3], "padding": [1, 1], "bias": false}]},
              {"type": "layernorm", "normalized_shape": [4, 4]},
              {"type": "adaptiveavgpool2d", "output_size": 1}, {"type": "flatten"},
              {"type": "linear", "in_features": 4, "out_features": 10}, {"type": "softplus"}]}
            """#
        let spec = try ModelSpec.decode(json: Data(json.utf8))
        #expect(spec.parameterization == .ntk(weightScale: 1.4, biasScale: 1))
        #expect(spec.layers.count == 9)
        #expect(spec.layers[3] == .residual([.conv2d(inChannels: 4, outChannels: 4, kernelSize: 3, padding: 1, bias: false)]))
        let again = try ModelSpec.decode(json: spec.encodedJSON())
        #expect(again == spec)
        let network: Network<Float> = try spec.makeNetwork()
        #expect(network.outputShape == [10])
        #expect(network.parameterCount == (4 * 9 + 4) + 4 * 4 * 9 + 2 * 16 + (4 * 10 + 10))
    }

    @Test func mismatchedInFeaturesNamesLayerAndField() {
        let spec = ModelSpec(inputShape: [4], layers: [
            .linear(inFeatures: 4, outFeatures: 8), .activation(.tanh), .linear(inFeatures: 7, outFeatures: 2),
        ])
        let failure = invalidLayer(spec)
        #expect(failure?.layer == "2 (linear)")
        #expect(failure?.field == "in_features")
    }

    @Test func mismatchedInChannelsNamesLayerAndField() {
        let spec = ModelSpec(inputShape: [3, 8, 8], layers: [.conv2d(inChannels: 1, outChannels: 2, kernelSize: 3)])
        #expect(invalidLayer(spec)?.field == "in_channels")
        let tooBig = ModelSpec(inputShape: [1, 2, 2], layers: [.conv2d(inChannels: 1, outChannels: 2, kernelSize: 5)])
        #expect(invalidLayer(tooBig)?.field == "kernel_size")
        #expect(invalidLayer(tooBig)?.layer == "0 (conv2d)")
    }

    @Test func nestedErrorsCarryThePath() {
        let spec = ModelSpec(inputShape: [4], layers: [
            .linear(inFeatures: 4, outFeatures: 4), .residual([.activation(.relu), .linear(inFeatures: 5, outFeatures: 4)]),
        ])
        #expect(invalidLayer(spec)?.layer == "1.layers.1 (linear)")
        let shapeChange = ModelSpec(inputShape: [4], layers: [.residual([.linear(inFeatures: 4, outFeatures: 3)])])
        #expect(invalidLayer(shapeChange)?.field == "layers")
    }

    @Test func otherInvalidLayers() {
        #expect(invalidLayer(ModelSpec(inputShape: [4], layers: [.layerNorm(normalizedShape: [5])]))?.field == "normalized_shape")
        #expect(invalidLayer(ModelSpec(inputShape: [4], layers: [.globalAvgPool]))?.field == "input_shape")
        #expect(invalidLayer(ModelSpec(inputShape: [1, 3, 3], layers: [.avgPool2d(kernelSize: 4)]))?.field == "kernel_size")
        #expect(invalidLayer(ModelSpec(inputShape: [4], layers: []))?.field == "layers")
        #expect(invalidLayer(ModelSpec(inputShape: [0], layers: [.flatten]))?.field == "input_shape")
        #expect(invalidLayer(ModelSpec(inputShape: [4], layers: [.linear(inFeatures: 4, outFeatures: 0)]))?.field == "out_features")
        #expect(invalidLayer(ModelSpec(inputShape: [1 << 40], layers: [.linear(inFeatures: 1 << 40, outFeatures: 1 << 40)]))?.field == "out_features")
        #expect(invalidLayer(ModelSpec(inputShape: [1 << 40, 3, 3], layers: [.conv2d(inChannels: 1 << 40, outChannels: 1 << 40, kernelSize: 1)]))?.field == "kernel_size")
    }

    func specError(_ json: String) -> (path: String, message: String)? { decodingSpecError(json) }

    @Test func decodingErrorsNameThePath() {
        let unknown = specError(#"{"input_shape": [2], "layers": [{"type": "tanh"}, {"type": "instancenorm1d"}]}"#)
        #expect(unknown?.path == "layers[1].type")
        #expect(unknown?.message.contains("instancenorm1d") == true)
        #expect(specError(#"{"input_shape": [2], "parameterization": "mup", "layers": [{"type": "tanh"}]}"#)?.path == "parameterization")
        #expect(specError(#"{"input_shape": [4], "layers": [{"type": "linear", "in_features": 4}]}"#)?.path == "layers[0].out_features")
        #expect(specError(#"{"input_shape": [4], "layers": [{"type": "linear", "in_features": "4", "out_features": 2}]}"#)?.path == "layers[0].in_features")
        #expect(specError(#"{"layers": []}"#)?.path == "input_shape")
        #expect(specError("not json")?.path == "(root)")
    }

    @Test func unsupportedPyTorchOptionsAreRefused() {
        let conv = #"{"input_shape": [1, 5, 5], "layers": [{"type": "conv2d", "in_channels": 1, "out_channels": 1, "#
        #expect(specError(conv + #""kernel_size": 3, "dilation": 2}]}"#)?.path == "layers[0].dilation")
        #expect(specError(conv + #""kernel_size": 3, "groups": 2}]}"#)?.path == "layers[0].groups")
        #expect(specError(conv + #""kernel_size": 3, "padding_mode": "reflect"}]}"#)?.path == "layers[0].padding_mode")
        #expect(specError(conv + #""kernel_size": [3, 3, 3]}]}"#)?.path == "layers[0].kernel_size")
        #expect(specError(#"{"input_shape": [1, 4, 4], "layers": [{"type": "avgpool2d", "kernel_size": 2, "padding": 1}]}"#)?.path == "layers[0].padding")
        #expect(specError(#"{"input_shape": [1, 4, 4], "layers": [{"type": "adaptiveavgpool2d", "output_size": 2}]}"#)?.path == "layers[0].output_size")
        #expect(specError(#"{"input_shape": [4], "layers": [{"type": "layernorm", "normalized_shape": 4, "bias": false}]}"#)?.path == "layers[0].bias")
    }
}

@Suite("Parameterizations")
struct ParameterizationTests {
    /// Standard: U(−a, a) with a = 1/√fan_in for weight and bias; the sample variance of the
    /// 3000 weights matches a²/3 within 5 standard errors (SE = √(4/45)·a²/√n).
    @Test func standardInitialization() throws {
        let network: Network<Double> = try ModelSpec(inputShape: [100], layers: [.linear(inFeatures: 100, outFeatures: 30)]).makeNetwork(seed: 11)
        let a = 1 / 100.0.squareRoot()
        #expect(network.parameters.allSatisfy { abs($0) <= a })
        let weights = Array(network.parameters[0..<3000])
        let variance = weights.reduce(0) { $0 + $1 * $1 } / 3000
        #expect(abs(variance - a * a / 3) <= 5 * (4.0 / 45).squareRoot() * a * a / 3000.0.squareRoot())
        let conv: Network<Double> = try ModelSpec(inputShape: [3, 5, 5], layers: [.conv2d(inChannels: 3, outChannels: 4, kernelSize: 3)]).makeNetwork(seed: 2)
        #expect(conv.parameters.allSatisfy { abs($0) <= 1 / 27.0.squareRoot() })
        let norm: Network<Double> = try ModelSpec(inputShape: [6], layers: [.layerNorm(normalizedShape: [6])]).makeNetwork(seed: 2)
        #expect(norm.parameters == [1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    }

    /// NTK: N(0, 1) parameters (variance within 5 SE = 5√(2/n)), forward σ_w/√in · W x + σ_b b.
    @Test func ntkInitializationAndScaling() throws {
        try BLASThreads.set(1)
        let sigmaW = 1.7, sigmaB = 0.3
        let network: Network<Double> = try ModelSpec(
            inputShape: [50], layers: [.linear(inFeatures: 50, outFeatures: 40)],
            parameterization: .ntk(weightScale: sigmaW, biasScale: sigmaB)).makeNetwork(seed: 4)
        let n = Double(network.parameterCount)
        let variance = network.parameters.reduce(0) { $0 + $1 * $1 } / n
        #expect(abs(variance - 1) <= 5 * (2 / n).squareRoot())
        var rng = SeededGenerator(seed: 9)
        let x = try Matrix<Double>(rows: 2, columns: 50, storage: .gaussian(count: 100, using: &rng))
        let w = try Matrix(rows: 40, columns: 50, storage: Array(network.parameters[0..<2000]))
        let bias = Array(network.parameters[2000..<2040])
        let expected = try x.multiplied(by: w, transposeOther: true)
        let y = try network.forward(x)
        var error = 0.0, scale = 0.0
        for i in 0..<2 {
            for o in 0..<40 {
                let e = sigmaW / 50.0.squareRoot() * expected[i, o] + sigmaB * bias[o]
                error = max(error, abs(y[i, o] - e))
                scale = max(scale, abs(e))
            }
        }
        #expect(error <= 100 * Double.ulpOfOne * scale)
    }
}

@Suite("Network argument checks")
struct NetworkArgumentTests {
    @Test func forwardAndDerivativeChecks() throws {
        let network = try Network<Double>.mlp(inputSize: 3, hiddenSizes: [4], outputSize: 2, seed: 1)
        let cache = network.makeForwardCache(capacity: 2)
        let x = [Double](repeating: 0.5, count: 9)
        #expect(throws: NetworkError.capacityExceeded(name: "forward cache batch", requested: 3, capacity: 2)) {
            try x.withUnsafeBufferPointer { try network.forward(inputs: $0, batch: 3, into: cache) }
        }
        #expect(throws: NetworkError.sizeMismatch(name: "inputs", got: 9, expected: "batch × inputSize = 2 × 3")) {
            try x.withUnsafeBufferPointer { try network.forward(inputs: $0, batch: 2, into: cache) }
        }
        var bad = x
        bad[4] = .nan
        #expect(throws: NetworkError.nonFinite(name: "inputs")) {
            try bad.withUnsafeBufferPointer { try network.forward(inputs: UnsafeBufferPointer(rebasing: $0[0..<6]), batch: 2, into: cache) }
        }
        let tangents = [Double](repeating: 1, count: 4 * network.parameterCount)
        var out = [Double](repeating: 0, count: 2 * 4 * 2)
        let small = network.makeBlockWorkspace(batch: 2, block: 1)
        // An unfilled cache is refused.
        #expect(throws: NetworkError.self) {
            try network.jvp(cache: cache, parameterTangents: tangents, block: 1, workspace: small, outputTangents: &out)
        }
        try x.withUnsafeBufferPointer { try network.forward(inputs: UnsafeBufferPointer(rebasing: $0[0..<6]), batch: 2, into: cache) }
        // A block wider than the workspace is refused.
        #expect(throws: NetworkError.self) {
            try network.jvp(cache: cache, parameterTangents: tangents, block: 4, workspace: small, outputTangents: &out)
        }
        // A cache from another network is refused.
        let other = try Network<Double>.mlp(inputSize: 3, hiddenSizes: [5], outputSize: 2)
        #expect(throws: NetworkError.self) {
            try other.jvp(cache: cache, parameterTangents: tangents, block: 1, workspace: small, outputTangents: &out)
        }
        var nonFinite = network
        nonFinite.parameters[0] = .infinity
        #expect(throws: NetworkError.nonFinite(name: "parameters")) {
            try x.withUnsafeBufferPointer { try nonFinite.forward(inputs: UnsafeBufferPointer(rebasing: $0[0..<6]), batch: 2, into: cache) }
        }
    }

    /// A cache and workspace sized for a large batch serve a smaller last batch.
    @Test func smallerBatchReusesBuffers() throws {
        try BLASThreads.set(1)
        let network = try Network<Double>.mlp(inputSize: 3, hiddenSizes: [4], outputSize: 2, seed: 1)
        let cache = network.makeForwardCache(capacity: 5)
        let workspace = network.makeBlockWorkspace(batch: 5, block: 3)
        // Inputs 5·3 + outputs 5·2 + two intermediate activations (Linear and tanh outputs)
        // 2·5·4 + tanh derivative 5·4 scalars.
        #expect(cache.byteCount == (15 + 10 + 40 + 20) * 8)
        // Two Linear packs: max(3·(4·3), 3·(2·4)) = 36 scalars plus ping-pong [5, 3, 4] × 2.
        #expect(workspace.byteCount == (36 + 2 * 5 * 3 * 4) * 8)
        var rng = SeededGenerator(seed: 3)
        let x = [Double].gaussian(count: 6, using: &rng)
        try x.withUnsafeBufferPointer { try network.forward(inputs: $0, batch: 2, into: cache) }
        let fresh = try x.withUnsafeBufferPointer { try network.forwardCache(inputs: $0, batch: 2) }
        // Same arithmetic on the same data: agreement to a few ulps.
        #expect(zip(cache.outputs.storage, fresh.outputs.storage).allSatisfy { abs($0 - $1) <= 4 * Double.ulpOfOne * max(1, abs($1)) })
        let v = [Double].gaussian(count: 2 * network.parameterCount, using: &rng)
        var a = [Double](repeating: 0, count: 2 * 2 * 2), b = a
        try network.jvp(cache: cache, parameterTangents: v, block: 2, workspace: workspace, outputTangents: &a)
        try network.jvp(cache: fresh, parameterTangents: v, block: 2, workspace: network.makeBlockWorkspace(batch: 2, block: 2), outputTangents: &b)
        #expect(zip(a, b).allSatisfy { abs($0 - $1) <= 1e-14 * max(1, abs($1)) })
    }
}

@Suite("Network description")
struct NetworkDescriptionTests {
    @Test func listsLayers() throws {
        let network = try Network<Float>.mlp(inputSize: 3, hiddenSizes: [4], outputSize: 2, activation: .gelu)
        let text = network.description
        #expect(text.contains("P = 26"))
        #expect(text.contains("0: Linear → [4], 16 parameters"))
        #expect(text.contains("1: Activation(gelu) → [4], 0 parameters"))
    }
}

/// The path and message of the `NetworkError.invalidSpec` that decoding `json` throws, or nil
/// (it decoded, or failed otherwise).
func decodingSpecError(_ json: String) -> (path: String, message: String)? {
    do {
        _ = try ModelSpec.decode(json: Data(json.utf8))
        return nil
    } catch let NetworkError.invalidSpec(path, message) {
        return (path, message)
    } catch {
        return nil
    }
}

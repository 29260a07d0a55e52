import Foundation
import NTKLinearAlgebra
import Testing
@testable import NTKNetworks

/// Layer graphs (`Sequential` with wiring): merge layers and fan-out checked by the derivative
/// harness (finite differences, adjoints, blocks, Float vs Double), the per-layer backprop
/// signals reassembling the whole-network derivatives, and a graph written out by hand agreeing
/// with the chain that computes the same function (`Residual`).
@Suite("Layer graphs")
struct GraphTests {
    init() throws { try BLASThreads.set(1) }

    /// Small graphs, each exercising one wiring feature.
    enum Graph: NetworkFactory, CaseIterable {
        /// y = W₃ tanh(W₂ h + h), h = tanh(W₁ x): a residual block as a graph.
        case residual
        /// A DenseNet-style block: h₁ = tanh(W₁x), h₂ = tanh(W₂[x | h₁]), y = W₃[x | h₁ | h₂].
        case denseConcat
        /// A gate and a quotient: y = W₃ ((W₁x) ⊙ tanh(W₂x) + (W₁x) / softplus(W₂x)), x read by two layers.
        case gatedQuotient
        /// A matrix product of two activations (as attention's scores), times the input.
        case bilinear
        /// A node read twice by one merge (x + x), a dead branch and a broadcast add of a [F] node to [T, F].
        case fanOut
        /// The importer's data movement and parameter layers: a slice and a repeat of tokens
        /// (`IndexSelect`), a trainable [1, F] table added to [T, F] (`ParameterAdd`).
        case selectAndAdd


        func build<S: BLASScalar>(_: S.Type, seed: UInt64) throws -> Network<S> {
            let layers: [any Layer<S>], inputs: [[Int]], shape: [Int]
            switch self {
            case .residual:
                shape = [4]
                layers = [
                    try Linear<S>(inFeatures: 4, outFeatures: 5), Activation<S>(.tanh, shape: [5]),
                    try Linear<S>(inFeatures: 5, outFeatures: 5), try ElementwiseMerge<S>(.add, shapes: [5], [5]),
                    Activation<S>(.tanh, shape: [5]), try Linear<S>(inFeatures: 5, outFeatures: 2),
                ]
                inputs = [[0], [1], [2], [3, 2], [4], [5]]
            case .denseConcat:
                shape = [3]
                layers = [
                    try Linear<S>(inFeatures: 3, outFeatures: 4), Activation<S>(.tanh, shape: [4]),
                    try Concat<S>(axis: 0, shapes: [[3], [4]]),
                    try Linear<S>(inFeatures: 7, outFeatures: 2), Activation<S>(.tanh, shape: [2]),
                    try Concat<S>(axis: 0, shapes: [[3], [4], [2]]),
                    try Linear<S>(inFeatures: 9, outFeatures: 3),
                ]
                inputs = [[0], [1], [0, 2], [3], [4], [0, 2, 5], [6]]
            case .gatedQuotient:
                shape = [4]
                layers = [
                    try Linear<S>(inFeatures: 4, outFeatures: 3), try Linear<S>(inFeatures: 4, outFeatures: 3),
                    Activation<S>(.tanh, shape: [3]), try ElementwiseMerge<S>(.mul, shapes: [3], [3]),
                    Activation<S>(.softplus, shape: [3]), try ElementwiseMerge<S>(.div, shapes: [3], [3]),
                    try ElementwiseMerge<S>(.sub, shapes: [3], [3]), try Linear<S>(inFeatures: 3, outFeatures: 2),
                ]
                inputs = [[0], [0], [2], [1, 3], [2], [1, 5], [4, 6], [7]]
            case .bilinear:
                // A = (W_q x)(W_k x) per example (a [2, 2] × [2, 3] product of two activations),
                // then A ⊙ x: quadratic and cubic in x.
                shape = [2, 3]
                layers = [
                    try TokenLinear<S>(tokens: 2, inFeatures: 3, outFeatures: 2, bias: true),
                    try TokenLinear<S>(tokens: 2, inFeatures: 3, outFeatures: 3, bias: false),
                    try MatMulMerge<S>(shapes: [2, 2], [2, 3]),
                    try ElementwiseMerge<S>(.mul, shapes: [2, 3], [2, 3]),
                    Flatten<S>(inputShape: [2, 3]), try Linear<S>(inFeatures: 6, outFeatures: 2),
                ]
                inputs = [[0], [0], [1, 2], [3, 0], [4], [5]]
            case .fanOut:
                shape = [2, 3]
                layers = [
                    Activation<S>(.tanh, shape: [2, 3]),
                    try ElementwiseMerge<S>(.add, shapes: [2, 3], [2, 3]),
                    try TokenLinear<S>(tokens: 2, inFeatures: 3, outFeatures: 3, bias: true),   // a dead branch
                    Flatten<S>(inputShape: [2, 3]), try Linear<S>(inFeatures: 6, outFeatures: 3),
                    try ElementwiseMerge<S>(.add, shapes: [2, 3], [3]),
                    Flatten<S>(inputShape: [2, 3]), try Linear<S>(inFeatures: 6, outFeatures: 2),
                ]
                inputs = [[0], [1, 1], [2], [0], [4], [2, 5], [6], [7]]
            case .selectAndAdd:
                shape = [3, 2]
                // Tokens 2, 0, 0, 1 of a [3, 2] input: token 0 read twice (the VJP must add).
                let rows = [2, 0, 0, 1]
                layers = [
                    try ParameterAdd<S>(inputShape: [3, 2], parameterShape: [1, 2], tensorName: "pos"),
                    Activation<S>(.tanh, shape: [3, 2]),
                    try IndexSelect<S>(inputShape: [3, 2], outputShape: [4, 2], indices: rows.flatMap { [2 * $0, 2 * $0 + 1] }),
                    try ParameterAdd<S>(inputShape: [4, 2], parameterShape: [4, 2]),
                    Activation<S>(.tanh, shape: [4, 2]),
                    Flatten<S>(inputShape: [4, 2]), try Linear<S>(inFeatures: 8, outFeatures: 2),
                ]
                inputs = [[0], [1], [2], [3], [4], [5], [6]]
            }
            return try Network(body: Sequential(inputShape: shape, layers: layers, inputs: inputs), seed: seed)
        }
    }

    @Test(arguments: Graph.allCases)
    func derivativesAreCorrect(graph: Graph) throws {
        // Noise moves the zero-initialized ParameterAdd tables off zero.
        try DerivativeHarness.check(graph, .init(parameterNoise: 0.3))
    }

    @Test(arguments: Graph.allCases)
    func backpropSignalsReassembleTheDerivatives(graph: Graph) throws {
        try BackpropSignalsTests.checkReassembly(graph)
    }

    /// The residual graph computes exactly what the chain with a `Residual` layer computes (same θ layout).
    @Test func residualGraphEqualsResidualLayer() throws {
        let graph: Network<Double> = try Graph.residual.makeNetwork(seed: 5)
        let chain = try Network<Double>(inputShape: [4], layers: [
            try Linear<Double>(inFeatures: 4, outFeatures: 5), Activation<Double>(.tanh, shape: [5]),
            try Residual(body: Sequential(inputShape: [5], layers: [try Linear<Double>(inFeatures: 5, outFeatures: 5)])),
            Activation<Double>(.tanh, shape: [5]), try Linear<Double>(inFeatures: 5, outFeatures: 2),
        ], seed: 0)
        let same = try Network(body: chain.body, parameters: graph.parameters)
        var g = SeededGenerator(seed: 6)
        let b = 3, x = [Double].gaussian(count: b * 4, using: &g)
        let y1 = try DerivativeHarness.outputs(graph, x, b), y2 = try DerivativeHarness.outputs(same, x, b)
        DerivativeHarness.expectClose(y1, y2, relative: 1e-14, floor: 1, "forward", #_sourceLocation)
        let c1 = try x.withUnsafeBufferPointer { try graph.forwardCache(inputs: $0, batch: b) }
        let c2 = try x.withUnsafeBufferPointer { try same.forwardCache(inputs: $0, batch: b) }
        let yBar = [Double].gaussian(count: b * 2 * 2, using: &g)
        let v1 = try DerivativeHarness.vjp(graph, c1, yBar, block: 2, initial: nil)
        let v2 = try DerivativeHarness.vjp(same, c2, yBar, block: 2, initial: nil)
        DerivativeHarness.expectClose(v1.parameters, v2.parameters, relative: 1e-13, floor: 1, "parameter VJP", #_sourceLocation)
        DerivativeHarness.expectClose(v1.inputs, v2.inputs, relative: 1e-13, floor: 1, "input VJP", #_sourceLocation)
        #expect(graph.parameterTensors.map(\.shape) == same.parameterTensors.map(\.shape))
    }

    @Test func rejectsBadWiring() throws {
        let layers: [any Layer<Double>] = [try Linear<Double>(inFeatures: 2, outFeatures: 2), try ElementwiseMerge<Double>(.add, shapes: [2], [2])]
        #expect(throws: NetworkError.self) { try Sequential(inputShape: [2], layers: layers, inputs: [[0], [2, 1]]) }   // a later node
        #expect(throws: NetworkError.self) { try Sequential(inputShape: [2], layers: layers, inputs: [[0, 0], [0, 1]]) }  // two inputs to a Linear
        #expect(throws: NetworkError.self) { try Sequential(inputShape: [2], layers: layers, inputs: [[0]]) }             // too few lists
        let wrong: [any Layer<Double>] = [try Linear<Double>(inFeatures: 2, outFeatures: 3), try ElementwiseMerge<Double>(.add, shapes: [2], [2])]
        #expect(throws: NetworkError.self) { try Sequential(inputShape: [2], layers: wrong, inputs: [[0], [0, 1]]) }     // shape
        #expect(throws: NetworkError.self) { try ElementwiseMerge<Double>(.add, shapes: [2, 3], [2]) }
        #expect(throws: NetworkError.self) { try Concat<Double>(axis: 1, shapes: [[2, 3], [3, 3]]) }
        #expect(throws: NetworkError.self) { try MatMulMerge<Double>(shapes: [2, 3], [2, 3]) }
        #expect(throws: NetworkError.self) { try IndexSelect<Double>(inputShape: [2], outputShape: [2], indices: [0, 2]) }
        #expect(throws: NetworkError.self) { try IndexSelect<Double>(inputShape: [2], outputShape: [3], indices: [0, 1]) }
        #expect(throws: NetworkError.self) { try ParameterAdd<Double>(inputShape: [2], parameterShape: [3, 2]) }
    }

    /// The JSON spelling of a graph: each top-level layer may name the layers it reads.
    @Test func jsonGraphSpecRoundTripsAndBuilds() throws {
        let json = """
        {"input_shape": [2, 4, 4], "layers": [
          {"type": "conv2d", "in_channels": 2, "out_channels": 2, "kernel_size": 3, "padding": 1},
          {"type": "tanh"},
          {"type": "concat", "dim": 1, "inputs": [-1, 1]},
          {"type": "conv2d", "in_channels": 4, "out_channels": 4, "kernel_size": 1},
          {"type": "add", "inputs": [3, 2]},
          {"type": "globalavgpool"}, {"type": "linear", "in_features": 4, "out_features": 3}]}
        """
        let spec = try ModelSpec.decode(json: Data(json.utf8))
        #expect(spec.inputs == [[-1], [0], [-1, 1], [2], [3, 2], [4], [5]])
        let again = try ModelSpec.decode(json: spec.encodedJSON())
        #expect(again == spec)
        let network: Network<Double> = try spec.makeNetwork(seed: 1)
        #expect(network.body.wiring?.sources == [[0], [1], [0, 2], [3], [4, 3], [5], [6]])
        #expect(network.outputCount == 3 && network.parameterCount == (2 * 2 * 9 + 2) + (4 * 4 + 4) + (4 * 3 + 3))
        // A chain spec stays a chain and writes no "inputs".
        let chain = ModelSpec.mlp(inputSize: 2, hiddenSizes: [3], outputSize: 1, activation: .tanh)
        let chainJSON = String(decoding: try chain.encodedJSON(), as: UTF8.self)
        #expect(chain.inputs == nil && !chainJSON.contains("inputs"))
    }

    @Test func jsonGraphSpecErrorsNameTheLayer() throws {
        func buildError(_ json: String) -> String? {
            do {
                let _: Network<Double> = try ModelSpec.decode(json: Data(json.utf8)).makeNetwork()
                return nil
            } catch { return "\(error)" }
        }
        let head = #"{"input_shape": [3], "layers": [{"type": "linear", "in_features": 3, "out_features": 3}, "#
        // A later layer, a merge in a chain, two inputs to a linear layer, a bad concat dim, shapes that do not broadcast.
        #expect(buildError(head + #"{"type": "add", "inputs": [0, 1]}]}"#)?.contains("earlier layers") == true)
        #expect(buildError(head + #"{"type": "add"}]}"#)?.contains("\"inputs\"") == true)
        #expect(buildError(head + #"{"type": "linear", "in_features": 3, "out_features": 1, "inputs": [0, -1]}]}"#)?
            .contains("expected 1") == true)
        #expect(buildError(head + #"{"type": "concat", "dim": 2, "inputs": [0, -1]}]}"#)?.contains("dim") == true)
        #expect(buildError(#"{"input_shape": [3], "layers": [{"type": "linear", "in_features": 3, "out_features": 2}, {"type": "mul", "inputs": [0, -1]}]}"#)?
            .contains("broadcast") == true)
        // "inputs" only at the top level: a residual body is a chain.
        let nested = decodingSpecError(#"{"input_shape": [3], "layers": [{"type": "residual", "layers": [{"type": "tanh", "inputs": [-1]}]}]}"#)
        #expect(nested?.path == "layers[0].layers[0].inputs")
        #expect(decodingSpecError(head + #"{"type": "add", "inputs": [0, 1.5]}]}"#)?.path == "layers[1].inputs[1]")
    }
}

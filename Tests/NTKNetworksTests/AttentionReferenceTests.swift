import Foundation
import NTKLinearAlgebra
import Testing

@testable import NTKNetworks

/// Forward semantics of the attention and graph layers against naive loop implementations of
/// the defining formulas, plus structural properties (causality, permutation symmetry) and
/// PyTorch naming. Tolerances are c·n·ε with n the length of the longest dot product.
@Suite("Attention and graph layers: reference values")
struct AttentionReferenceTests {
    /// softmax(QKᵀ/√d_h) V per head with Q, K, V, output projection written out as loops.
    static func naiveAttention(_ p: [Double], _ x: [Double], T: Int, D: Int, H: Int, causal: Bool) -> [Double] {
        let dh = D / H
        let wIn = 0, bIn = 3 * D * D, wOut = bIn + 3 * D, bOut = wOut + D * D
        var qkv = [Double](repeating: 0, count: T * 3 * D)
        for tau in 0..<T {
            for r in 0..<(3 * D) {
                var sum = p[bIn + r]
                for c in 0..<D { sum += p[wIn + r * D + c] * x[tau * D + c] }
                qkv[tau * 3 * D + r] = sum
            }
        }
        var o = [Double](repeating: 0, count: T * D)
        for h in 0..<H {
            for tau in 0..<T {
                var scores = [Double](repeating: -Double.infinity, count: T)
                for j in 0..<T where !causal || j <= tau {
                    var dot = 0.0
                    for c in 0..<dh { dot += qkv[tau * 3 * D + h * dh + c] * qkv[j * 3 * D + D + h * dh + c] }
                    scores[j] = dot / Double(dh).squareRoot()
                }
                let m = scores.max()!
                let e = scores.map { exp($0 - m) }
                let z = e.reduce(0, +)
                for c in 0..<dh {
                    var sum = 0.0
                    for j in 0..<T { sum += e[j] / z * qkv[j * 3 * D + 2 * D + h * dh + c] }
                    o[tau * D + h * dh + c] = sum
                }
            }
        }
        var y = [Double](repeating: 0, count: T * D)
        for tau in 0..<T {
            for r in 0..<D {
                var sum = p[bOut + r]
                for c in 0..<D { sum += p[wOut + r * D + c] * o[tau * D + c] }
                y[tau * D + r] = sum
            }
        }
        return y
    }

    static func maxAbs(_ a: [Double]) -> Double { a.reduce(0) { max($0, abs($1)) } }

    func attentionNetwork(T: Int, D: Int, H: Int, causal: Bool) throws -> Network<Double> {
        try BLASThreads.set(1)
        var network = try Network<Double>(
            inputShape: [T, D], layers: [MultiHeadAttention<Double>(sequenceLength: T, embedDimension: D, headCount: H, causal: causal)],
            seed: 3)
        var rng = SeededGenerator(seed: 4)
        // Nonzero biases (PyTorch initializes them to 0) so that they are exercised.
        for j in (3 * D * D)..<(3 * D * D + 3 * D) { network.parameters[j] = rng.nextGaussian() }
        for j in (4 * D * D + 3 * D)..<network.parameterCount { network.parameters[j] = rng.nextGaussian() }
        return network
    }

    @Test(arguments: [false, true])
    func attentionMatchesNaiveLoops(causal: Bool) throws {
        let T = 5, D = 6, H = 3, b = 2
        let network = try attentionNetwork(T: T, D: D, H: H, causal: causal)
        var rng = SeededGenerator(seed: 5)
        let x = [Double].gaussian(count: b * T * D, using: &rng)
        let y = try network.forward(Matrix(rows: b, columns: T * D, storage: x)).storage
        for i in 0..<b {
            let expected = Self.naiveAttention(network.parameters, Array(x[(i * T * D)..<((i + 1) * T * D)]), T: T, D: D, H: H, causal: causal)
            let got = Array(y[(i * T * D)..<((i + 1) * T * D)])
            let error = Self.maxAbs(zip(got, expected).map(-))
            // Longest chain: D-term projections, T-term softmax sums, twice: c = 10.
            let tolerance = 10 * Double(4 * D + 2 * T) * Double.ulpOfOne * max(1, Self.maxAbs(expected))
            #expect(error <= tolerance, "example \(i): ‖Δ‖∞ = \(error), allowed \(tolerance)")
        }
    }

    /// Causal attention: output τ depends on tokens ≤ τ only; changing the last token leaves all
    /// earlier outputs unchanged, and (the test can fail) it changes them without the mask.
    @Test(arguments: [false, true])
    func causalMaskHidesTheFuture(causal: Bool) throws {
        let T = 4, D = 4
        let network = try attentionNetwork(T: T, D: D, H: 2, causal: causal)
        var rng = SeededGenerator(seed: 6)
        var x = [Double].gaussian(count: T * D, using: &rng)
        let y0 = try network.forward(Matrix(rows: 1, columns: T * D, storage: x)).storage
        for c in 0..<D { x[(T - 1) * D + c] += 1 }
        let y1 = try network.forward(Matrix(rows: 1, columns: T * D, storage: x)).storage
        let earlier = Self.maxAbs(zip(y0[0..<((T - 1) * D)], y1[0..<((T - 1) * D)]).map(-))
        if causal {
            #expect(earlier <= 10 * Double.ulpOfOne * max(1, Self.maxAbs(y0)))
        } else {
            #expect(earlier > 1e-3)
        }
    }

    /// Without a mask or positions, self-attention is permutation-equivariant over tokens.
    @Test func attentionIsPermutationEquivariant() throws {
        let T = 4, D = 6
        let network = try attentionNetwork(T: T, D: D, H: 2, causal: false)
        var rng = SeededGenerator(seed: 8)
        let x = [Double].gaussian(count: T * D, using: &rng)
        let perm = [2, 0, 3, 1]
        var xp = x
        for tau in 0..<T { for c in 0..<D { xp[tau * D + c] = x[perm[tau] * D + c] } }
        let y = try network.forward(Matrix(rows: 1, columns: T * D, storage: x)).storage
        let yp = try network.forward(Matrix(rows: 1, columns: T * D, storage: xp)).storage
        var error = 0.0
        for tau in 0..<T { for c in 0..<D { error = max(error, abs(yp[tau * D + c] - y[perm[tau] * D + c])) } }
        #expect(error <= 10 * Double(4 * D + 2 * T) * Double.ulpOfOne * max(1, Self.maxAbs(y)))
    }

    @Test func attentionParameterNamesFollowPyTorch() throws {
        let layer = try MultiHeadAttention<Double>(sequenceLength: 3, embedDimension: 4, headCount: 2)
        #expect(layer.parameterTensors == [
            ParameterTensor(name: "in_proj_weight", shape: [12, 4], offset: 0),
            ParameterTensor(name: "in_proj_bias", shape: [12], offset: 48),
            ParameterTensor(name: "out_proj.weight", shape: [4, 4], offset: 60),
            ParameterTensor(name: "out_proj.bias", shape: [4], offset: 76),
        ])
        #expect(layer.parameterCount == 80)
        let block = try TransformerEncoderBlock<Double>(
            sequenceLength: 3, embedDimension: 4, headCount: 2, feedForwardDimension: 8,
            normalization: { t, d in Activation<Double>(.identity, shape: [t, d]) })
        #expect(block.parameterTensors.map(\.name) == [
            "self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight", "self_attn.out_proj.bias",
            "linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias",
        ])
        #expect(block.parameterCount == 80 + (8 * 4 + 8) + (4 * 8 + 4))
        let offsets = block.parameterTensors.map(\.offset)
        #expect(offsets == [0, 48, 60, 76, 80, 112, 120, 152])
    }

    /// The default block is PyTorch's pre-LN layer: norm1 before self_attn, norm2 before linear1,
    /// each a LayerNorm(D) with gain 1 and bias 0 at initialization.
    @Test func defaultBlockIsPreLayerNorm() throws {
        let block = try TransformerEncoderBlock<Double>(sequenceLength: 3, embedDimension: 4, headCount: 2, feedForwardDimension: 8)
        #expect(block.attentionBranch.layers.first is LayerNorm<Double>)
        #expect(block.feedForwardBranch.layers.first is LayerNorm<Double>)
        let tensors = block.parameterTensors
        #expect(tensors.map(\.name) == [
            "norm1.weight", "norm1.bias",
            "self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight", "self_attn.out_proj.bias",
            "norm2.weight", "norm2.bias",
            "linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias",
        ])
        #expect(tensors.map(\.offset) == [0, 4, 8, 56, 68, 84, 88, 92, 96, 128, 136, 168])
        #expect(block.parameterCount == 80 + 2 * 8 + (8 * 4 + 8) + (4 * 8 + 4))
        let network = try Network<Double>(inputShape: [3, 4], layers: [block], seed: 1)
        for tensor in tensors where tensor.name.hasPrefix("norm") {
            let expected: Double = tensor.name.hasSuffix("weight") ? 1 : 0
            #expect((0..<tensor.count).allSatisfy { network.parameters[tensor.offset + $0] == expected })
        }
        // The transformer model's blocks carry the same layer norms.
        let model = try Network<Double>.transformerEncoder(
            sequenceLength: 3, tokenFeatures: 2, embedDimension: 4, headCount: 2, feedForwardDimension: 8, blockCount: 1, outputSize: 2)
        #expect(model.parameterTensors.map(\.name).contains("2.norm2.bias"))
    }

    @Test func positionalEmbeddingAddsTheFirstRows() throws {
        let T = 3, D = 2
        let network = try Network<Double>(
            inputShape: [T, D], layers: [PositionalEmbedding<Double>(sequenceLength: T, embedDimension: D, maxLength: 5)], seed: 2)
        #expect(network.parameterTensors == [ParameterTensor(name: "0.weight", shape: [5, 2], offset: 0)])
        let x: [Double] = [1, 2, 3, 4, 5, 6, -1, -2, -3, -4, -5, -6]
        let y = try network.forward(Matrix(rows: 2, columns: T * D, storage: x)).storage
        let expected = (0..<(2 * T * D)).map { x[$0] + network.parameters[$0 % (T * D)] }
        #expect(Self.maxAbs(zip(y, expected).map(-)) <= 4 * Double.ulpOfOne * 8)
    }

    // MARK: Graph convolution

    /// The path 0 – 1 – 2: degrees with self-loops (2, 3, 2), so
    /// Â = [[1/2, 1/√6, 0], [1/√6, 1/3, 1/√6], [0, 1/√6, 1/2]].
    @Test func normalizedAdjacencyOfAPath() throws {
        let a = try GraphAdjacency(nodes: 3, edges: [(0, 1), (2, 1), (1, 0), (2, 2)])
        let r = 1 / 6.0.squareRoot()
        let expected = [0.5, r, 0, r, 1.0 / 3, r, 0, r, 0.5]
        #expect(Self.maxAbs(zip(a.dense, expected).map(-)) <= 4 * Double.ulpOfOne)
        #expect(a.columns.count == 3 + 2 * 2)
    }

    @Test func gcnMatchesDenseFormula() throws {
        try BLASThreads.set(1)
        let N = 5, F = 3, G = 4, b = 2
        let edges = AttentionLayerTests.edges
        let layer = try GraphConvolution<Double>(nodes: N, edges: edges, inFeatures: F, outFeatures: G)
        var network = try Network<Double>(inputShape: [N, F], layers: [layer], seed: 9)
        var rng = SeededGenerator(seed: 10)
        for j in (G * F)..<network.parameterCount { network.parameters[j] = rng.nextGaussian() }
        let x = [Double].gaussian(count: b * N * F, using: &rng)
        let y = try network.forward(Matrix(rows: b, columns: N * F, storage: x)).storage
        let a = layer.adjacency.dense, w = network.parameters
        var error = 0.0, scale = 1.0
        for i in 0..<b {
            for n in 0..<N {
                for g in 0..<G {
                    var sum = w[G * F + g]
                    for m in 0..<N {
                        for f in 0..<F { sum += a[n * N + m] * x[(i * N + m) * F + f] * w[g * F + f] }
                    }
                    error = max(error, abs(sum - y[(i * N + n) * G + g]))
                    scale = max(scale, abs(sum))
                }
            }
        }
        #expect(error <= 10 * Double(N * F) * Double.ulpOfOne * scale)
        #expect(layer.parameterTensors.map(\.name) == ["lin.weight", "bias"])
    }

    /// Relabelling the nodes (edges and features alike) leaves a mean-pooled GCN unchanged.
    @Test func graphModelIsInvariantToNodeRelabelling() throws {
        try BLASThreads.set(1)
        let N = 5, F = 3
        let edges = AttentionLayerTests.edges
        let perm = [3, 0, 4, 1, 2]  // new label of node n is perm[n]
        let relabelled = edges.map { (perm[$0.0], perm[$0.1]) }
        let net = try Network<Double>.gcnGraphModel(nodes: N, edges: edges, inputFeatures: F, hiddenSizes: [4, 4], outputSize: 2, seed: 11)
        var other = try Network<Double>.gcnGraphModel(nodes: N, edges: relabelled, inputFeatures: F, hiddenSizes: [4, 4], outputSize: 2, seed: 11)
        other.parameters = net.parameters
        var rng = SeededGenerator(seed: 12)
        let x = [Double].gaussian(count: N * F, using: &rng)
        var xp = x
        for n in 0..<N { for f in 0..<F { xp[perm[n] * F + f] = x[n * F + f] } }
        let y = try net.forward(Matrix(rows: 1, columns: N * F, storage: x)).storage
        let yp = try other.forward(Matrix(rows: 1, columns: N * F, storage: xp)).storage
        #expect(Self.maxAbs(zip(y, yp).map(-)) <= 100 * Double.ulpOfOne * max(1, Self.maxAbs(y)))
        #expect(net.outputCount == 2)
        let nodeModel = try Network<Double>.gcnNodeModel(nodes: N, edges: edges, inputFeatures: F, hiddenSizes: [4], classes: 3)
        #expect(nodeModel.outputCount == N * 3)
    }

    // MARK: Errors

    @Test func invalidConfigurationsNameTheField() throws {
        #expect(throws: NetworkError.self) { try MultiHeadAttention<Double>(sequenceLength: 3, embedDimension: 6, headCount: 4) }
        do {
            _ = try MultiHeadAttention<Double>(sequenceLength: 3, embedDimension: 6, headCount: 4)
        } catch let error as NetworkError {
            #expect(error.description.contains("num_heads") && error.description.contains("6"))
        }
        do {
            _ = try GraphAdjacency(nodes: 3, edges: [(0, 1), (1, 3)])
            Issue.record("an out-of-range edge must throw")
        } catch let error as NetworkError {
            #expect(error.description.contains("edge_index") && error.description.contains("edge 1"))
        }
        do {
            _ = try PositionalEmbedding<Double>(sequenceLength: 4, embedDimension: 2, maxLength: 3)
            Issue.record("max_len < seq_len must throw")
        } catch let error as NetworkError {
            #expect(error.description.contains("max_len"))
        }
        #expect(throws: NetworkError.self) {
            try TransformerEncoderBlock<Double>(
                sequenceLength: 3, embedDimension: 4, headCount: 2, feedForwardDimension: 4,
                normalization: { t, _ in Activation<Double>(.identity, shape: [t, 5]) })
        }
        #expect(throws: NetworkError.self) {
            try Network<Double>.gcnGraphModel(nodes: 3, edges: [], inputFeatures: 2, hiddenSizes: [], outputSize: 1)
        }
    }
}

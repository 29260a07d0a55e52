import NTKLinearAlgebra

@testable import NTKNetworks

/// Builds the same network in any precision, so that `DerivativeHarness` can compare Float with
/// Double; `ModelSpec` is one, the sequence and graph models of `AttentionModels` are others.
protocol NetworkFactory {
    func build<S: BLASScalar>(_: S.Type, seed: UInt64) throws -> Network<S>
}

extension NetworkFactory {
    /// The spelling `ModelSpec` uses, so the harness reads the same for every factory.
    func makeNetwork<S: BLASScalar>(_: S.Type = S.self, seed: UInt64 = 0) throws -> Network<S> {
        try build(S.self, seed: seed)
    }
}

extension ModelSpec: NetworkFactory {
    func build<S: BLASScalar>(_: S.Type, seed: UInt64) throws -> Network<S> { try makeNetwork(S.self, seed: seed) }
}

/// The attention, transformer and graph layers and models under test, each buildable in Float
/// and Double with the same θ (same seed).
enum AttentionModels: NetworkFactory, CustomStringConvertible {
    case positionalEmbedding(tokens: Int, dimension: Int, maxLength: Int)
    case tokenLinear(tokens: Int, inFeatures: Int, outFeatures: Int, bias: Bool)
    case nodeMeanPool(nodes: Int, features: Int)
    /// Attention alone, or (`stacked`) attention → tanh → attention.
    case attention(tokens: Int, dimension: Int, heads: Int, causal: Bool, stacked: Bool, parameterization: Parameterization)
    /// N₁/N₂ of an encoder block: the default layer norm, a tanh (parameter-free, nonlinear), or none.
    enum BlockNormalization: String { case layerNorm, tanh, none }

    /// One block between two token-wise tanh layers, with the given N₁/N₂.
    case encoderBlock(tokens: Int, dimension: Int, heads: Int, feedForward: Int, causal: Bool, normalization: BlockNormalization)
    case transformer(tokens: Int, features: Int, dimension: Int, heads: Int, feedForward: Int, blocks: Int, outputs: Int, causal: Bool)
    case gcn(nodes: Int, edges: [(Int, Int)], inFeatures: Int, outFeatures: Int, parameterization: Parameterization)
    case gcnNodeModel(nodes: Int, edges: [(Int, Int)], features: Int, hidden: [Int], classes: Int)
    case gcnGraphModel(nodes: Int, edges: [(Int, Int)], features: Int, hidden: [Int], outputs: Int)

    var description: String {
        switch self {
        case .positionalEmbedding: return "positional embedding"
        case .tokenLinear: return "token linear"
        case .nodeMeanPool: return "node mean pool"
        case let .attention(_, _, heads, causal, stacked, p): return "attention H=\(heads) causal=\(causal) stacked=\(stacked) \(p)"
        case let .encoderBlock(_, _, _, _, causal, norm): return "encoder block causal=\(causal) norm=\(norm)"
        case let .transformer(_, _, _, _, _, blocks, _, causal): return "transformer blocks=\(blocks) causal=\(causal)"
        case let .gcn(_, _, _, _, p): return "gcn \(p)"
        case .gcnNodeModel: return "gcn node model"
        case .gcnGraphModel: return "gcn graph model"
        }
    }

    func build<S: BLASScalar>(_: S.Type, seed: UInt64) throws -> Network<S> {
        switch self {
        case let .positionalEmbedding(T, D, maxLength):
            // tanh after the embedding so that the input and parameter Jacobians are not trivial.
            return try Network(inputShape: [T, D], layers: [
                PositionalEmbedding<S>(sequenceLength: T, embedDimension: D, maxLength: maxLength),
                Activation<S>(.tanh, shape: [T, D]),
            ], seed: seed)
        case let .tokenLinear(T, F, G, bias):
            return try Network(inputShape: [T, F], layers: [
                TokenLinear<S>(tokens: T, inFeatures: F, outFeatures: G, bias: bias),
                Activation<S>(.tanh, shape: [T, G]),
                TokenLinear<S>(tokens: T, inFeatures: G, outFeatures: 2, bias: bias),
            ], seed: seed)
        case let .nodeMeanPool(N, F):
            return try Network(inputShape: [N, F], layers: [
                Activation<S>(.tanh, shape: [N, F]), NodeMeanPool<S>(nodes: N, features: F), Linear<S>(inFeatures: F, outFeatures: 2),
            ], seed: seed)
        case let .attention(T, D, H, causal, stacked, p):
            var layers: [any Layer<S>] = [
                try MultiHeadAttention<S>(sequenceLength: T, embedDimension: D, headCount: H, causal: causal, parameterization: p)]
            if stacked {
                layers.append(Activation<S>(.tanh, shape: [T, D]))
                layers.append(try MultiHeadAttention<S>(sequenceLength: T, embedDimension: D, headCount: H, causal: causal, parameterization: p))
            }
            var network = try Network(inputShape: [T, D], layers: layers, seed: seed)
            // PyTorch initializes the attention biases to 0; random biases test their derivatives harder.
            randomizeBiases(&network, seed: seed)
            return network
        case let .encoderBlock(T, D, H, F, causal, norm):
            let normalization: TransformerEncoderBlock<S>.Normalization? = switch norm {
            case .layerNorm: TransformerEncoderBlock<S>.layerNorm()
            case .tanh: { t, d in Activation<S>(.tanh, shape: [t, d]) }
            case .none: nil
            }
            var network = try Network(inputShape: [T, D], layers: [
                Activation<S>(.tanh, shape: [T, D]),
                TransformerEncoderBlock<S>(
                    sequenceLength: T, embedDimension: D, headCount: H, feedForwardDimension: F, causal: causal,
                    normalization: normalization),
                Activation<S>(.tanh, shape: [T, D]),
            ], seed: seed)
            randomizeBiases(&network, seed: seed)
            return network
        case let .transformer(T, features, D, H, F, blocks, outputs, causal):
            var network = try Network<S>.transformerEncoder(
                sequenceLength: T, tokenFeatures: features, embedDimension: D, headCount: H, feedForwardDimension: F,
                blockCount: blocks, outputSize: outputs, causal: causal, seed: seed)
            randomizeBiases(&network, seed: seed)
            return network
        case let .gcn(N, edges, F, G, p):
            var network = try Network(inputShape: [N, F], layers: [
                GraphConvolution<S>(nodes: N, edges: edges, inFeatures: F, outFeatures: G, parameterization: p),
                Activation<S>(.tanh, shape: [N, G]),
            ], seed: seed)
            randomizeBiases(&network, seed: seed)
            return network
        case let .gcnNodeModel(N, edges, F, hidden, classes):
            var network = try Network<S>.gcnNodeModel(
                nodes: N, edges: edges, inputFeatures: F, hiddenSizes: hidden, classes: classes, seed: seed)
            randomizeBiases(&network, seed: seed)
            return network
        case let .gcnGraphModel(N, edges, F, hidden, outputs):
            var network = try Network<S>.gcnGraphModel(
                nodes: N, edges: edges, inputFeatures: F, hiddenSizes: hidden, outputSize: outputs, seed: seed)
            randomizeBiases(&network, seed: seed)
            return network
        }
    }

    /// Overwrites every tensor whose name ends in "bias" with U(−0.5, 0.5) values (same values
    /// in Float and Double, drawn in Double).
    func randomizeBiases<S: BLASScalar>(_ network: inout Network<S>, seed: UInt64) {
        var rng = SeededGenerator(seed: seed &+ 77)
        for tensor in network.parameterTensors where tensor.name.hasSuffix("bias") {
            var values = [Double](repeating: 0, count: tensor.count)
            values.withUnsafeMutableBufferPointer { rng.fillUniform($0, low: -0.5, high: 0.5) }
            for j in 0..<tensor.count { network.parameters[tensor.offset + j] = S(values[j]) }
        }
    }
}

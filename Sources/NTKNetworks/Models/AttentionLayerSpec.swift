import NTKLinearAlgebra

/// JSON descriptions of the sequence and graph layers, with PyTorch / PyTorch Geometric
/// constructor argument names; `LayerSpec` wraps them as one case (`.attention(_:)`, decoded
/// when the `"type"` is one of `typeNames`), so a `ModelSpec` can contain them.
///
/// ```json
/// {"type": "token_linear", "in_features": 3, "out_features": 8, "bias": true}
/// {"type": "positional_embedding", "embed_dim": 8, "max_len": 16}
/// {"type": "multihead_attention", "embed_dim": 8, "num_heads": 2, "causal": true}
/// {"type": "gcn", "in_features": 3, "out_features": 8, "edge_index": [[0, 1, 2], [1, 2, 3]]}
/// {"type": "node_mean_pool"}
/// {"type": "transformer_encoder_layer", "d_model": 8, "nhead": 2, "dim_feedforward": 16,
///  "norm_first": true, "causal": false}
/// ```
///
/// Sequence layers take an input of shape [T, D] (T tokens); `positional_embedding` uses
/// `max_len` rows (default T, must be ≥ T). `gcn` takes [N, F] node features; `edge_index` is
/// PyG's 2 × |E| list of (source, target) node indices, read as an undirected graph.
/// `node_mean_pool` maps [N, F] → [F] (nodes or tokens). `transformer_encoder_layer` is
/// PyTorch's `nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout=0,
/// activation="gelu", layer_norm_eps, batch_first=True, norm_first=True)` as a
/// `TransformerEncoderBlock` with layer norms: `norm_first` is required and must be true
/// (only the pre-LN block of Xiong et al. 2020 is implemented); `activation` may be omitted
/// or "gelu" — unlike PyTorch, whose default is "relu", the omitted value means GELU here;
/// `layer_norm_eps` defaults to 1e-5; `causal` (default false) applies the causal mask of
/// `is_causal=True`. Dropout is not modelled (the NTK is taken in evaluation mode).
public enum AttentionLayerSpec: Sendable, Hashable {
    case tokenLinear(inFeatures: Int, outFeatures: Int, bias: Bool = true)
    case positionalEmbedding(embedDimension: Int, maxLength: Int? = nil)
    case multiheadAttention(embedDimension: Int, headCount: Int, causal: Bool = false)
    case graphConvolution(inFeatures: Int, outFeatures: Int, sources: [Int], targets: [Int])
    case nodeMeanPool
    /// A pre-LN `TransformerEncoderBlock` with `LayerNorm(d_model, eps: layerNormEpsilon)` as N₁, N₂.
    case transformerEncoderLayer(
        embedDimension: Int, headCount: Int, feedForwardDimension: Int, causal: Bool = false, layerNormEpsilon: Double = 1e-5)

    /// The JSON `"type"` values handled here.
    public static let typeNames: Set<String> = [
        "token_linear", "positional_embedding", "multihead_attention", "gcn", "node_mean_pool", "transformer_encoder_layer",
    ]

    public var typeName: String {
        switch self {
        case .tokenLinear: return "token_linear"
        case .positionalEmbedding: return "positional_embedding"
        case .multiheadAttention: return "multihead_attention"
        case .graphConvolution: return "gcn"
        case .nodeMeanPool: return "node_mean_pool"
        case .transformerEncoderLayer: return "transformer_encoder_layer"
        }
    }

    /// Instantiates the layer for an input example of shape `inputShape`.
    ///
    /// - Parameter path: the layer's position for error messages ("3").
    /// - Throws: `NetworkError.invalidLayer` naming `path` and the PyTorch field at fault.
    public func makeLayer<Scalar: BLASScalar>(
        _: Scalar.Type = Scalar.self, inputShape: [Int], parameterization: Parameterization, path: String
    ) throws -> any Layer<Scalar> {
        func fail(_ field: String, _ message: String) -> NetworkError {
            .invalidLayer(layer: "\(path) (\(typeName))", field: field, message: message)
        }
        guard inputShape.count == 2 else {
            throw fail("input_shape", "expects a [tokens or nodes, features] input, got shape \(inputShape)")
        }
        let rows = inputShape[0], features = inputShape[1]
        func expectFeatures(_ field: String, _ value: Int) throws {
            guard value == features else { throw fail(field, "got \(value), but the incoming feature count is \(features)") }
        }
        do {
            switch self {
            case let .tokenLinear(inFeatures, outFeatures, bias):
                try expectFeatures("in_features", inFeatures)
                return try TokenLinear<Scalar>(
                    tokens: rows, inFeatures: inFeatures, outFeatures: outFeatures, bias: bias, parameterization: parameterization)
            case let .positionalEmbedding(embedDimension, maxLength):
                try expectFeatures("embed_dim", embedDimension)
                return try PositionalEmbedding<Scalar>(
                    sequenceLength: rows, embedDimension: embedDimension, maxLength: maxLength, parameterization: parameterization)
            case let .multiheadAttention(embedDimension, headCount, causal):
                try expectFeatures("embed_dim", embedDimension)
                return try MultiHeadAttention<Scalar>(
                    sequenceLength: rows, embedDimension: embedDimension, headCount: headCount, causal: causal,
                    parameterization: parameterization)
            case let .graphConvolution(inFeatures, outFeatures, sources, targets):
                try expectFeatures("in_features", inFeatures)
                guard sources.count == targets.count else {
                    throw fail("edge_index", "has rows of lengths \(sources.count) and \(targets.count), expected two equal rows")
                }
                return try GraphConvolution<Scalar>(
                    nodes: rows, edges: Array(zip(sources, targets)), inFeatures: inFeatures, outFeatures: outFeatures,
                    parameterization: parameterization)
            case .nodeMeanPool:
                return try NodeMeanPool<Scalar>(nodes: rows, features: features)
            case let .transformerEncoderLayer(embedDimension, headCount, feedForwardDimension, causal, epsilon):
                try expectFeatures("d_model", embedDimension)
                guard epsilon > 0, epsilon.isFinite else {
                    throw fail("layer_norm_eps", "got \(epsilon), expected a positive finite value")
                }
                do {
                    return try TransformerEncoderBlock<Scalar>(
                        sequenceLength: rows, embedDimension: embedDimension, headCount: headCount,
                        feedForwardDimension: feedForwardDimension, causal: causal, parameterization: parameterization,
                        normalization: TransformerEncoderBlock<Scalar>.layerNorm(epsilon: epsilon))
                } catch let NetworkError.invalidLayer(_, field, message) {
                    // The block's parts name their own fields; map them to the JSON's.
                    let jsonField = ["num_heads": "nhead", "embed_dim": "d_model", "out_features": "dim_feedforward"][field] ?? field
                    throw fail(jsonField, message)
                }
            }
        } catch let NetworkError.invalidLayer(layer, field, message) where !layer.hasPrefix(path) {
            throw fail(field, message)
        }
    }
}

extension AttentionLayerSpec: Codable {
    enum Key: String, CodingKey {
        case type
        case inFeatures = "in_features", outFeatures = "out_features", bias
        case embedDimension = "embed_dim", maxLength = "max_len", headCount = "num_heads", causal
        case edgeIndex = "edge_index"
        case dModel = "d_model", nhead, dimFeedforward = "dim_feedforward", normFirst = "norm_first", activation
        case layerNormEps = "layer_norm_eps"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        let type = try c.decode(String.self, forKey: .type).lowercased()
        switch type {
        case "token_linear":
            self = .tokenLinear(
                inFeatures: try c.decode(Int.self, forKey: .inFeatures), outFeatures: try c.decode(Int.self, forKey: .outFeatures),
                bias: try c.decodeIfPresent(Bool.self, forKey: .bias) ?? true)
        case "positional_embedding":
            self = .positionalEmbedding(
                embedDimension: try c.decode(Int.self, forKey: .embedDimension),
                maxLength: try c.decodeIfPresent(Int.self, forKey: .maxLength))
        case "multihead_attention":
            self = .multiheadAttention(
                embedDimension: try c.decode(Int.self, forKey: .embedDimension), headCount: try c.decode(Int.self, forKey: .headCount),
                causal: try c.decodeIfPresent(Bool.self, forKey: .causal) ?? false)
        case "gcn":
            let edgeIndex = try c.decodeIfPresent([[Int]].self, forKey: .edgeIndex) ?? [[], []]
            guard edgeIndex.count == 2 else {
                throw DecodingError.dataCorruptedError(
                    forKey: .edgeIndex, in: c, debugDescription: "edge_index has \(edgeIndex.count) rows, expected 2 (sources, targets)")
            }
            self = .graphConvolution(
                inFeatures: try c.decode(Int.self, forKey: .inFeatures), outFeatures: try c.decode(Int.self, forKey: .outFeatures),
                sources: edgeIndex[0], targets: edgeIndex[1])
        case "node_mean_pool":
            self = .nodeMeanPool
        case "transformer_encoder_layer":
            guard try c.decode(Bool.self, forKey: .normFirst) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .normFirst, in: c,
                    debugDescription: "transformer_encoder_layer: got false, expected true (only the pre-LN block is implemented)")
            }
            if let activation = try c.decodeIfPresent(String.self, forKey: .activation), activation.lowercased() != "gelu" {
                throw DecodingError.dataCorruptedError(
                    forKey: .activation, in: c,
                    debugDescription: "transformer_encoder_layer: got \"\(activation)\", expected \"gelu\" (the only activation implemented)")
            }
            self = .transformerEncoderLayer(
                embedDimension: try c.decode(Int.self, forKey: .dModel), headCount: try c.decode(Int.self, forKey: .nhead),
                feedForwardDimension: try c.decode(Int.self, forKey: .dimFeedforward),
                causal: try c.decodeIfPresent(Bool.self, forKey: .causal) ?? false,
                layerNormEpsilon: try c.decodeIfPresent(Double.self, forKey: .layerNormEps) ?? 1e-5)
        default:
            throw DecodingError.dataCorruptedError(
                forKey: .type, in: c,
                debugDescription: "unknown layer type \"\(type)\"; expected one of \(Self.typeNames.sorted().joined(separator: ", "))")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(typeName, forKey: .type)
        switch self {
        case let .tokenLinear(inFeatures, outFeatures, bias):
            try c.encode(inFeatures, forKey: .inFeatures)
            try c.encode(outFeatures, forKey: .outFeatures)
            try c.encode(bias, forKey: .bias)
        case let .positionalEmbedding(embedDimension, maxLength):
            try c.encode(embedDimension, forKey: .embedDimension)
            try c.encodeIfPresent(maxLength, forKey: .maxLength)
        case let .multiheadAttention(embedDimension, headCount, causal):
            try c.encode(embedDimension, forKey: .embedDimension)
            try c.encode(headCount, forKey: .headCount)
            try c.encode(causal, forKey: .causal)
        case let .graphConvolution(inFeatures, outFeatures, sources, targets):
            try c.encode(inFeatures, forKey: .inFeatures)
            try c.encode(outFeatures, forKey: .outFeatures)
            try c.encode([sources, targets], forKey: .edgeIndex)
        case .nodeMeanPool:
            break
        case let .transformerEncoderLayer(embedDimension, headCount, feedForwardDimension, causal, epsilon):
            try c.encode(embedDimension, forKey: .dModel)
            try c.encode(headCount, forKey: .nhead)
            try c.encode(feedForwardDimension, forKey: .dimFeedforward)
            try c.encode(true, forKey: .normFirst)
            try c.encode("gelu", forKey: .activation)
            try c.encode(epsilon, forKey: .layerNormEps)
            try c.encode(causal, forKey: .causal)
        }
    }
}

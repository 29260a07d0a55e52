import NTKLinearAlgebra

/// One layer of a `ModelSpec`, in the style of PyTorch's `nn.Sequential`: JSON objects with a
/// `"type"` and the PyTorch constructor argument names, e.g.
/// `{"type": "linear", "in_features": 16, "out_features": 32, "bias": true}`.
///
/// Types: `linear` (in_features, out_features, bias), `conv2d` (in_channels, out_channels,
/// kernel_size, stride = 1, padding = 0, bias), `avgpool2d` (kernel_size, stride = kernel_size),
/// `adaptiveavgpool2d` (output_size must be 1: output [C, 1, 1]), `globalavgpool` ([C, H, W] →
/// [C]), `flatten`, `layernorm` (normalized_shape, eps = 1e-5, elementwise_affine = true), the
/// activations (`identity`, `tanh`, `relu`, `gelu`, `sigmoid`, `softplus`, `erf`, `sine`) and
/// `residual` ({"type": "residual", "layers": [...]}, y = x + layers(x)). `bias` defaults to true.
/// Also `batchnorm1d` ([C] or [C, L]) and `batchnorm2d` ([C, H, W]) (num_features, eps = 1e-5,
/// momentum = 0.1 (accepted, unused), affine = true, track_running_stats must be true;
/// evaluation mode, running statistics loaded as buffers), `maxpool2d` (kernel_size, stride =
/// kernel_size, padding = 0, dilation must be 1, ceil_mode must be false), `dropout` (p = 0.5;
/// the identity in evaluation), `embedding` (num_embeddings, embedding_dim; input [L] token
/// ids, output [L, D]) and `softmax` (dim, counted as in PyTorch with the batch as dim 0).
/// The sequence and graph layers (`token_linear`, `positional_embedding`,
/// `multihead_attention`, `gcn` with `edge_index`, `node_mean_pool`,
/// `transformer_encoder_layer`) are described by `AttentionLayerSpec` and wrapped as
/// `.attention(_:)`; their JSON objects appear in the same layer list. A model whose top-level
/// layers name the layers they read (`"inputs": [3, -1]`, −1 the model's input) is a layer
/// graph; its merge layers (`add`, `sub`, `mul`, `div`, `concat` with `dim`, `matmul`) are
/// `.merge(_:)` (`MergeSpec`).
public indirect enum LayerSpec: Sendable, Hashable {
    case linear(inFeatures: Int, outFeatures: Int, bias: Bool = true)
    case activation(ActivationFunction)
    case flatten
    case conv2d(inChannels: Int, outChannels: Int, kernelSize: SpatialSize, stride: SpatialSize = 1,
                padding: SpatialSize = 0, bias: Bool = true)
    case avgPool2d(kernelSize: SpatialSize, stride: SpatialSize? = nil)
    /// PyTorch `nn.AdaptiveAvgPool2d(1)`: [C, H, W] → [C, 1, 1].
    case adaptiveAvgPool2d
    /// [C, H, W] → [C] (adaptive average pooling to 1×1 and flatten).
    case globalAvgPool
    case layerNorm(normalizedShape: [Int], epsilon: Double = 1e-5, elementwiseAffine: Bool = true)
    case residual([LayerSpec])
    /// PyTorch `nn.BatchNorm1d` in evaluation mode, over [C] or [C, L]. `momentum` (nil for
    /// PyTorch's `None`) only matters in training and is kept for the round trip.
    case batchNorm1d(numFeatures: Int, epsilon: Double = 1e-5, momentum: Double? = 0.1, affine: Bool = true)
    /// PyTorch `nn.BatchNorm2d` in evaluation mode, over [C, H, W].
    case batchNorm2d(numFeatures: Int, epsilon: Double = 1e-5, momentum: Double? = 0.1, affine: Bool = true)
    case maxPool2d(kernelSize: SpatialSize, stride: SpatialSize? = nil, padding: SpatialSize = 0)
    /// PyTorch `nn.Dropout(p)`: the identity in evaluation mode.
    case dropout(p: Double = 0.5)
    case embedding(numEmbeddings: Int, embeddingDimension: Int)
    /// PyTorch `nn.Softmax(dim)`; `dim` counts the batch as 0 (negative from the end).
    case softmax(dim: Int)
    /// A sequence or graph layer (`AttentionLayerSpec.typeNames`).
    case attention(AttentionLayerSpec)
    /// A layer that reads several layers' outputs (`add`, `sub`, `mul`, `div`, `concat`,
    /// `matmul`); only in a model whose layers name their `inputs` (see `ModelSpec.inputs`).
    case merge(MergeSpec)

    /// The JSON `"type"` of this layer.
    public var typeName: String {
        switch self {
        case .linear: return "linear"
        case let .activation(f): return f.rawValue
        case .flatten: return "flatten"
        case .conv2d: return "conv2d"
        case .avgPool2d: return "avgpool2d"
        case .adaptiveAvgPool2d: return "adaptiveavgpool2d"
        case .globalAvgPool: return "globalavgpool"
        case .layerNorm: return "layernorm"
        case .residual: return "residual"
        case .batchNorm1d: return "batchnorm1d"
        case .batchNorm2d: return "batchnorm2d"
        case .maxPool2d: return "maxpool2d"
        case .dropout: return "dropout"
        case .embedding: return "embedding"
        case .softmax: return "softmax"
        case let .attention(spec): return spec.typeName
        case let .merge(spec): return spec.typeName
        }
    }

    /// Instantiates the layer for an input example of shape `inputShape`.
    ///
    /// - Parameter path: the layer's position for error messages ("3", "2.layers.1").
    /// - Throws: `NetworkError.invalidLayer` naming `path` and the PyTorch field at fault.
    public func makeLayer<Scalar: BLASScalar>(
        _: Scalar.Type = Scalar.self, inputShape: [Int], parameterization: Parameterization, path: String
    ) throws -> any Layer<Scalar> {
        func fail(_ field: String, _ message: String) -> NetworkError {
            .invalidLayer(layer: "\(path) (\(typeName))", field: field, message: message)
        }
        do {
            switch self {
            case let .linear(inFeatures, outFeatures, bias):
                guard let last = inputShape.last, last == inFeatures else {
                    throw fail("in_features", "got \(inFeatures), but the incoming shape is \(inputShape) (linear acts on the last dimension)")
                }
                return try Linear<Scalar>(
                    inFeatures: inFeatures, outFeatures: outFeatures, bias: bias, leadingShape: Array(inputShape.dropLast()),
                    parameterization: parameterization)
            case let .activation(function):
                return Activation<Scalar>(function, shape: inputShape)
            case .flatten:
                return Flatten<Scalar>(inputShape: inputShape)
            case let .conv2d(inChannels, outChannels, kernelSize, stride, padding, bias):
                guard inputShape.count == 3 else {
                    throw fail("in_channels", "conv2d expects an input of shape [C, H, W], got \(inputShape)")
                }
                guard inputShape[0] == inChannels else {
                    throw fail("in_channels", "got \(inChannels), but the incoming channel count is \(inputShape[0])")
                }
                return try Conv2d<Scalar>(
                    inChannels: inChannels, outChannels: outChannels, kernelSize: kernelSize.pair, stride: stride.pair,
                    padding: padding.pair, bias: bias, inputHeight: inputShape[1], inputWidth: inputShape[2],
                    parameterization: parameterization)
            case let .avgPool2d(kernelSize, stride):
                return try AvgPool2d<Scalar>(inputShape: inputShape, kernelSize: kernelSize.pair, stride: stride?.pair)
            case .adaptiveAvgPool2d:
                guard inputShape.count == 3 else {
                    throw fail("input_shape", "adaptiveavgpool2d expects [C, H, W], got \(inputShape)")
                }
                return try AvgPool2d<Scalar>(inputShape: inputShape, kernelSize: (inputShape[1], inputShape[2]))
            case .globalAvgPool:
                return try GlobalAvgPool<Scalar>(inputShape: inputShape)
            case let .layerNorm(normalizedShape, epsilon, elementwiseAffine):
                return try LayerNorm<Scalar>(
                    inputShape: inputShape, normalizedShape: normalizedShape, epsilon: epsilon,
                    elementwiseAffine: elementwiseAffine)
            case let .residual(specs):
                let body: Sequential<Scalar> = try ModelSpec.makeSequential(
                    specs, inputShape: inputShape, parameterization: parameterization, pathPrefix: "\(path).layers.")
                return try Residual(body: body)
            case let .batchNorm1d(numFeatures, epsilon, _, affine), let .batchNorm2d(numFeatures, epsilon, _, affine):
                let spatial = typeName == "batchnorm2d"
                guard spatial ? inputShape.count == 3 : (1...2).contains(inputShape.count) else {
                    throw fail("num_features", "\(typeName) expects an input of shape \(spatial ? "[C, H, W]" : "[C] or [C, L]"), got \(inputShape)")
                }
                guard inputShape[0] == numFeatures else {
                    throw fail("num_features", "got \(numFeatures), but the incoming channel count is \(inputShape[0])")
                }
                return try BatchNorm<Scalar>(inputShape: inputShape, epsilon: epsilon, affine: affine)
            case let .maxPool2d(kernelSize, stride, padding):
                return try MaxPool2d<Scalar>(inputShape: inputShape, kernelSize: kernelSize.pair, stride: stride?.pair, padding: padding.pair)
            case let .dropout(p):
                return try Dropout<Scalar>(inputShape: inputShape, probability: p)
            case let .embedding(numEmbeddings, embeddingDimension):
                return try Embedding<Scalar>(numEmbeddings: numEmbeddings, embeddingDimension: embeddingDimension, inputShape: inputShape)
            case let .softmax(dim):
                guard dim != 0 else { throw fail("dim", "got 0, the batch axis; expected an axis of the example (1…\(inputShape.count) or negative)") }
                return try Softmax<Scalar>(inputShape: inputShape, axis: dim > 0 ? dim - 1 : dim)
            case let .attention(spec):
                return try spec.makeLayer(Scalar.self, inputShape: inputShape, parameterization: parameterization, path: path)
            case .merge:
                throw fail("inputs", "a \(typeName) layer reads several layers; expected it in a model's top-level layer list with \"inputs\"")
            }
        } catch let NetworkError.invalidLayer(layer, field, message) where !layer.hasPrefix(path) {
            throw fail(field, message)
        }
    }
}

extension LayerSpec: Codable {
    enum Key: String, CodingKey {
        case type
        case inFeatures = "in_features", outFeatures = "out_features", bias
        case inChannels = "in_channels", outChannels = "out_channels", kernelSize = "kernel_size", stride, padding
        case outputSize = "output_size", normalizedShape = "normalized_shape", eps
        case elementwiseAffine = "elementwise_affine", layers
        case dilation, groups, paddingMode = "padding_mode", ceilMode = "ceil_mode"
        case numFeatures = "num_features", momentum, affine, trackRunningStats = "track_running_stats"
        case returnIndices = "return_indices", p, inplace
        case numEmbeddings = "num_embeddings", embeddingDim = "embedding_dim", dim
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        let type = try c.decode(String.self, forKey: .type).lowercased()
        if AttentionLayerSpec.typeNames.contains(type) {
            self = .attention(try AttentionLayerSpec(from: decoder))
            return
        }
        switch type {
        case "linear":
            self = .linear(
                inFeatures: try c.decode(Int.self, forKey: .inFeatures),
                outFeatures: try c.decode(Int.self, forKey: .outFeatures),
                bias: try c.decodeIfPresent(Bool.self, forKey: .bias) ?? true)
        case "flatten":
            self = .flatten
        case "conv2d":
            guard try c.decodeIfPresent(SpatialSize.self, forKey: .dilation) ?? 1 == 1 else {
                throw DecodingError.dataCorruptedError(forKey: .dilation, in: c, debugDescription: "conv2d: only dilation 1 is supported")
            }
            guard try c.decodeIfPresent(Int.self, forKey: .groups) ?? 1 == 1 else {
                throw DecodingError.dataCorruptedError(forKey: .groups, in: c, debugDescription: "conv2d: only groups 1 is supported")
            }
            guard try c.decodeIfPresent(String.self, forKey: .paddingMode) ?? "zeros" == "zeros" else {
                throw DecodingError.dataCorruptedError(
                    forKey: .paddingMode, in: c, debugDescription: "conv2d: only padding_mode \"zeros\" is supported")
            }
            self = .conv2d(
                inChannels: try c.decode(Int.self, forKey: .inChannels),
                outChannels: try c.decode(Int.self, forKey: .outChannels),
                kernelSize: try c.decode(SpatialSize.self, forKey: .kernelSize),
                stride: try c.decodeIfPresent(SpatialSize.self, forKey: .stride) ?? 1,
                padding: try c.decodeIfPresent(SpatialSize.self, forKey: .padding) ?? 0,
                bias: try c.decodeIfPresent(Bool.self, forKey: .bias) ?? true)
        case "avgpool2d":
            self = .avgPool2d(
                kernelSize: try c.decode(SpatialSize.self, forKey: .kernelSize),
                stride: try c.decodeIfPresent(SpatialSize.self, forKey: .stride))
            if try c.decodeIfPresent(SpatialSize.self, forKey: .padding) ?? 0 != 0 {
                throw DecodingError.dataCorruptedError(
                    forKey: .padding, in: c, debugDescription: "avgpool2d: only padding 0 is supported")
            }
            if try c.decodeIfPresent(Bool.self, forKey: .ceilMode) ?? false {
                throw DecodingError.dataCorruptedError(
                    forKey: .ceilMode, in: c, debugDescription: "avgpool2d: only ceil_mode false is supported")
            }
        case "adaptiveavgpool2d":
            guard try c.decodeIfPresent(SpatialSize.self, forKey: .outputSize) ?? 1 == 1 else {
                throw DecodingError.dataCorruptedError(
                    forKey: .outputSize, in: c, debugDescription: "adaptiveavgpool2d: only output_size 1 is supported")
            }
            self = .adaptiveAvgPool2d
        case "globalavgpool", "globalavgpool2d":
            self = .globalAvgPool
        case "layernorm":
            let shape: [Int]
            if let single = try? c.decode(Int.self, forKey: .normalizedShape) {
                shape = [single]
            } else {
                shape = try c.decode([Int].self, forKey: .normalizedShape)
            }
            self = .layerNorm(
                normalizedShape: shape, epsilon: try c.decodeIfPresent(Double.self, forKey: .eps) ?? 1e-5,
                elementwiseAffine: try c.decodeIfPresent(Bool.self, forKey: .elementwiseAffine) ?? true)
            if let bias = try c.decodeIfPresent(Bool.self, forKey: .bias), !bias {
                throw DecodingError.dataCorruptedError(forKey: .bias, in: c, debugDescription: "layernorm: only bias true is supported")
            }
        case "residual":
            self = .residual(try c.decode([LayerSpec].self, forKey: .layers))
        case "concat":
            self = .merge(.concat(dim: try c.decode(Int.self, forKey: .dim)))
        case "batchnorm1d", "batchnorm2d":
            guard try c.decodeIfPresent(Bool.self, forKey: .trackRunningStats) ?? true else {
                throw DecodingError.dataCorruptedError(
                    forKey: .trackRunningStats, in: c,
                    debugDescription: "\(type): only track_running_stats true is supported (evaluation mode normalizes by the running statistics)")
            }
            let numFeatures = try c.decode(Int.self, forKey: .numFeatures)
            let epsilon = try c.decodeIfPresent(Double.self, forKey: .eps) ?? 1e-5
            let momentum = c.contains(.momentum) ? try c.decodeIfPresent(Double.self, forKey: .momentum) : 0.1
            let affine = try c.decodeIfPresent(Bool.self, forKey: .affine) ?? true
            self = type == "batchnorm1d"
                ? .batchNorm1d(numFeatures: numFeatures, epsilon: epsilon, momentum: momentum, affine: affine)
                : .batchNorm2d(numFeatures: numFeatures, epsilon: epsilon, momentum: momentum, affine: affine)
        case "maxpool2d":
            guard try c.decodeIfPresent(SpatialSize.self, forKey: .dilation) ?? 1 == 1 else {
                throw DecodingError.dataCorruptedError(forKey: .dilation, in: c, debugDescription: "maxpool2d: only dilation 1 is supported")
            }
            if try c.decodeIfPresent(Bool.self, forKey: .ceilMode) ?? false {
                throw DecodingError.dataCorruptedError(
                    forKey: .ceilMode, in: c, debugDescription: "maxpool2d: only ceil_mode false is supported")
            }
            if try c.decodeIfPresent(Bool.self, forKey: .returnIndices) ?? false {
                throw DecodingError.dataCorruptedError(
                    forKey: .returnIndices, in: c, debugDescription: "maxpool2d: only return_indices false is supported")
            }
            self = .maxPool2d(
                kernelSize: try c.decode(SpatialSize.self, forKey: .kernelSize),
                stride: try c.decodeIfPresent(SpatialSize.self, forKey: .stride),
                padding: try c.decodeIfPresent(SpatialSize.self, forKey: .padding) ?? 0)
        case "dropout":
            self = .dropout(p: try c.decodeIfPresent(Double.self, forKey: .p) ?? 0.5)
        case "embedding":
            self = .embedding(
                numEmbeddings: try c.decode(Int.self, forKey: .numEmbeddings),
                embeddingDimension: try c.decode(Int.self, forKey: .embeddingDim))
        case "softmax":
            self = .softmax(dim: try c.decode(Int.self, forKey: .dim))
        default:
            if let merge = MergeSpec.elementwise[type] {
                self = .merge(merge)
                return
            }
            guard let function = ActivationFunction(rawValue: type) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .type, in: c,
                    debugDescription: "unknown layer type \"\(type)\"; expected one of linear, conv2d, avgpool2d, "
                        + "adaptiveavgpool2d, globalavgpool, flatten, layernorm, residual, batchnorm1d, batchnorm2d, "
                        + "maxpool2d, dropout, embedding, softmax, add, sub, mul, div, concat, matmul, "
                        + ActivationFunction.allCases.map(\.rawValue).joined(separator: ", ") + ", "
                        + AttentionLayerSpec.typeNames.sorted().joined(separator: ", "))
            }
            self = .activation(function)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        if case let .attention(spec) = self {
            try spec.encode(to: encoder)
            return
        }
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(typeName, forKey: .type)
        switch self {
        case let .linear(inFeatures, outFeatures, bias):
            try c.encode(inFeatures, forKey: .inFeatures)
            try c.encode(outFeatures, forKey: .outFeatures)
            try c.encode(bias, forKey: .bias)
        case let .conv2d(inChannels, outChannels, kernelSize, stride, padding, bias):
            try c.encode(inChannels, forKey: .inChannels)
            try c.encode(outChannels, forKey: .outChannels)
            try c.encode(kernelSize, forKey: .kernelSize)
            try c.encode(stride, forKey: .stride)
            try c.encode(padding, forKey: .padding)
            try c.encode(bias, forKey: .bias)
        case let .avgPool2d(kernelSize, stride):
            try c.encode(kernelSize, forKey: .kernelSize)
            try c.encodeIfPresent(stride, forKey: .stride)
        case .adaptiveAvgPool2d:
            try c.encode(1, forKey: .outputSize)
        case let .layerNorm(normalizedShape, epsilon, elementwiseAffine):
            try c.encode(normalizedShape, forKey: .normalizedShape)
            try c.encode(epsilon, forKey: .eps)
            try c.encode(elementwiseAffine, forKey: .elementwiseAffine)
        case let .residual(layers):
            try c.encode(layers, forKey: .layers)
        case let .batchNorm1d(numFeatures, epsilon, momentum, affine), let .batchNorm2d(numFeatures, epsilon, momentum, affine):
            try c.encode(numFeatures, forKey: .numFeatures)
            try c.encode(epsilon, forKey: .eps)
            if let momentum { try c.encode(momentum, forKey: .momentum) } else { try c.encodeNil(forKey: .momentum) }
            try c.encode(affine, forKey: .affine)
        case let .maxPool2d(kernelSize, stride, padding):
            try c.encode(kernelSize, forKey: .kernelSize)
            try c.encodeIfPresent(stride, forKey: .stride)
            try c.encode(padding, forKey: .padding)
        case let .dropout(p):
            try c.encode(p, forKey: .p)
        case let .embedding(numEmbeddings, embeddingDimension):
            try c.encode(numEmbeddings, forKey: .numEmbeddings)
            try c.encode(embeddingDimension, forKey: .embeddingDim)
        case let .softmax(dim):
            try c.encode(dim, forKey: .dim)
        case let .merge(.concat(dim)):
            try c.encode(dim, forKey: .dim)
        case .activation, .flatten, .globalAvgPool, .attention, .merge:
            break
        }
    }
}

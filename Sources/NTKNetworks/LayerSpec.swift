import NTKLinearAlgebra

/// One layer of a `ModelSpec`, in the style of PyTorch's `nn.Sequential`: JSON objects with a
/// `"type"` and the PyTorch constructor argument names, e.g.
/// `{"type": "linear", "in_features": 16, "out_features": 32, "bias": true}`.
///
/// Types: `linear`, the activations (`identity`, `tanh`, `relu`, `gelu`, `sigmoid`,
/// `softplus`, `erf`, `sine`) and `flatten`.
public indirect enum LayerSpec: Sendable, Hashable {
    case linear(inFeatures: Int, outFeatures: Int, bias: Bool = true)
    case activation(ActivationFunction)
    case flatten

    /// The JSON `"type"` of this layer.
    public var typeName: String {
        switch self {
        case .linear: return "linear"
        case let .activation(f): return f.rawValue
        case .flatten: return "flatten"
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
                guard inputShape.count == 1 else {
                    throw fail("in_features", "linear expects a flat input, got shape \(inputShape); insert a flatten layer")
                }
                guard inputShape[0] == inFeatures else {
                    throw fail("in_features", "got \(inFeatures), but the incoming feature count is \(inputShape[0])")
                }
                return try Linear<Scalar>(
                    inFeatures: inFeatures, outFeatures: outFeatures, bias: bias, parameterization: parameterization)
            case let .activation(function):
                return Activation<Scalar>(function, shape: inputShape)
            case .flatten:
                return Flatten<Scalar>(inputShape: inputShape)
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
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        let type = try c.decode(String.self, forKey: .type).lowercased()
        switch type {
        case "linear":
            self = .linear(
                inFeatures: try c.decode(Int.self, forKey: .inFeatures),
                outFeatures: try c.decode(Int.self, forKey: .outFeatures),
                bias: try c.decodeIfPresent(Bool.self, forKey: .bias) ?? true)
        case "flatten":
            self = .flatten
        default:
            guard let function = ActivationFunction(rawValue: type) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .type, in: c,
                    debugDescription: "unknown layer type \"\(type)\"; expected one of linear, flatten, "
                        + ActivationFunction.allCases.map(\.rawValue).joined(separator: ", "))
            }
            self = .activation(function)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(typeName, forKey: .type)
        switch self {
        case let .linear(inFeatures, outFeatures, bias):
            try c.encode(inFeatures, forKey: .inFeatures)
            try c.encode(outFeatures, forKey: .outFeatures)
            try c.encode(bias, forKey: .bias)
        case .activation, .flatten:
            break
        }
    }
}

import Foundation
import NTKLinearAlgebra
import NTKFormats

/// A model description in JSON, in the style of PyTorch's `nn.Sequential`:
///
/// ```json
/// {"input_shape": [16], "parameterization": "ntk", "weight_scale": 1.0, "bias_scale": 1.0,
///  "layers": [{"type": "linear", "in_features": 16, "out_features": 32}, {"type": "tanh"},
///             {"type": "linear", "in_features": 32, "out_features": 1}]}
/// ```
///
/// `parameterization` is optional ("standard" by default); `weight_scale`/`bias_scale` (σ_w,
/// σ_b, default 1) apply to "ntk"; "mean_field" needs `gamma0` (γ₀ > 0) and builds the last
/// layer with parameters as the mean-field readout (see `Parameterization.meanField`).
/// Building a network validates every shape and names the layer index and PyTorch field at
/// fault.
public struct ModelSpec: Sendable, Hashable {
    public var inputShape: [Int]
    public var layers: [LayerSpec]
    public var parameterization: Parameterization
    /// For a layer graph, per layer the layers whose outputs it reads (−1: the model's input),
    /// in JSON each layer's `"inputs"` (default: the previous layer); nil for a chain.
    public var inputs: [[Int]]?

    public init(inputShape: [Int], layers: [LayerSpec], parameterization: Parameterization = .standard, inputs: [[Int]]? = nil) {
        self.inputShape = inputShape
        self.layers = layers
        self.parameterization = parameterization
        self.inputs = inputs
    }

    /// Instantiates the layers for the given input shape (path prefix for error messages).
    static func makeSequential<Scalar: BLASScalar>(
        _ specs: [LayerSpec], inputShape: [Int], parameterization: Parameterization, pathPrefix: String
    ) throws -> Sequential<Scalar> {
        guard !specs.isEmpty else {
            throw NetworkError.invalidLayer(
                layer: pathPrefix.isEmpty ? "model" : String(pathPrefix.dropLast()), field: "layers",
                message: "got an empty list, expected at least one layer")
        }
        var shape = inputShape
        var layers: [any Layer<Scalar>] = []
        for (index, spec) in specs.enumerated() {
            let layer: any Layer<Scalar> = try spec.makeLayer(
                inputShape: shape, parameterization: parameterization, path: "\(pathPrefix)\(index)")
            try checkOutput(layer, path: "\(pathPrefix)\(index)", typeName: spec.typeName)
            layers.append(layer)
            shape = layer.outputShape
        }
        // The mean-field readout: the model's last layer with parameters (top level only).
        if pathPrefix.isEmpty, parameterization.readout != parameterization,
            let k = layers.lastIndex(where: { $0.parameterCount > 0 }) {
            layers[k] = try specs[k].makeLayer(
                inputShape: layers[k].inputShape, parameterization: parameterization.readout, path: "\(k)")
        }
        return try Sequential(inputShape: inputShape, layers: layers)
    }

    /// The layers and their wiring, with shapes checked, before any parameter is allocated:
    /// `parameterCount` says what `makeNetwork` would allocate (O(layers), no O(P) work).
    /// - Throws: as `makeNetwork`.
    public func makeBody<Scalar: BLASScalar>(_: Scalar.Type = Scalar.self) throws -> Sequential<Scalar> {
        guard !inputShape.isEmpty, inputShape.allSatisfy({ $0 > 0 }) else {
            throw NetworkError.invalidLayer(layer: "model", field: "input_shape", message: "got \(inputShape), expected positive sizes")
        }
        guard SizeLimit.product(inputShape) != nil else {
            throw NetworkError.invalidLayer(
                layer: "model", field: "input_shape", message: "got \(inputShape), whose product overflows the integer range")
        }
        return try inputs.map {
            try Self.makeGraph(layers, inputs: $0, inputShape: inputShape, parameterization: parameterization)
        } ?? Self.makeSequential(layers, inputShape: inputShape, parameterization: parameterization, pathPrefix: "")
    }

    /// Builds the network and initializes its parameters from `seed`.
    /// - Throws: `NetworkError.invalidLayer` naming the layer index and field on a shape mismatch.
    public func makeNetwork<Scalar: BLASScalar>(_: Scalar.Type = Scalar.self, seed: UInt64 = 0) throws -> Network<Scalar> {
        let body: Sequential<Scalar> = try makeBody()
        do {
            try SizeLimit.checkAllocation(
                "one example of input_shape \(inputShape)", count: SizeLimit.product(inputShape),
                bytesPerElement: MemoryLayout<Scalar>.size, elementName: "\(Scalar.precisionName) values")
        } catch {
            throw NetworkError.invalidLayer(layer: "model", field: "input_shape", message: error.description)
        }
        return try Network(body: body, seed: seed)
    }

    /// Decodes a spec from JSON.
    /// - Throws: `NetworkError.invalidSpec` naming the JSON path (e.g. "layers[2].in_features")
    ///   and what was expected.
    ///   Before decoding, the text passes `StrictJSON` (no duplicate keys, nesting at most
    ///   `StrictJSON.maximumDepth` deep, parsed without recursion) and `validate(_:)` (no unknown
    ///   fields or layer types, integers where integers belong, within range).
    public static func decode(json: Data) throws(NetworkError) -> ModelSpec {
        let document: StrictJSON.Value
        do { document = try StrictJSON.parse(json) } catch { throw .invalidSpec(path: error.path, message: error.message) }
        try validate(document)
        do {
            return try JSONDecoder().decode(ModelSpec.self, from: json)
        } catch let error as DecodingError {
            throw Self.describe(error)
        } catch {
            throw .invalidSpec(path: "(root)", message: "\(error)")
        }
    }

    static func describe(_ error: DecodingError) -> NetworkError {
        func path(_ keys: [any CodingKey]) -> String {
            var out = ""
            for key in keys {
                if let index = key.intValue { out += "[\(index)]" } else { out += (out.isEmpty ? "" : ".") + key.stringValue }
            }
            return out.isEmpty ? "(root)" : out
        }
        switch error {
        case let .keyNotFound(key, context):
            return .invalidSpec(path: path(context.codingPath + [key]), message: "required field is missing")
        case let .typeMismatch(type, context):
            return .invalidSpec(path: path(context.codingPath), message: "expected \(expectation(type))")
        case let .valueNotFound(type, context):
            return .invalidSpec(path: path(context.codingPath), message: "got null, expected \(expectation(type))")
        case let .dataCorrupted(context):
            return .invalidSpec(path: path(context.codingPath), message: context.debugDescription)
        @unknown default:
            return .invalidSpec(path: "(root)", message: "\(error)")
        }
    }

    /// A Swift type in the words of a JSON spec's reader ("an integer", "an object").
    static func expectation(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type: return "an integer"
        case is Double.Type, is Float.Type: return "a number"
        case is String.Type: return "a string"
        case is Bool.Type: return "true or false"
        default:
            let name = String(describing: type)
            if name.hasPrefix("Array") || name.hasPrefix("[") { return "an array" }
            if name.hasPrefix("Dictionary") || name.hasPrefix("[String") { return "an object" }
            return "a value of the documented form"
        }
    }

    /// Encodes the spec as JSON (sorted keys).
    public func encodedJSON() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(self)
    }
}

extension ModelSpec: Codable {
    enum Key: String, CodingKey {
        case inputShape = "input_shape", layers, parameterization
        case weightScale = "weight_scale", biasScale = "bias_scale", gamma0
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        inputShape = try c.decode([Int].self, forKey: .inputShape)
        layers = try c.decode([LayerSpec].self, forKey: .layers)
        let wiring = try c.decode([LayerInputs].self, forKey: .layers)
        inputs = wiring.allSatisfy { $0.inputs == nil } ? nil
            : wiring.enumerated().map { k, entry in entry.inputs ?? [k - 1] }
        switch try c.decodeIfPresent(String.self, forKey: .parameterization)?.lowercased() ?? "standard" {
        case "standard":
            parameterization = .standard
        case "ntk":
            parameterization = .ntk(
                weightScale: try c.decodeIfPresent(Double.self, forKey: .weightScale) ?? 1,
                biasScale: try c.decodeIfPresent(Double.self, forKey: .biasScale) ?? 1)
        case "mean_field":
            guard let gamma0 = try c.decodeIfPresent(Double.self, forKey: .gamma0) else {
                throw DecodingError.keyNotFound(
                    Key.gamma0, .init(codingPath: c.codingPath, debugDescription: "mean_field needs gamma0"))
            }
            guard gamma0 > 0, gamma0.isFinite else {
                throw DecodingError.dataCorruptedError(
                    forKey: .gamma0, in: c, debugDescription: "got \(gamma0), expected a positive finite γ₀")
            }
            parameterization = .meanField(gamma0: gamma0)
        case let other:
            throw DecodingError.dataCorruptedError(
                forKey: .parameterization, in: c,
                debugDescription: "unknown parameterization \"\(other)\"; expected \"standard\", \"ntk\" or \"mean_field\"")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(inputShape, forKey: .inputShape)
        if let inputs, inputs.count == layers.count {
            try c.encode(zip(layers, inputs).map { LayerInputs(spec: $0, inputs: $1) }, forKey: .layers)
        } else {
            try c.encode(layers, forKey: .layers)
        }
        switch parameterization {
        case .standard:
            try c.encode("standard", forKey: .parameterization)
        case let .ntk(weightScale, biasScale):
            try c.encode("ntk", forKey: .parameterization)
            try c.encode(weightScale, forKey: .weightScale)
            try c.encode(biasScale, forKey: .biasScale)
        case let .meanField(gamma0, _):
            try c.encode("mean_field", forKey: .parameterization)
            try c.encode(gamma0, forKey: .gamma0)
        }
    }
}

/// One entry of the JSON layer list seen for its `"inputs"` only (decoding), or a layer with
/// its `"inputs"` added (encoding).
struct LayerInputs: Codable {
    enum Key: String, CodingKey { case inputs }
    var spec: LayerSpec?
    var inputs: [Int]?

    init(spec: LayerSpec, inputs: [Int]) {
        self.spec = spec
        self.inputs = inputs
    }

    init(from decoder: any Decoder) throws {
        inputs = try decoder.container(keyedBy: Key.self).decodeIfPresent([Int].self, forKey: .inputs)
    }

    func encode(to encoder: any Encoder) throws {
        try spec?.encode(to: encoder)
        var c = encoder.container(keyedBy: Key.self)
        try c.encodeIfPresent(inputs, forKey: .inputs)
    }
}

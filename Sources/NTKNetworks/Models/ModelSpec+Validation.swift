import NTKFormats
/// The strict check a model spec's JSON passes before it is decoded: duplicate keys, nesting
/// depth (both in `StrictJSON`), unknown keys (with a "did you mean" for near misses), unknown
/// layer types, and the kind and range of every field (an integer field holding 2.5 or 1e30 is
/// named with its path, never reported as "not valid JSON").
extension ModelSpec {
    /// What a field holds.
    enum FieldKind {
        case integer, number, bool, string
        /// A number or null (PyTorch's `None`).
        case numberOrNull
        /// One integer or `[height, width]`.
        case spatial
        /// One integer or an array of integers.
        case integers
        /// An array of integers.
        case integerArray
        /// `[[sources…], [targets…]]`.
        case edgeIndex
        /// A nested layer list.
        case layers

        var expectation: String {
            switch self {
            case .integer: return "an integer"
            case .number: return "a number"
            case .numberOrNull: return "a number or null"
            case .bool: return "true or false"
            case .string: return "a string"
            case .spatial: return "an integer or [height, width]"
            case .integers: return "an integer or an array of integers"
            case .integerArray: return "an array of integers"
            case .edgeIndex: return "[[sources…], [targets…]] (two arrays of node indices)"
            case .layers: return "an array of layer objects"
            }
        }
    }

    static let rootFields: [String: FieldKind] = [
        "input_shape": .integerArray, "layers": .layers, "parameterization": .string, "weight_scale": .number,
        "bias_scale": .number, "gamma0": .number,
    ]

    static let batchNormFields: [String: FieldKind] = [
        "num_features": .integer, "eps": .number, "momentum": .numberOrNull, "affine": .bool, "track_running_stats": .bool,
    ]

    /// The fields each layer type accepts (besides "type").
    static let layerFields: [String: [String: FieldKind]] = {
        var fields: [String: [String: FieldKind]] = [
            "linear": ["in_features": .integer, "out_features": .integer, "bias": .bool],
            "conv2d": [
                "in_channels": .integer, "out_channels": .integer, "kernel_size": .spatial, "stride": .spatial,
                "padding": .spatial, "bias": .bool, "dilation": .spatial, "groups": .integer, "padding_mode": .string,
            ],
            "avgpool2d": ["kernel_size": .spatial, "stride": .spatial, "padding": .spatial, "ceil_mode": .bool],
            "adaptiveavgpool2d": ["output_size": .spatial],
            "globalavgpool": [:], "globalavgpool2d": [:], "flatten": [:],
            "layernorm": ["normalized_shape": .integers, "eps": .number, "elementwise_affine": .bool, "bias": .bool],
            "residual": ["layers": .layers],
            "batchnorm1d": batchNormFields, "batchnorm2d": batchNormFields,
            "maxpool2d": [
                "kernel_size": .spatial, "stride": .spatial, "padding": .spatial, "dilation": .spatial, "ceil_mode": .bool,
                "return_indices": .bool,
            ],
            "dropout": ["p": .number, "inplace": .bool],
            "embedding": ["num_embeddings": .integer, "embedding_dim": .integer],
            "softmax": ["dim": .integer],
            "token_linear": ["in_features": .integer, "out_features": .integer, "bias": .bool],
            "positional_embedding": ["embed_dim": .integer, "max_len": .integer],
            "multihead_attention": ["embed_dim": .integer, "num_heads": .integer, "causal": .bool],
            "gcn": ["in_features": .integer, "out_features": .integer, "edge_index": .edgeIndex],
            "node_mean_pool": [:],
            "add": [:], "sub": [:], "mul": [:], "div": [:], "matmul": [:], "concat": ["dim": .integer],
            "transformer_encoder_layer": [
                "d_model": .integer, "nhead": .integer, "dim_feedforward": .integer, "norm_first": .bool,
                "activation": .string, "layer_norm_eps": .number, "causal": .bool,
            ],
        ]
        for f in ActivationFunction.allCases { fields[f.rawValue] = [:] }
        return fields
    }()

    /// Checks the parsed document; throws `NetworkError.invalidSpec` naming the path.
    static func validate(_ root: StrictJSON.Value) throws(NetworkError) {
        guard case let .object(members) = root else {
            throw .invalidSpec(path: "(root)", message: "got \(root.kindDescription), expected an object with \"input_shape\" and \"layers\"")
        }
        try checkFields(members, allowed: rootFields, path: "", context: "the model")
    }

    private static func checkFields(
        _ members: [(key: String, value: StrictJSON.Value)], allowed: [String: FieldKind], path: String, context: String
    ) throws(NetworkError) {
        for (key, value) in members {
            let fieldPath = path.isEmpty ? key : "\(path).\(key)"
            guard let kind = allowed[key] else {
                let known = allowed.keys.sorted()
                var message = "unknown field \"\(key)\" for \(context)"
                if let guess = StrictJSON.suggestion(for: key, among: known) { message += "; did you mean \"\(guess)\"?" }
                message += known.isEmpty ? " (it takes no fields besides \"type\")" : " (expected one of \(known.joined(separator: ", ")))"
                throw .invalidSpec(path: fieldPath, message: message)
            }
            try check(value, kind: kind, path: fieldPath)
        }
    }

    private static func check(_ value: StrictJSON.Value, kind: FieldKind, path: String) throws(NetworkError) {
        func mismatch() -> NetworkError { .invalidSpec(path: path, message: "got \(value.kindDescription), expected \(kind.expectation)") }
        func integer(_ v: StrictJSON.Value, _ p: String) throws(NetworkError) {
            if case let .failure(e) = StrictJSON.integer(v) { throw .invalidSpec(path: p, message: e.message) }
        }
        switch (kind, value) {
        case (.integer, _):
            try integer(value, path)
        case (.numberOrNull, .null):
            break
        case (.number, _), (.numberOrNull, _):
            if case let .failure(e) = StrictJSON.double(value) { throw .invalidSpec(path: path, message: e.message) }
        case (.bool, .bool), (.string, .string):
            break
        case (.spatial, .number), (.integers, .number):
            try integer(value, path)
        case (.spatial, .array(let items)), (.integers, .array(let items)), (.integerArray, .array(let items)):
            for (i, item) in items.enumerated() { try integer(item, "\(path)[\(i)]") }
            if kind == .spatial, items.count != 2 {
                throw .invalidSpec(path: path, message: "got \(items.count) values, expected an integer or [height, width]")
            }
        case (.edgeIndex, .array(let rows)):
            for (r, row) in rows.enumerated() {
                guard case let .array(items) = row else {
                    throw .invalidSpec(path: "\(path)[\(r)]", message: "got \(row.kindDescription), expected an array of node indices")
                }
                for (i, item) in items.enumerated() { try integer(item, "\(path)[\(r)][\(i)]") }
            }
        case (.layers, .array(let layers)):
            // Top-level layers may name the layers they read ("inputs"); nested ones are chains.
            for (i, layer) in layers.enumerated() { try checkLayer(layer, path: "\(path)[\(i)]", graph: path == "layers") }
        default:
            throw mismatch()
        }
    }

    private static func checkLayer(_ layer: StrictJSON.Value, path: String, graph: Bool) throws(NetworkError) {
        guard case let .object(members) = layer else {
            throw .invalidSpec(path: path, message: "got \(layer.kindDescription), expected a layer object such as {\"type\": \"linear\", …}")
        }
        guard let typeValue = layer["type"] else { throw .invalidSpec(path: "\(path).type", message: "required field is missing") }
        guard case let .string(rawType) = typeValue else {
            throw .invalidSpec(path: "\(path).type", message: "got \(typeValue.kindDescription), expected a string")
        }
        let type = rawType.lowercased()
        guard let allowed = layerFields[type] else {
            var message = "unknown layer type \"\(rawType)\""
            if let guess = StrictJSON.suggestion(for: type, among: Array(layerFields.keys)) { message += "; did you mean \"\(guess)\"?" }
            message += " (expected one of \(layerFields.keys.sorted().joined(separator: ", ")))"
            throw .invalidSpec(path: "\(path).type", message: message)
        }
        try checkFields(
            members.filter { $0.key != "type" }, allowed: graph ? allowed.merging(["inputs": .integerArray]) { a, _ in a } : allowed,
            path: path, context: "a \(type) layer")
    }
}

/// One operator application of an ONNX graph (`NodeProto`).
public struct ONNXNode: Sendable, Hashable {
    /// The node's name (may be empty; torch.onnx.export names nodes after the module path, "/fc1/Gemm").
    public var name: String
    /// The operator ("Gemm", "Conv", "Reshape", …).
    public var opType: String
    /// The operator's domain; "" (or "ai.onnx") is the default ONNX domain.
    public var domain: String
    /// Input value names in operator order; "" marks an omitted optional input.
    public var inputs: [String]
    /// Output value names in operator order; "" marks an unused optional output.
    public var outputs: [String]
    /// The attributes by name.
    public var attributes: [String: ONNXAttribute]

    public init(name: String = "", opType: String, domain: String = "", inputs: [String], outputs: [String],
                attributes: [String: ONNXAttribute] = [:]) {
        self.name = name
        self.opType = opType
        self.domain = domain
        self.inputs = inputs
        self.outputs = outputs
        self.attributes = attributes
    }

    /// Whether the node belongs to the default ONNX domain.
    public var isDefaultDomain: Bool { domain.isEmpty || domain == "ai.onnx" }

    /// How errors name the node: `"/fc1/Gemm" (Gemm)`, or by its first output when unnamed.
    var label: String {
        if !name.isEmpty { return "\"\(name)\" (\(opType))" }
        return "(unnamed \(opType)\(outputs.first.map { " writing \"\($0)\"" } ?? ""))"
    }
}

/// A node attribute (`AttributeProto`) of the kinds this reader accepts. Graph-valued
/// attributes (the bodies of `If`, `Loop`, `Scan`), sparse tensors and type protos are refused.
public enum ONNXAttribute: Sendable, Hashable {
    case int(Int64)
    case ints([Int64])
    case float(Double)
    case floats([Double])
    case string(String)
    case strings([String])
    case tensor(ONNXTensor)

    /// The value of an `int` attribute.
    public var int: Int64? { if case let .int(v) = self { return v }; return nil }
    /// The value of an `ints` attribute.
    public var ints: [Int64]? { if case let .ints(v) = self { return v }; return nil }
    /// The value of a `float` attribute.
    public var float: Double? { if case let .float(v) = self { return v }; return nil }
    /// The value of a `floats` attribute.
    public var floats: [Double]? { if case let .floats(v) = self { return v }; return nil }
    /// The value of a `string` attribute.
    public var string: String? { if case let .string(v) = self { return v }; return nil }
    /// The value of a `tensor` attribute.
    public var tensor: ONNXTensor? { if case let .tensor(v) = self { return v }; return nil }

    /// Decodes `proto`, an attribute of the node `node` (labelled for errors).
    init(proto: Onnx_AttributeProto, node: String) throws(ONNXError) {
        let name = proto.name
        if !proto.refAttrName.isEmpty {
            throw .invalidAttribute(node: node, attribute: name, message: "refers to function attribute \"\(proto.refAttrName)\"; expected a value (references are valid only inside functions)")
        }
        switch proto.type {
        case .int: self = .int(proto.i)
        case .ints: self = .ints(proto.ints)
        case .float: self = .float(Double(proto.f))
        case .floats: self = .floats(proto.floats.map(Double.init))
        case .string: self = .string(String(decoding: proto.s, as: UTF8.self))
        case .strings: self = .strings(proto.strings.map { String(decoding: $0, as: UTF8.self) })
        case .tensor: self = .tensor(try ONNXTensor(proto: proto.t, label: "\(node) attribute \(name)"))
        case .graph, .graphs:
            throw .invalidAttribute(node: node, attribute: name, message: "graph-valued attributes (control flow: If, Loop, Scan) are not supported; expected a graph without control flow")
        case .undefined:
            throw .invalidAttribute(node: node, attribute: name, message: "has no type; expected INT, INTS, FLOAT, FLOATS, STRING, STRINGS or TENSOR")
        default:
            throw .invalidAttribute(node: node, attribute: name, message: "type \(proto.type) is not supported; expected INT, INTS, FLOAT, FLOATS, STRING, STRINGS or TENSOR")
        }
    }
}

extension ONNXNode {
    /// Attribute `name` as an Int (`value` when absent); an attribute of another type or out
    /// of range is an error naming the node. Shared by constant folding and the importer.
    func intAttribute(_ name: String, default value: Int) throws(ONNXError) -> Int {
        guard let attribute = attributes[name] else { return value }
        guard let v = attribute.int else { throw .invalidAttribute(node: label, attribute: name, message: "expected an INT") }
        guard let n = Int(exactly: v) else { throw .invalidAttribute(node: label, attribute: name, message: "\(v) is out of range") }
        return n
    }

    func intsAttribute(_ name: String) throws(ONNXError) -> [Int]? {
        guard let attribute = attributes[name] else { return nil }
        guard let v = attribute.ints else { throw .invalidAttribute(node: label, attribute: name, message: "expected INTS") }
        return v.map { Int($0) }
    }

    func floatAttribute(_ name: String, default value: Double) throws(ONNXError) -> Double {
        guard let attribute = attributes[name] else { return value }
        guard let v = attribute.float else { throw .invalidAttribute(node: label, attribute: name, message: "expected a FLOAT") }
        return v
    }

    func stringAttribute(_ name: String, default value: String) throws(ONNXError) -> String {
        guard let attribute = attributes[name] else { return value }
        guard let s = attribute.string else { throw .invalidAttribute(node: label, attribute: name, message: "expected a STRING") }
        return s
    }
}

import Foundation
import NTKLinearAlgebra
import SwiftProtobuf

/// One dimension of a declared tensor shape.
public enum ONNXDimension: Sendable, Hashable, CustomStringConvertible {
    /// A fixed size (`dim_value`).
    case fixed(Int)
    /// A named size chosen at run time (`dim_param`, e.g. "batch_size", "s0").
    case symbolic(String)
    /// A size neither fixed nor named.
    case unknown

    public var description: String {
        switch self {
        case let .fixed(n): "\(n)"
        case let .symbolic(s): s
        case .unknown: "?"
        }
    }
}

/// A graph input or output: its name, element type and declared shape.
public struct ONNXValueInfo: Sendable, Hashable {
    public var name: String
    public var elementType: ONNXElementType
    /// The declared dimensions, or `nil` when the rank itself is unknown.
    public var shape: [ONNXDimension]?

    public init(name: String, elementType: ONNXElementType, shape: [ONNXDimension]?) {
        self.name = name
        self.elementType = elementType
        self.shape = shape
    }
}

/// An ONNX model (https://onnx.ai, `onnx.proto` of onnx 1.23.2) read and validated for
/// evaluation: the default-domain opset, the graph's inputs, outputs and initializers, and its
/// nodes in topological order.
///
/// Reading refuses, with one line naming the culprit: bytes that are not a protobuf
/// `ModelProto`; a default-domain opset outside ``supportedOpsets``; element types other than
/// float32/float64 (activations, weights) and int64/int32/bool (shapes, indices, masks);
/// external or segmented tensor data; `raw_data` or typed data that disagree with the dims;
/// sizes beyond the integer range or the memory (checked with `SizeLimit` before
/// allocating); duplicate names; node inputs defined nowhere (dangling); cycles; graph
/// outputs produced by no node; control-flow (graph-valued) attributes. Nothing in a hostile
/// file traps: protobuf nesting is bounded by SwiftProtobuf's depth limit (100).
///
/// ```swift
/// let model = try ONNXModel(contentsOf: URL(fileURLWithPath: "mlp.onnx"))
/// for node in model.nodes { print(node.opType, node.inputs, "->", node.outputs) }
/// let folded = try model.foldConstants(inputShapes: model.inputShapes(batchSize: 8))
/// ```
public struct ONNXModel: Sendable {
    /// The default-domain opset versions accepted (torch.onnx.export's range in practice).
    public static let supportedOpsets: ClosedRange<Int> = 13...20
    /// The largest model file read (protobuf's limit on one message, 2 GiB).
    public static let maximumFileBytes = Int(Int32.max)

    /// The IR version (`ir_version`).
    public var irVersion: Int
    /// The default domain's opset version, within ``supportedOpsets``.
    public var opsetVersion: Int
    /// Every imported opset, domain to version ("" for the default domain).
    public var opsetImports: [String: Int]
    /// The producer ("pytorch") and its version.
    public var producerName: String
    public var producerVersion: String
    /// The graph's name.
    public var graphName: String
    /// The graph inputs the caller feeds, in order (inputs that also have an initializer,
    /// as IR < 4 files list them, are omitted: they are ``initializers``).
    public var inputs: [ONNXValueInfo]
    /// The graph outputs, in order.
    public var outputs: [ONNXValueInfo]
    /// The initializers (weights and constants) in file order.
    public var initializers: [ONNXTensor]
    /// The nodes in topological order (each node after the producers of its inputs; a graph
    /// already sorted keeps its order).
    public var nodes: [ONNXNode]

    /// The initializer named `name`.
    public func initializer(named name: String) -> ONNXTensor? {
        initializerIndex[name].map { initializers[$0] }
    }

    var initializerIndex: [String: Int]

    /// Reads the model at `url` (at most ``maximumFileBytes``).
    public init(contentsOf url: URL) throws(ONNXError) {
        let path = url.path
        let data: Data
        do {
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            if let size = (attributes[.size] as? NSNumber)?.intValue, size > Self.maximumFileBytes {
                throw ONNXError.io(path: path, message: "\(size) bytes, more than protobuf's limit of \(Self.maximumFileBytes) bytes; expected a model saved with external data stripped (which this reader refuses) or a smaller one")
            }
            data = try Data(contentsOf: url, options: .mappedIfSafe)
        } catch let error as ONNXError {
            throw error
        } catch {
            throw .io(path: path, message: (error as NSError).localizedDescription)
        }
        // Decode in a scope of its own: the mapped file is released before the tensors are
        // converted, so the file, the message and the converted tensors are never all resident.
        let proto = try Self.decode(consume data)
        try self.init(proto: consume proto)
    }

    static func decode(_ data: consuming Data) throws(ONNXError) -> Onnx_ModelProto {
        let byteCount = data.count
        guard data.count <= Self.maximumFileBytes else {
            throw .malformed(message: "\(data.count) bytes, more than protobuf's limit of \(Self.maximumFileBytes) bytes")
        }
        do {
            return try Onnx_ModelProto(serializedBytes: data)
        } catch {
            throw .malformed(message: Self.describe(decodingError: error, byteCount: byteCount))
        }
    }

    /// Reads and validates a serialized `ModelProto`.
    public init(data: Data) throws(ONNXError) {
        try self.init(proto: Self.decode(data))
    }

    /// The message is consumed: each initializer's bytes are released once converted, so the
    /// encoded and the converted weights are never both whole in memory.
    init(proto message: consuming Onnx_ModelProto) throws(ONNXError) {
        var proto = message
        var imports: [String: Int] = [:]
        for opset in proto.opsetImport {
            let domain = opset.domain == "ai.onnx" ? "" : opset.domain
            if let previous = imports[domain], previous != Int(opset.version) {
                throw .duplicateName(name: domain.isEmpty ? "ai.onnx" : domain, message: "is imported as opset \(previous) and \(opset.version)")
            }
            imports[domain] = Int(opset.version)
        }
        guard let version = imports[""] else { throw .missingOpset }
        guard Self.supportedOpsets.contains(version) else { throw .unsupportedOpset(version: version, supported: Self.supportedOpsets) }
        guard proto.hasGraph else { throw .missingGraph }
        var graph = proto.graph
        proto.clearGraph()
        var tensorProtos = graph.initializer
        graph.initializer = []

        if let sparse = graph.sparseInitializer.first {
            throw .unsupportedStorage(tensor: sparse.values.name, message: "sparse initializers are not supported; expected dense initializers")
        }
        var initializers: [ONNXTensor] = []
        var initializerIndex: [String: Int] = [:]
        for i in tensorProtos.indices {
            let tensor = try ONNXTensor(proto: tensorProtos[i], label: "initializer #\(i)")
            tensorProtos[i] = Onnx_TensorProto()
            guard initializerIndex.updateValue(i, forKey: tensor.name) == nil else {
                throw .duplicateName(name: tensor.name, message: "names two initializers")
            }
            initializers.append(tensor)
        }
        var inputs: [ONNXValueInfo] = []
        var inputNames = Set<String>()
        for info in graph.input {
            let value = try Self.valueInfo(info, role: "input")
            guard inputNames.insert(value.name).inserted else { throw .duplicateName(name: value.name, message: "names two graph inputs") }
            if initializerIndex[value.name] == nil { inputs.append(value) }
        }
        let outputs = try graph.output.map { (info) throws(ONNXError) in try Self.valueInfo(info, role: "output") }

        var nodes: [ONNXNode] = []
        nodes.reserveCapacity(graph.node.count)
        for nodeProto in graph.node {
            var node = ONNXNode(name: nodeProto.name, opType: nodeProto.opType, domain: nodeProto.domain,
                                inputs: nodeProto.input, outputs: nodeProto.output)
            let label = node.label
            for attributeProto in nodeProto.attribute {
                let attribute = try ONNXAttribute(proto: attributeProto, node: label)
                guard node.attributes.updateValue(attribute, forKey: attributeProto.name) == nil else {
                    throw .invalidAttribute(node: label, attribute: attributeProto.name, message: "appears twice; expected once")
                }
            }
            nodes.append(node)
        }
        let defined = inputNames.union(initializerIndex.keys)
        let sorted = try Self.topologicallySorted(nodes, defined: defined)
        var produced = defined
        for node in sorted { for output in node.outputs where !output.isEmpty { produced.insert(output) } }
        for output in outputs where !produced.contains(output.name) { throw .undefinedOutput(name: output.name) }

        self.irVersion = Int(proto.irVersion)
        self.opsetVersion = version
        self.opsetImports = imports
        self.producerName = proto.producerName
        self.producerVersion = proto.producerVersion
        self.graphName = graph.name
        self.inputs = inputs
        self.outputs = outputs
        self.initializers = initializers
        self.initializerIndex = initializerIndex
        self.nodes = sorted
    }

    /// A graph input or output's name, element type and declared shape.
    static func valueInfo(_ info: Onnx_ValueInfoProto, role: String) throws(ONNXError) -> ONNXValueInfo {
        guard !info.name.isEmpty else { throw .duplicateName(name: "", message: "names a graph \(role) (empty)") }
        let kind: String
        switch info.type.value {
        case let .tensorType(tensor)?:
            guard let type = ONNXElementType(dataType: Int(tensor.elemType)) else {
                throw .unsupportedElementType(tensor: info.name, dataType: ONNXElementType.onnxName(Int(tensor.elemType)))
            }
            var shape: [ONNXDimension]?
            if tensor.hasShape {
                shape = []
                for dim in tensor.shape.dim {
                    switch dim.value {
                    case let .dimValue(n)?:
                        guard n >= 0 else { throw .negativeDimension(tensor: info.name, dims: tensor.shape.dim.map { $0.dimValue }) }
                        shape!.append(.fixed(Int(n)))
                    case let .dimParam(s)?: shape!.append(s.isEmpty ? .unknown : .symbolic(s))
                    case nil: shape!.append(.unknown)
                    }
                }
            }
            return ONNXValueInfo(name: info.name, elementType: type, shape: shape)
        case .sequenceType?: kind = "sequence"
        case .mapType?: kind = "map"
        case .optionalType?: kind = "optional"
        case .sparseTensorType?: kind = "sparse tensor"
        case .opaqueType?: kind = "opaque value"
        case nil: kind = "value without a type"
        }
        throw .unsupportedValueType(value: info.name, kind: kind)
    }

    /// `nodes` ordered so that each comes after the producers of its inputs (Kahn's algorithm,
    /// ties broken by file order, so a sorted graph keeps its order).
    /// - Throws: `.duplicateName` for an output defined twice, `.danglingInput` for an input
    ///   defined nowhere, `.cycle` naming the nodes that cannot be ordered.
    /// - Complexity: O((V + E) log V) for V nodes and E input references.
    static func topologicallySorted(_ nodes: [ONNXNode], defined: Set<String>) throws(ONNXError) -> [ONNXNode] {
        var producer: [String: Int] = [:]
        for (i, node) in nodes.enumerated() {
            for output in node.outputs where !output.isEmpty {
                if defined.contains(output) {
                    throw .duplicateName(name: output, message: "is written by node \(node.label) and is also a graph input or initializer")
                }
                if let other = producer.updateValue(i, forKey: output) {
                    throw .duplicateName(name: output, message: "is written by nodes \(nodes[other].label) and \(node.label)")
                }
            }
        }
        var pending = [Int](repeating: 0, count: nodes.count)
        var dependents = [[Int]](repeating: [], count: nodes.count)
        for (i, node) in nodes.enumerated() {
            for input in node.inputs where !input.isEmpty && !defined.contains(input) {
                guard let p = producer[input] else { throw .danglingInput(node: node.label, input: input) }
                pending[i] += 1
                dependents[p].append(i)
            }
        }
        var ready = MinHeap()
        for i in nodes.indices where pending[i] == 0 { ready.insert(i) }
        var order: [Int] = []
        order.reserveCapacity(nodes.count)
        while let i = ready.popMin() {
            order.append(i)
            for d in dependents[i] {
                pending[d] -= 1
                if pending[d] == 0 { ready.insert(d) }
            }
        }
        guard order.count == nodes.count else {
            throw .cycle(nodes: nodes.indices.filter { pending[$0] > 0 }.map { nodes[$0].label })
        }
        return order.map { nodes[$0] }
    }

    /// One line for SwiftProtobuf's decoding error.
    static func describe(decodingError error: Error, byteCount: Int) -> String {
        if let error = error as? BinaryDecodingError {
            switch error {
            case .truncated: return "the \(byteCount) bytes end inside a field (truncated file?)"
            case .malformedProtobuf: return "the \(byteCount) bytes are not well-formed protobuf (corrupt or not an ONNX file)"
            case .messageDepthLimit: return "messages nested more than 100 deep"
            case .invalidUTF8: return "a string field is not valid UTF-8"
            case .missingRequiredFields: return "required fields are missing"
            default: break
            }
        }
        return "\(error)".split(separator: "\n").joined(separator: " ")
    }
}

/// A binary min-heap of node indices (the ready set of the topological sort).
struct MinHeap {
    private var items: [Int] = []

    mutating func insert(_ x: Int) {
        items.append(x)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard items[parent] > items[i] else { break }
            items.swapAt(parent, i)
            i = parent
        }
    }

    mutating func popMin() -> Int? {
        guard let first = items.first else { return nil }
        let last = items.removeLast()
        guard !items.isEmpty else { return first }
        items[0] = last
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < items.count && items[l] < items[m] { m = l }
            if r < items.count && items[r] < items[m] { m = r }
            if m == i { break }
            items.swapAt(i, m)
            i = m
        }
        return first
    }
}

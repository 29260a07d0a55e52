import NTKLinearAlgebra

/// Errors reading an ONNX model or folding its shape arithmetic; each is one line naming what
/// was wrong (the tensor, node, input or attribute at fault) and what was expected.
public enum ONNXError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Reading the file failed (missing, unreadable, or larger than protobuf's 2 GiB limit).
    case io(path: String, message: String)
    /// The bytes are not a protobuf `ModelProto` (truncated, corrupt, or nested too deeply);
    /// `message` is SwiftProtobuf's decoding error.
    case malformed(message: String)
    /// The model has no graph.
    case missingGraph
    /// The model imports no opset of the default domain ("" or "ai.onnx").
    case missingOpset
    /// The default domain's opset version is outside `supported`.
    case unsupportedOpset(version: Int, supported: ClosedRange<Int>)
    /// A tensor (initializer, input, output or attribute tensor) has an element type this
    /// reader does not convert; `dataType` is ONNX's name for it (e.g. "FLOAT16").
    case unsupportedElementType(tensor: String, dataType: String)
    /// A graph input or output is not a tensor (a sequence, map, optional, sparse tensor…).
    case unsupportedValueType(value: String, kind: String)
    /// A tensor's data lives in an external file, or uses a storage this reader refuses
    /// (segments, sparse initializers).
    case unsupportedStorage(tensor: String, message: String)
    /// A tensor has a negative dimension.
    case negativeDimension(tensor: String, dims: [Int64])
    /// A tensor's `raw_data` holds `got` bytes where its dims and element type need `expected`.
    case rawDataSize(tensor: String, dims: [Int], elementType: ONNXElementType, expected: Int, got: Int)
    /// A tensor's typed data field holds `got` values where its dims need `expected`.
    case valueCount(tensor: String, field: String, dims: [Int], expected: Int, got: Int)
    /// A size derived from the file exceeds the integer range or the memory (checked before allocating).
    case sizeLimit(SizeLimitError)
    /// Two graph inputs, initializers or node outputs share a name (ONNX graphs are SSA).
    case duplicateName(name: String, message: String)
    /// A node input is neither a graph input, an initializer nor the output of a node.
    case danglingInput(node: String, input: String)
    /// The nodes cannot be ordered: some depend, directly or not, on their own outputs.
    case cycle(nodes: [String])
    /// A graph output is produced by no node and is neither an input nor an initializer.
    case undefinedOutput(name: String)
    /// A node attribute is of a kind this reader refuses, or its value is invalid for the node.
    case invalidAttribute(node: String, attribute: String, message: String)
    /// A node's inputs are inconsistent (shapes that do not broadcast, an index out of range…)
    /// or the shape arithmetic cannot be evaluated (division by zero, integer overflow).
    case invalidNode(node: String, message: String)
    /// The concrete shape of a graph input is missing or disagrees with the model's declaration.
    case inputShape(input: String, message: String)

    public var description: String {
        switch self {
        case let .io(path, message):
            return "onnx: \(path): \(message)"
        case let .malformed(message):
            return "onnx: not a valid ONNX model (protobuf ModelProto expected): \(message)"
        case .missingGraph:
            return "onnx: the model has no graph"
        case .missingOpset:
            return "onnx: the model imports no opset of the default domain (\"\" or \"ai.onnx\"); expected one"
        case let .unsupportedOpset(version, supported):
            return "onnx: opset \(version) of the default domain is not supported; expected \(supported.lowerBound)...\(supported.upperBound) (re-export with torch.onnx.export(..., opset_version=\(supported.upperBound)))"
        case let .unsupportedElementType(tensor, dataType):
            return "onnx: tensor \"\(tensor)\" has element type \(dataType); expected FLOAT or DOUBLE (activations, weights) or INT64, INT32, BOOL (shapes, indices, masks)"
        case let .unsupportedValueType(value, kind):
            return "onnx: graph value \"\(value)\" is a \(kind); expected a tensor"
        case let .unsupportedStorage(tensor, message):
            return "onnx: tensor \"\(tensor)\": \(message)"
        case let .negativeDimension(tensor, dims):
            return "onnx: tensor \"\(tensor)\" has dims \(dims); expected dimensions ≥ 0"
        case let .rawDataSize(tensor, dims, type, expected, got):
            return "onnx: tensor \"\(tensor)\" (\(type), dims \(dims)) has \(got) bytes of raw_data; expected \(expected)"
        case let .valueCount(tensor, field, dims, expected, got):
            return "onnx: tensor \"\(tensor)\" (dims \(dims)) has \(got) values in \(field); expected \(expected)"
        case let .sizeLimit(error):
            return "onnx: \(error)"
        case let .duplicateName(name, message):
            return "onnx: name \"\(name)\" \(message); expected each value to be defined once"
        case let .danglingInput(node, input):
            return "onnx: node \(node) reads \"\(input)\", which is neither a graph input, an initializer nor a node output"
        case let .cycle(nodes):
            let shown = nodes.prefix(5).joined(separator: ", ") + (nodes.count > 5 ? ", … (\(nodes.count) nodes)" : "")
            return "onnx: the graph has a cycle: nodes \(shown) depend on their own outputs; expected an acyclic graph"
        case let .undefinedOutput(name):
            return "onnx: graph output \"\(name)\" is produced by no node and is neither an input nor an initializer"
        case let .invalidAttribute(node, attribute, message):
            return "onnx: node \(node) attribute \"\(attribute)\": \(message)"
        case let .invalidNode(node, message):
            return "onnx: node \(node): \(message)"
        case let .inputShape(input, message):
            return "onnx: graph input \"\(input)\": \(message)"
        }
    }
}

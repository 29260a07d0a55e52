import Foundation
import NTKLinearAlgebra
import NTKNetworks
import NTKFormats

/// Builds a `Network` (a layer graph) from an ONNX model exported by `torch.onnx.export`, so
/// that a PyTorch model's NTK is taken unchanged.
///
/// ## What becomes what
/// - **Parameters** are the floating-point initializers the output depends on, including
///   transposes, slices, gathers and reshapes of them (an attention's `in_proj_weight` split
///   three ways): each element is owned by exactly one layer, so θ is the model's parameter
///   vector up to a permutation of coordinates, which leaves K = J Jᵀ unchanged. BatchNorm
///   running statistics and shape constants are constants. An element used by two layers
///   (weight sharing) is refused: the network engine gives every layer its own slice of θ.
/// - **Activations** carry the batch as one axis (possibly moved by a `Transpose`, or merged
///   with a neighbour as attention's `[L, B·H, d]` is): each becomes a node of the graph whose
///   per-example shape is the ONNX shape with that axis's batch factor removed. Shapes are
///   found by evaluating the graph's shape arithmetic once with a sentinel batch size
///   (`sentinelBatch`), so a `Reshape` whose target came from `Shape` nodes is understood.
/// - **Constants** (`Constant`, shape arithmetic, `Sqrt` of a head size, …) are folded.
///
/// Constant folding at export changes the parameterization (BatchNorm folded into the
/// preceding convolution turns two parameter sets into one, a different network with a
/// different NTK): export with `do_constant_folding=False` (TorchScript exporter) or
/// `optimize=False` (dynamo exporter), as `Benchmarks/peers/onnx_export.py` does.
///
/// - Complexity: one pass over the nodes; memory: the initializers (Double) plus θ.
public enum ONNXImporter {
    /// The batch size used to evaluate shape arithmetic: a prime far above any per-example
    /// size, so that the axis carrying the batch is the one whose size it divides.
    public static let sentinelBatch = 999_983

    /// The ONNX operators the importer maps to layers (besides the shape arithmetic it folds).
    public static let supportedOperators: [String] = [
        "Add", "AveragePool", "BatchNormalization", "Cast", "CastLike", "Concat", "Conv", "Div", "Dropout", "Erf",
        "Flatten", "Gather", "Gelu", "Gemm", "GlobalAveragePool", "Identity", "LayerNormalization", "MatMul", "MaxPool",
        "Mul", "ReduceMean", "Relu", "Reshape", "Shape", "Sigmoid", "Slice", "Softmax", "Softplus", "Split", "Squeeze",
        "Sub", "Tanh", "Transpose", "Unsqueeze",
    ].sorted()

    /// Imports `model` as a network in precision `Scalar`.
    ///
    /// - Throws: `ONNXError` naming the node (op type and name) for anything unsupported or
    ///   inconsistent; `NetworkError` if a layer refuses its configuration.
    ///
    /// The model is consumed: an initializer's values are released as they are copied into θ,
    /// so when the caller gives up its copy (`consume model`) the import never holds the
    /// weights twice over on top of θ.
    public static func network<Scalar: BLASScalar>(_ model: consuming ONNXModel, as _: Scalar.Type = Scalar.self) throws -> ONNXImport<Scalar> {
        var builder = try GraphBuilder(model: model)
        try builder.run()
        return try builder.finish(Scalar.self)
    }
}

/// An imported network and what the import found.
public struct ONNXImport<Scalar: BLASScalar>: Sendable {
    public var network: Network<Scalar>
    /// Parameters: the number of initializer elements the network trains (PyTorch's
    /// `sum(p.numel() for p in model.parameters())` for an unfolded export).
    public var parameterCount: Int { network.parameterCount }
    /// Initializers used as parameters, in order, with their element counts.
    public var parameterInitializers: [(name: String, count: Int)]
    /// Initializers used as constants (BatchNorm running statistics, shape constants).
    public var constantInitializers: [String]
    /// Per layer of the network, the ONNX node it came from ("Conv /layer1/conv1/Conv").
    public var layerSources: [String]
    /// Nodes folded into constants, and nodes that became no layer (Identity, Dropout, Cast, reshapes of nothing).
    public var foldedNodes: Int
    public var elidedNodes: Int
    public var opset: Int
    public var producer: String
    /// Whether the model's input holds token ids (it feeds an embedding).
    public var integerInput: Bool
    /// Per parameter tensor of the network: its first coordinate in θ and the initializer
    /// elements it holds (ids index the concatenation of `initializers`, whose starts are `starts`).
    var origins: [(theta: Int, ids: ParameterIDs)]
    var starts: [Int]
    /// The floating-point initializers taken as parameters, with their ONNX shapes.
    var initializers: [(name: String, shape: [Int])]

    /// Replaces the parameters read from the ONNX file by the tensors of `file` with the same
    /// names (PyTorch `state_dict` names, as the exporters keep them): each tensor must have its
    /// initializer's shape; an initializer absent from the file keeps its ONNX values; a tensor
    /// of the file that is no parameter initializer (other than BatchNorm statistics and
    /// `num_batches_tracked`, which are constants here) is an error. Transposed or sliced uses
    /// of a parameter follow it.
    public mutating func loadWeights(from file: Safetensors) throws(SafetensorsError) {
        var parameters = network.parameters
        let byName = Dictionary(initializers.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
        var replaced: [Int: [Scalar]] = [:]
        for name in file.entries.keys.sorted() {
            guard let index = byName[name] else {
                if constantInitializers.contains(name) || name.hasSuffix("num_batches_tracked") { continue }
                throw .unexpectedTensor(name: name)
            }
            replaced[index] = try file.values(name, as: Scalar.self, shape: initializers[index].shape)
        }
        // Binary search of the initializer holding element id (starts ascend).
        func origin(_ id: Int) -> (initializer: Int, offset: Int) {
            var low = 0, high = starts.count - 1
            while low < high {
                let mid = (low + high + 1) / 2
                if starts[mid] <= id { low = mid } else { high = mid - 1 }
            }
            return (low, id - starts[low])
        }
        for (theta, ids) in origins {
            for j in 0..<ids.count {
                let (k, offset) = origin(Int(ids[j]))
                if let values = replaced[k] { parameters[theta + j] = values[offset] }
            }
        }
        do { network = try Network(body: network.body, parameters: parameters) } catch {
            throw .invalidValue(name: "parameters", message: "\(error)")
        }
    }
}

/// What one ONNX value is during the import.
private enum Value {
    /// A known constant (shape constants, folded arithmetic, BatchNorm statistics).
    case constant(KnownValue)
    /// Derived from initializers by data movement only: the values, and per element the id of
    /// the initializer element it is (ids index `GraphBuilder.elementOwners`).
    case parameter(ParameterValue)
    case activation(ActivationValue)
}

private struct ParameterValue {
    var shape: [Int]
    /// The values as stored: `.float32` for a float32 initializer used as it is (4 bytes per
    /// value until θ is filled), `.floating` once moved or changed.
    var storage: ONNXTensor.Values
    var ids: ParameterIDs
    var source: String

    init(shape: [Int], storage: ONNXTensor.Values, ids: ParameterIDs, source: String) {
        self.shape = shape
        self.storage = storage
        self.ids = ids
        self.source = source
    }

    init(shape: [Int], values: [Double], ids: ParameterIDs, source: String) {
        self.init(shape: shape, storage: .floating(values), ids: ids, source: source)
    }

    var count: Int { storage.count }

    /// The values widened to Double (a copy for `.float32` storage).
    var values: [Double] {
        get {
            switch storage {
            case let .floating(v): return v
            case let .float32(v): return v.map(Double.init)
            case let .integer(v): return v.map(Double.init)
            }
        }
        set { storage = .floating(newValue) }
    }
}

/// The initializer elements a parameter value is, in order: a contiguous run (an initializer
/// used as it is, no per-element storage) or an explicit list (after a transpose or a slice).
enum ParameterIDs: Sendable {
    case range(start: Int, count: Int)
    case explicit([Int64])

    var count: Int {
        switch self {
        case let .range(_, count): return count
        case let .explicit(ids): return ids.count
        }
    }

    subscript(j: Int) -> Int64 {
        switch self {
        case let .range(start, _): return Int64(start + j)
        case let .explicit(ids): return ids[j]
        }
    }

    var materialized: [Int64] {
        switch self {
        case let .range(start, count): return (0..<count).map { Int64(start + $0) }
        case let .explicit(ids): return ids
        }
    }
}

private struct ActivationValue {
    /// The graph node (0 = the input, j + 1 = layer j's output).
    var node: Int
    /// The ONNX shape with the sentinel batch B, and the axis that carries it. The batch enters
    /// the flat layout as P·(B·S) + b·S + r: `outer` is the part of P inside the batch axis
    /// (attention's [L·B, D] has outer L), so that the axis's index is (a·B + b)·m + j.
    var shape: [Int]
    var batchAxis: Int
    var outer: Int = 1
    var isInteger: Bool

    /// The elements before the batch, P; a reshape keeps it, and so keeps each example's data.
    var pre: Int { shape[..<batchAxis].reduce(1, *) * outer }

    /// The batch axis's per-example size o·m.
    var factor: Int { shape[batchAxis] / ONNXImporter.sentinelBatch }

    /// The per-example shape: the batch axis dropped (o·m = 1) or of size o·m.
    var example: [Int] {
        var s = shape
        if factor == 1 { s.remove(at: batchAxis) } else { s[batchAxis] = factor }
        return s
    }

    /// The per-example axis of ONNX axis `a` (not the batch axis).
    func exampleAxis(_ a: Int) -> Int { factor == 1 && a > batchAxis ? a - 1 : a }
}

private struct GraphBuilder {
    var model: ONNXModel
    /// The ONNX shapes of the parameter initializers (the model's own copies are released).
    var initializerDims: [String: [Int]] = [:]
    var values: [String: Value] = [:]
    var layers: [(layer: any Layer<Double>, inputs: [Int], source: String)] = []
    var input: ActivationValue?
    var layerParameters: [[ParameterValue]] = []
    /// One bit per initializer element: already owned by a layer.
    var elementUsed = BitSet()
    var initializerRanges: [(name: String, start: Int, count: Int)] = []
    var constantInitializers: [String] = []
    var folded = 0, elided = 0
    var output: ActivationValue?

    init(model: consuming ONNXModel) throws {
        self.model = model
    }

    // MARK: Setup

    mutating func run() throws {
        let realInputs = model.inputs.filter { input in !model.initializers.contains { $0.name == input.name } }
        guard realInputs.count == 1, let input = realInputs.first else {
            throw ONNXError.invalidNode(
                node: "graph", message: "has \(realInputs.count) inputs (\(realInputs.map(\.name))); expected exactly one (the batch of examples)")
        }
        guard model.outputs.count == 1 else {
            throw ONNXError.invalidNode(node: "graph", message: "has \(model.outputs.count) outputs; expected exactly one")
        }
        guard let declared = input.shape, !declared.isEmpty else {
            throw ONNXError.inputShape(input: input.name, message: "its shape is not declared; expected [batch, …]")
        }
        if case let .fixed(n) = declared[0] {
            throw ONNXError.inputShape(
                input: input.name,
                message: "its batch dimension is fixed to \(n); expected a dynamic batch (export with dynamic_axes / dynamic_shapes on dimension 0)")
        }
        let shapes = try model.inputShapes(batchSize: ONNXImporter.sentinelBatch)
        guard let shape = shapes[input.name], shape.dropFirst().allSatisfy({ $0 > 0 }) else {
            throw ONNXError.inputShape(input: input.name, message: "expected positive sizes after the batch dimension")
        }
        let integer: Bool
        switch input.elementType {
        case .float32, .float64: integer = false
        case .int64, .int32: integer = true
        default:
            throw ONNXError.unsupportedElementType(tensor: input.name, dataType: "\(input.elementType)")
        }
        let inputActivation = ActivationValue(node: 0, shape: shape, batchAxis: 0, isInteger: integer)
        values[input.name] = .activation(inputActivation)
        self.input = inputActivation

        // BatchNorm statistics are constants; every other floating-point initializer is a parameter.
        var statistics = Set<String>()
        for node in model.nodes where node.opType == "BatchNormalization" {
            for k in [3, 4] where k < node.inputs.count { statistics.insert(node.inputs[k]) }
        }
        for tensor in model.initializers {
            if tensor.elementType.isFloatingPoint && !statistics.contains(tensor.name) {
                let start = elementUsed.count
                initializerRanges.append((tensor.name, start, tensor.count))
                elementUsed.grow(by: tensor.count)
                values[tensor.name] = .parameter(ParameterValue(
                    shape: tensor.dims, storage: tensor.values, ids: .range(start: start, count: tensor.count), source: tensor.name))
            } else {
                constantInitializers.append(tensor.name)
                values[tensor.name] = .constant(KnownValue(type: tensor.elementType, shape: tensor.dims, values: tensor.values))
            }
        }
        // From here on the parameter values live in `values` only.
        for tensor in model.initializers { initializerDims[tensor.name] = tensor.dims }
        model.initializers.removeAll()
        for node in model.nodes { try visit(node) }
        guard case let .activation(out)? = values[model.outputs[0].name] else {
            throw ONNXError.invalidNode(node: "graph", message: "its output \"\(model.outputs[0].name)\" does not depend on the input; expected a function of the input")
        }
        guard out.batchAxis == 0, out.outer == 1 else {
            throw ONNXError.invalidNode(node: "graph", message: "its output has shape \(describe(out)); expected the batch on axis 0")
        }
        guard out.node > 0 else {
            throw ONNXError.invalidNode(node: "graph", message: "its output is its input; expected at least one layer")
        }
        output = out
    }

    // MARK: Nodes

    func fail(_ node: ONNXNode, _ message: String) -> ONNXError { .invalidNode(node: node.label, message: message) }

    func value(_ node: ONNXNode, _ k: Int) throws -> Value? {
        guard k < node.inputs.count, !node.inputs[k].isEmpty else { return nil }
        guard let v = values[node.inputs[k]] else { throw ONNXError.danglingInput(node: node.label, input: node.inputs[k]) }
        return v
    }

    /// What shape inference and folding see of a value; a parameter's values only when
    /// `parameterValues` (data movement of parameters), else its shape alone.
    func known(_ v: Value?, parameterValues: Bool = false) -> KnownValue? {
        switch v {
        case let .constant(c)?: return c
        case let .parameter(p)?:
            return KnownValue(type: .float64, shape: p.shape, values: parameterValues ? .floating(p.values) : nil)
        case let .activation(a)?: return KnownValue(type: a.isInteger ? .int64 : .float64, shape: a.shape)
        case nil: return nil
        }
    }

    func evaluate(_ node: ONNXNode, _ inputs: [KnownValue?]) throws -> [KnownValue] {
        try NodeEvaluation(node: node, inputs: inputs, limit: 1 << 24, opset: model.opsetVersion).evaluate()
    }

    mutating func visit(_ node: ONNXNode) throws {
        guard node.isDefaultDomain else {
            throw fail(node, "is in domain \"\(node.domain)\"; expected the default ONNX domain")
        }
        guard let first = node.outputs.first, !first.isEmpty else {
            throw fail(node, "has no output; expected at least one named output")
        }
        let inputs = try node.inputs.indices.map { try value(node, $0) }
        let hasActivation = inputs.contains { if case .activation? = $0 { return true }; return false }
        let hasParameter = inputs.contains { if case .parameter? = $0 { return true }; return false }

        // Shapes are known for anything: Shape of a parameter or an activation is a constant.
        if node.opType == "Shape" || node.opType == "Size" {
            let result = try evaluate(node, inputs.map { known($0) })
            try bind(node, result.map { Value.constant($0) })
            folded += 1
            return
        }
        let constantCast = node.opType == "CastLike" && !inputs.isEmpty && { if case .constant? = inputs[0] { return true }; return false }()
        if (!hasActivation && !hasParameter) || constantCast {
            let result = try evaluate(node, inputs.map { known($0) })
            guard result.count >= node.outputs.filter({ !$0.isEmpty }).count, result.allSatisfy({ $0.values != nil }) else {
                throw fail(node, "could not be evaluated from its constant inputs; expected an operator of \(ONNXImporter.supportedOperators.joined(separator: ", ")) or shape arithmetic")
            }
            try bind(node, result.map { Value.constant($0) })
            folded += 1
            return
        }
        if !hasActivation {
            try moveParameters(node, inputs)
            return
        }
        try mapActivationNode(node, inputs)
    }

    mutating func bind(_ node: ONNXNode, _ results: [Value]) throws {
        for (k, name) in node.outputs.enumerated() where !name.isEmpty {
            guard k < results.count else { throw fail(node, "produced no value for output \(k) (\"\(name)\")") }
            values[name] = results[k]
        }
    }

    /// Data movement of parameters (Transpose, Reshape, Gather/Slice/Split with constant
    /// indices, Squeeze, Unsqueeze, Identity, Cast): evaluated on the values and on the
    /// element ids alike, so the moved elements keep their identity.
    mutating func moveParameters(_ node: ONNXNode, _ inputs: [Value?]) throws {
        let movement: Set<String> = ["Transpose", "Reshape", "Gather", "Slice", "Split", "Squeeze", "Unsqueeze", "Identity",
                                     "Cast", "CastLike", "Flatten", "Expand", "Concat"]
        guard movement.contains(node.opType) else {
            throw fail(node, "computes with a parameter before it meets an activation; expected parameters used directly by Gemm, Conv, MatMul, Add, BatchNormalization, LayerNormalization or Gather (or moved by Transpose, Reshape, Slice, Gather, Split, Squeeze, Unsqueeze)")
        }
        var sources: [String] = []
        let onValues = try evaluate(node, inputs.map { known($0, parameterValues: true) })
        let onIDs = try evaluate(node, inputs.map { v -> KnownValue? in
            switch v {
            case let .parameter(p)?:
                sources.append(p.source)
                return KnownValue(type: .int64, shape: p.shape, values: .integer(p.ids.materialized))
            case let .constant(c)? where c.type?.isFloatingPoint == true:
                // A constant mixed with parameters (Concat): ids −1, refused when a layer takes it.
                return KnownValue(type: .int64, shape: c.shape, values: .integer(Array(repeating: -1, count: c.values?.count ?? 0)))
            default: return known(v)
            }
        })
        var results: [Value] = []
        for (v, ids) in zip(onValues, onIDs) {
            guard let shape = v.shape, case let .floating(doubles)? = v.values, case let .integer(idValues)? = ids.values else {
                throw fail(node, "could not be evaluated on its parameter inputs")
            }
            results.append(.parameter(ParameterValue(shape: shape, values: doubles, ids: .explicit(idValues), source: sources.joined(separator: "+"))))
        }
        try bind(node, results)
        folded += 1
    }

    // MARK: Activations

    func describe(_ a: ActivationValue) -> String {
        var parts = a.shape.map(String.init)
        let m = a.factor / a.outer
        parts[a.batchAxis] = (a.outer > 1 ? "\(a.outer)·" : "") + "batch" + (m > 1 ? "·\(m)" : "")
        return "[" + parts.joined(separator: ", ") + "]"
    }

    /// The activation produced by ONNX shape `shape`: its batch axis is the one the sentinel divides.
    func activation(_ node: ONNXNode, node id: Int, shape: [Int], outer: Int = 1, isInteger: Bool = false) throws -> ActivationValue {
        guard !shape.isEmpty, shape.allSatisfy({ $0 > 0 }), SizeLimit.product(shape) != nil else {
            throw fail(node, "gives shape \(shape); expected positive sizes whose product fits the integer range")
        }
        let axes = shape.indices.filter { shape[$0] % ONNXImporter.sentinelBatch == 0 && shape[$0] > 0 }
        guard axes.count == 1, let axis = axes.first else {
            throw fail(node, "gives shape \(shape) (with the batch evaluated as \(ONNXImporter.sentinelBatch)); expected exactly one axis carrying the batch")
        }
        guard outer >= 1, (shape[axis] / ONNXImporter.sentinelBatch) % outer == 0 else {
            throw fail(node, "gives shape \(shape), which mixes examples; expected each example's data to stay together")
        }
        return ActivationValue(node: id, shape: shape, batchAxis: axis, outer: outer, isInteger: isInteger)
    }

    /// The activation of ONNX shape `shape` holding the same P as `x` (a reshape).
    func reshaped(_ node: ONNXNode, _ x: ActivationValue, node id: Int, shape: [Int]) throws -> ActivationValue {
        let y = try activation(node, node: id, shape: shape)
        let before = shape[..<y.batchAxis].reduce(1, *)
        guard x.pre % before == 0 else {
            throw fail(node, "reshapes \(describe(x)) to \(shape), which mixes examples; expected each example's data to stay together")
        }
        return try activation(node, node: id, shape: shape, outer: x.pre / before)
    }

    /// The ONNX output shape of an activation node (shape inference with the sentinel batch).
    func outputShape(_ node: ONNXNode, _ inputs: [Value?], output k: Int = 0) throws -> [Int] {
        let result = try evaluate(node, inputs.map { known($0) })
        guard k < result.count, let shape = result[k].shape else {
            throw fail(node, "has an output shape that could not be inferred; expected static shapes apart from the batch")
        }
        return shape
    }

    /// Appends `layer` reading `sources`; returns its output activation of ONNX shape `shape`,
    /// after checking that the layer's output is that shape per example.
    mutating func append(
        _ node: ONNXNode, sources: [ActivationValue], parameters: [ParameterValue] = [], shape: [Int], outer: Int? = nil,
        layer: any Layer<Double>
    ) throws -> ActivationValue {
        let result = try activation(node, node: layers.count + 1, shape: shape, outer: outer ?? sources[0].outer)
        guard layer.outputShape == result.example else {
            throw fail(node, "gives \(describe(result)), but its layer computes \(layer.outputShape) per example; expected them to agree")
        }
        guard layer.parameterCount == parameters.reduce(0, { $0 + $1.count }) else {
            throw fail(node, "has \(parameters.reduce(0) { $0 + $1.count }) parameter elements for a layer with \(layer.parameterCount)")
        }
        for p in parameters {
            func claim(_ id: Int) throws {
                guard id >= 0 else { throw fail(node, "uses a parameter mixed with constants (\(p.source)); expected a plain parameter") }
                guard !elementUsed.contains(id) else {
                    throw fail(node, "uses parameter \(p.source) which another node already uses (weight sharing); expected every parameter used once")
                }
                elementUsed.insert(id)
            }
            switch p.ids {
            case let .range(start, count): for id in start..<(start + count) { try claim(id) }
            case let .explicit(ids): for id in ids { try claim(Int(id)) }
            }
        }
        layers.append((layer, sources.map(\.node), "\(node.opType) \(node.name)"))
        layerParameters.append(parameters)
        return result
    }

    /// A layer on one activation; `make` receives the per-example input shape.
    mutating func unary(
        _ node: ONNXNode, _ x: ActivationValue, parameters: [ParameterValue] = [], shape: [Int]? = nil,
        _ make: ([Int]) throws -> any Layer<Double>
    ) throws {
        let out = try shape ?? outputShape(node, [.activation(x)] + node.inputs.dropFirst().map { values[$0] })
        let result = try append(node, sources: [x], parameters: parameters, shape: out, layer: try make(x.example))
        try bind(node, [.activation(result)])
    }

    func parameter(_ v: Value?, _ node: ONNXNode, _ what: String) throws -> ParameterValue {
        guard case let .parameter(p)? = v else { throw fail(node, "\(what) is not a parameter (an initializer); expected one") }
        return p
    }

    func constantInts(_ v: Value?, _ node: ONNXNode, _ what: String) throws -> [Int] {
        guard case let .constant(c)? = v, case let .integer(ints)? = c.values else {
            throw fail(node, "\(what) is not a constant integer tensor; expected one")
        }
        return ints.map { Int($0) }
    }

    /// Per-example axis for ONNX axis `axis` of `x`, refusing the batch axis.
    func exampleAxis(_ node: ONNXNode, _ x: ActivationValue, _ axis: Int, _ what: String = "axis") throws -> Int {
        let rank = x.shape.count
        let a = axis < 0 ? axis + rank : axis
        guard (0..<rank).contains(a) else { throw fail(node, "\(what) \(axis) is out of range for rank \(rank)") }
        guard a != x.batchAxis else {
            throw fail(node, "\(what) \(axis) is the batch axis of \(describe(x)); expected an axis within one example")
        }
        return x.exampleAxis(a)
    }

    mutating func mapActivationNode(_ node: ONNXNode, _ inputs: [Value?]) throws {
        guard case let .activation(x)? = inputs.first(where: { if case .activation? = $0 { return true }; return false }) else { return }
        let op = node.opType
        switch op {
        case "Identity", "Cast", "CastLike", "Dropout":
            if op == "Cast" || op == "CastLike" {
                let to = try node.intAttribute("to", default: 1)
                if op == "Cast", to != 1, to != 11 {
                    throw fail(node, "casts an activation to \(ONNXElementType(dataType: to).map { "\($0)" } ?? "type \(to)"); expected float or double")
                }
            }
            if op == "Dropout", case let .constant(mode)? = try value(node, 2), case let .integer(flag)? = mode.values, flag.first != 0 {
                throw fail(node, "runs in training mode; expected evaluation mode (model.eval())")
            }
            guard case .activation = inputs[0] else { throw fail(node, "expected its first input to be an activation") }
            values[node.outputs[0]] = inputs[0]
            elided += 1
        case "Relu", "Tanh", "Sigmoid", "Erf", "Softplus", "Gelu":
            let function: ActivationFunction
            switch op {
            case "Relu": function = .relu
            case "Tanh": function = .tanh
            case "Sigmoid": function = .sigmoid
            case "Erf": function = .erf
            case "Softplus": function = .softplus
            default:
                guard try node.stringAttribute("approximate", default: "none") == "none" else {
                    throw ONNXError.invalidAttribute(node: node.label, attribute: "approximate", message: "only \"none\" (the exact, erf-based GELU) is supported")
                }
                function = .gelu
            }
            try unary(node, x, shape: x.shape) { NTKNetworks.Activation<Double>(function, shape: $0) }
        case "Softmax":
            let axis = try exampleAxis(node, x, try node.intAttribute("axis", default: -1))
            try unary(node, x, shape: x.shape) { (try Softmax(inputShape: $0, axis: axis)) }
        case "Add", "Sub", "Mul", "Div":
            try elementwise(node, inputs)
        case "MatMul":
            try matMul(node, inputs)
        case "Gemm":
            try gemm(node, inputs)
        case "Conv":
            try convolution(node, inputs, x)
        case "BatchNormalization":
            try batchNorm(node, inputs, x)
        case "LayerNormalization":
            try layerNorm(node, inputs, x)
        case "MaxPool", "AveragePool":
            try pooling(node, x)
        case "GlobalAveragePool":
            let out = try outputShape(node, inputs)
            guard x.batchAxis == 0, x.factor == 1, x.shape.count == 4 else { throw fail(node, "input \(describe(x)); expected [batch, C, H, W]") }
            try unary(node, x, shape: out) { (try AvgPool2d(inputShape: $0, kernelSize: ($0[1], $0[2]))) }
        case "ReduceMean":
            let axes: [Int]
            if let attribute = try node.intsAttribute("axes") {
                axes = attribute
            } else if let v = try value(node, 1) {
                axes = try constantInts(v, node, "input 1 (axes)")
            } else {
                axes = Array(x.shape.indices)
            }
            let keep = try node.intAttribute("keepdims", default: 1) != 0
            let exampleAxes = try axes.map { try exampleAxis(node, x, $0, "reduction axis") }
            try unary(node, x) { (try Mean(inputShape: $0, axes: exampleAxes, keepDimensions: keep)) }
        case "Transpose":
            let rank = x.shape.count
            let perm = try node.intsAttribute("perm") ?? Array((0..<rank).reversed())
            guard perm.sorted() == Array(0..<rank) else { throw ONNXError.invalidAttribute(node: node.label, attribute: "perm", message: "\(perm) is not a permutation of 0..<\(rank)") }
            // Per example: the batch axis leaves the permutation when it has no per-example factor.
            let example = x.factor == 1 ? perm.filter { $0 != x.batchAxis }.map { $0 > x.batchAxis ? $0 - 1 : $0 } : perm
            if example == Array(0..<example.count) {
                // Only the batch axis moved: the examples' data is unchanged.
                let y = try activation(node, node: x.node, shape: try outputShape(node, inputs), outer: x.outer)
                values[node.outputs[0]] = .activation(y)
                elided += 1
                return
            }
            try unary(node, x) { try Permute(inputShape: $0, permutation: example) }
        case "Reshape", "Flatten", "Squeeze", "Unsqueeze":
            try reshape(node, inputs, x)
        case "Gather":
            try gather(node, inputs)
        case "Slice", "Split":
            try select(node, inputs, x)
        case "Concat":
            let axis = try node.intAttribute("axis", default: 0)
            var sources: [ActivationValue] = []
            for v in inputs {
                guard case let .activation(a)? = v else { throw fail(node, "concatenates an activation with a constant or parameter; expected activations only") }
                guard a.batchAxis == x.batchAxis, a.shape.count == x.shape.count else {
                    throw fail(node, "concatenates \(describe(a)) with \(describe(x)); expected the batch on the same axis")
                }
                sources.append(a)
            }
            let exampleAxis = try self.exampleAxis(node, x, axis)
            let shapes = sources.map(\.example)
            let out = try outputShape(node, inputs)
            let result = try append(node, sources: sources, shape: out, layer: try Concat<Double>(axis: exampleAxis, shapes: shapes))
            try bind(node, [.activation(result)])
        default:
            throw fail(node, "is not supported on activations; expected one of \(ONNXImporter.supportedOperators.joined(separator: ", "))")
        }
    }

    mutating func elementwise(_ node: ONNXNode, _ inputs: [Value?]) throws {
        guard inputs.count == 2, let a = inputs[0], let b = inputs[1] else { throw fail(node, "expected two inputs") }
        let out = try outputShape(node, inputs)
        switch (a, b) {
        case let (.activation(x), .activation(y)):
            guard x.shape.count == y.shape.count ? x.batchAxis == y.batchAxis
                    : x.shape.count - x.batchAxis == y.shape.count - y.batchAxis else {
                throw fail(node, "combines \(describe(x)) with \(describe(y)); expected the batch on the same axis")
            }
            let operation = ElementwiseMerge<Double>.Operation(rawValue: node.opType.lowercased())!
            let (sx, sy) = (x.example, y.example)
            let result = try append(node, sources: [x, y], shape: out, layer: try ElementwiseMerge<Double>(operation, shapes: sx, sy))
            try bind(node, [.activation(result)])
        case let (.activation(x), .constant(c)), let (.constant(c), .activation(x)):
            let first = isActivation(a)
            var constant = try exampleConstant(node, c.shape ?? [], c.values, for: x)
            var scale = ConstantTensor(scalar: 1), shift = ConstantTensor(scalar: 0)
            switch (node.opType, first) {
            case ("Add", _): shift = constant
            case ("Sub", true): constant.values = constant.values.map { -$0 }; shift = constant
            case ("Sub", false): scale = ConstantTensor(scalar: -1); shift = constant
            case ("Mul", _): scale = constant
            case ("Div", true):
                guard constant.values.allSatisfy({ $0 != 0 }) else { throw fail(node, "divides by a constant with a zero element") }
                constant.values = constant.values.map { 1 / $0 }
                scale = constant
            default:
                throw fail(node, "divides a constant by an activation; expected activation / constant")
            }
            let (s, t) = (scale, shift)
            try unary(node, x, shape: out) { (try ConstantAffine(inputShape: $0, scale: s, shift: t)) }
        case let (.activation(x), .parameter(p)), let (.parameter(p), .activation(x)):
            guard node.opType == "Add" || (node.opType == "Sub" && isActivation(a)) else {
                throw fail(node, "\(node.opType == "Sub" ? "subtracts an activation from" : "multiplies or divides by") a parameter (\(p.source)); expected a parameter added to an activation")
            }
            var q = p
            if node.opType == "Sub" { q.values = q.values.map { -$0 } }
            let table = try exampleConstant(node, q.shape, .floating(q.values), for: x)
            let shape = table.shape
            guard out == x.shape else { throw fail(node, "broadcasts the activation \(describe(x)) to \(out); expected the parameter to broadcast onto the activation") }
            q.shape = shape
            try unary(node, x, parameters: [q], shape: out) { (try ParameterAdd(inputShape: $0, parameterShape: shape, tensorName: "weight")) }
        default:
            throw fail(node, "expected an activation and a constant, parameter or activation")
        }
    }

    func isActivation(_ v: Value) -> Bool {
        if case .activation = v { return true }
        return false
    }

    /// A constant (or parameter table) of ONNX shape `shape` aligned to activation `x`: padded
    /// to its rank, size 1 on the batch axis (else refused), as a per-example tensor.
    func exampleConstant(_ node: ONNXNode, _ shape: [Int], _ values: ONNXTensor.Values?, for x: ActivationValue) throws -> ConstantTensor {
        guard let values, shape.count <= x.shape.count else {
            throw fail(node, "has a constant of shape \(shape) for an activation \(describe(x)); expected one that broadcasts onto it")
        }
        var padded = Array(repeating: 1, count: x.shape.count - shape.count) + shape
        guard padded[x.batchAxis] == 1 else {
            throw fail(node, "has a constant of shape \(shape) varying along the batch axis of \(describe(x)); expected size 1 there")
        }
        if x.factor == 1 { padded.remove(at: x.batchAxis) }
        let doubles: [Double]
        switch values {
        case let .floating(v): doubles = v
        case let .integer(v): doubles = v.map(Double.init)
        case let .float32(v): doubles = v.map(Double.init)
        }
        return try ConstantTensor(shape: padded, values: doubles)
    }

    mutating func matMul(_ node: ONNXNode, _ inputs: [Value?]) throws {
        guard inputs.count == 2, let a = inputs[0], let b = inputs[1] else { throw fail(node, "expected two inputs") }
        let out = try outputShape(node, inputs)
        switch (a, b) {
        case let (.activation(x), .activation(y)):
            let r = x.shape.count
            guard y.shape.count == r, x.batchAxis == y.batchAxis, x.batchAxis < r - 2 else {
                throw fail(node, "multiplies \(describe(x)) by \(describe(y)); expected equal ranks with the batch on the same leading axis")
            }
            let (sx, sy) = (x.example, y.example)
            let result = try append(node, sources: [x, y], shape: out, layer: try MatMulMerge<Double>(shapes: sx, sy))
            try bind(node, [.activation(result)])
        case let (.activation(x), .parameter(w)):
            guard w.shape.count == 2, let last = x.shape.last, last == w.shape[0], x.batchAxis < x.shape.count - 1 else {
                throw fail(node, "multiplies \(describe(x)) by parameter \(w.source) of shape \(w.shape); expected a [in, out] matrix on the last axis")
            }
            let (inF, outF) = (w.shape[0], w.shape[1])
            let weight = transpose(w)
            try unary(node, x, parameters: [weight], shape: out) {
                (try Linear(inFeatures: inF, outFeatures: outF, bias: false, leadingShape: Array($0.dropLast())))
            }
        default:
            throw fail(node, "expected an activation times an activation or a parameter matrix")
        }
    }

    /// A 2-D parameter transposed ([in, out] → [out, in]), ids moved with the values.
    func transpose(_ w: ParameterValue) -> ParameterValue {
        let (r, c) = (w.shape[0], w.shape[1])
        var values = w.values, ids = [Int64](repeating: 0, count: r * c)
        for i in 0..<r {
            for j in 0..<c {
                values[j * r + i] = w.values[i * c + j]
                ids[j * r + i] = w.ids[i * c + j]
            }
        }
        return ParameterValue(shape: [c, r], values: values, ids: .explicit(ids), source: w.source)
    }

    mutating func gemm(_ node: ONNXNode, _ inputs: [Value?]) throws {
        guard case let .activation(x)? = inputs[0], x.batchAxis == 0, x.shape.count == 2 else {
            throw fail(node, "expected its first input A to be an activation [batch, in]")
        }
        guard try node.intAttribute("transA", default: 0) == 0, try node.floatAttribute("alpha", default: 1) == 1, try node.floatAttribute("beta", default: 1) == 1 else {
            throw fail(node, "has transA, alpha or beta set; expected transA = 0, alpha = beta = 1 (as torch.nn.Linear exports)")
        }
        var w = try parameter(inputs.count > 1 ? inputs[1] : nil, node, "input B (the weight)")
        guard w.shape.count == 2 else { throw fail(node, "weight of shape \(w.shape); expected 2-D") }
        if try node.intAttribute("transB", default: 0) == 0 { w = transpose(w) }
        let (outF, inF) = (w.shape[0], w.shape[1])
        guard inF == x.shape[1] else { throw fail(node, "weight \(w.shape) for input \(describe(x)); expected [out, \(x.shape[1])]") }
        var parameters = [w]
        switch inputs.count > 2 ? inputs[2] : nil {
        case let .parameter(b)?:
            guard b.count == outF else { throw fail(node, "bias of shape \(b.shape); expected [\(outF)]") }
            var bias = b
            bias.shape = [outF]
            parameters.append(bias)
        case let .constant(c)?:
            guard case let .floating(v)? = c.values, v.allSatisfy({ $0 == 0 }) else {
                throw fail(node, "has a constant nonzero bias C; expected a parameter bias or none")
            }
        case nil: break
        default: throw fail(node, "input C (the bias) is an activation; expected a parameter or constant")
        }
        let hasBias = parameters.count == 2
        // A batch merged with tokens ([L·B, D], as attention's output projection) is token-wise.
        try unary(node, x, parameters: parameters, shape: [x.shape[0], outF]) {
            try Linear<Double>(inFeatures: inF, outFeatures: outF, bias: hasBias, leadingShape: Array($0.dropLast()))
        }
    }

    /// Symmetric 2-D padding from ONNX `pads` [top, left, bottom, right].
    func padding(_ node: ONNXNode) throws -> (Int, Int) {
        let autoPad = try node.stringAttribute("auto_pad", default: "NOTSET")
        if autoPad != "NOTSET" {
            throw ONNXError.invalidAttribute(node: node.label, attribute: "auto_pad", message: "\(autoPad); only NOTSET with explicit pads is supported")
        }
        let pads = try node.intsAttribute("pads") ?? [0, 0, 0, 0]
        guard pads.count == 4, pads[0] == pads[2], pads[1] == pads[3] else {
            throw ONNXError.invalidAttribute(node: node.label, attribute: "pads", message: "\(pads); expected symmetric padding [t, l, t, l]")
        }
        return (pads[0], pads[1])
    }

    func pair(_ node: ONNXNode, _ name: String, default value: Int) throws -> (Int, Int) {
        let v = try node.intsAttribute(name) ?? [value, value]
        guard v.count == 2 else { throw ONNXError.invalidAttribute(node: node.label, attribute: name, message: "\(v); expected two values (2-D)") }
        return (v[0], v[1])
    }

    mutating func convolution(_ node: ONNXNode, _ inputs: [Value?], _ x: ActivationValue) throws {
        guard x.batchAxis == 0, x.factor == 1, x.shape.count == 4 else { throw fail(node, "input \(describe(x)); expected [batch, C, H, W]") }
        let w = try parameter(inputs.count > 1 ? inputs[1] : nil, node, "input W (the weight)")
        guard w.shape.count == 4, w.shape[1] == x.shape[1] else { throw fail(node, "weight of shape \(w.shape); expected [out, \(x.shape[1]), kh, kw]") }
        guard try node.intAttribute("group", default: 1) == 1 else { throw ONNXError.invalidAttribute(node: node.label, attribute: "group", message: "only group 1 is supported") }
        guard try pair(node, "dilations", default: 1) == (1, 1) else { throw ONNXError.invalidAttribute(node: node.label, attribute: "dilations", message: "only dilation 1 is supported") }
        let stride = try pair(node, "strides", default: 1), pad = try padding(node)
        var parameters = [w]
        switch inputs.count > 2 ? inputs[2] : nil {
        case let .parameter(b)?: parameters.append(b)
        case let .constant(c)?:
            // The dynamo exporter writes a bias-free convolution with a constant zero bias.
            guard case let .floating(v)? = c.values, v.allSatisfy({ $0 == 0 }) else {
                throw fail(node, "has a constant nonzero bias; expected a parameter bias or none")
            }
        case nil: break
        default: throw fail(node, "input B (the bias) is an activation; expected a parameter")
        }
        let hasBias = parameters.count == 2
        let (outC, inC, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3])
        try unary(node, x, parameters: parameters) {
            (try Conv2d(inChannels: inC, outChannels: outC, kernelSize: (kh, kw), stride: stride, padding: pad, bias: hasBias,
                                   inputHeight: $0[1], inputWidth: $0[2]))
        }
    }

    mutating func batchNorm(_ node: ONNXNode, _ inputs: [Value?], _ x: ActivationValue) throws {
        guard x.batchAxis == 0, x.factor == 1, (2...4).contains(x.shape.count) else { throw fail(node, "input \(describe(x)); expected [batch, C, …]") }
        guard try node.intAttribute("training_mode", default: 0) == 0, node.outputs.filter({ !$0.isEmpty }).count == 1 else {
            throw fail(node, "runs in training mode; expected an export in evaluation mode (model.eval())")
        }
        let scale = try parameter(inputs.count > 1 ? inputs[1] : nil, node, "input scale")
        let bias = try parameter(inputs.count > 2 ? inputs[2] : nil, node, "input B")
        func statistic(_ k: Int, _ what: String) throws -> [Double] {
            guard k < inputs.count, case let .constant(c)? = inputs[k], case let .floating(v)? = c.values else {
                throw fail(node, "input \(what) is not a constant; expected the running statistics as initializers")
            }
            return v
        }
        let mean = try statistic(3, "mean"), variance = try statistic(4, "var")
        let epsilon = try node.floatAttribute("epsilon", default: 1e-5)
        try unary(node, x, parameters: [scale, bias], shape: x.shape) {
            (try BatchNorm(inputShape: $0, epsilon: epsilon, affine: true, runningMean: mean, runningVariance: variance))
        }
    }

    mutating func layerNorm(_ node: ONNXNode, _ inputs: [Value?], _ x: ActivationValue) throws {
        let rank = x.shape.count
        var axis = try node.intAttribute("axis", default: -1)
        if axis < 0 { axis += rank }
        guard (0..<rank).contains(axis), x.batchAxis < axis else {
            throw fail(node, "normalizes from axis \(axis) of \(describe(x)); expected axes after the batch")
        }
        let scale = try parameter(inputs.count > 1 ? inputs[1] : nil, node, "input Scale")
        let bias = try parameter(inputs.count > 2 ? inputs[2] : nil, node, "input B (LayerNorm without bias is not supported)")
        let normalized = Array(x.shape[axis...])
        guard scale.count == normalized.reduce(1, *), bias.count == scale.count else {
            throw fail(node, "scale/bias of shapes \(scale.shape)/\(bias.shape); expected \(normalized)")
        }
        let epsilon = try node.floatAttribute("epsilon", default: 1e-5)
        var s = scale, b = bias
        s.shape = normalized
        b.shape = normalized
        try unary(node, x, parameters: [s, b], shape: x.shape) {
            (try LayerNorm(inputShape: $0, normalizedShape: normalized, epsilon: epsilon, elementwiseAffine: true))
        }
    }

    mutating func pooling(_ node: ONNXNode, _ x: ActivationValue) throws {
        guard x.batchAxis == 0, x.factor == 1, x.shape.count == 4 else { throw fail(node, "input \(describe(x)); expected [batch, C, H, W]") }
        guard try node.intAttribute("ceil_mode", default: 0) == 0 else { throw ONNXError.invalidAttribute(node: node.label, attribute: "ceil_mode", message: "only 0 is supported") }
        guard try pair(node, "dilations", default: 1) == (1, 1) else { throw ONNXError.invalidAttribute(node: node.label, attribute: "dilations", message: "only dilation 1 is supported") }
        guard node.outputs.filter({ !$0.isEmpty }).count == 1 else { throw fail(node, "returns indices; expected the pooled values only") }
        let kernel = try pair(node, "kernel_shape", default: 1), stride = try pair(node, "strides", default: 1)
        let pad = try padding(node)
        let out = try outputShape(node, [.activation(x)])
        if node.opType == "MaxPool" {
            try unary(node, x, shape: out) { (try MaxPool2d(inputShape: $0, kernelSize: kernel, stride: stride, padding: pad)) }
        } else {
            guard pad == (0, 0) else { throw ONNXError.invalidAttribute(node: node.label, attribute: "pads", message: "\(pad); only 0 is supported for AveragePool") }
            try unary(node, x, shape: out) { (try AvgPool2d(inputShape: $0, kernelSize: kernel, stride: stride)) }
        }
    }

    /// Reshape, Flatten, Squeeze, Unsqueeze: the data of one example does not move as long as
    /// the elements before the batch keep their count; the batch axis is found again in the
    /// new shape. A reshape that mixes examples is refused.
    mutating func reshape(_ node: ONNXNode, _ inputs: [Value?], _ x: ActivationValue) throws {
        guard case .activation = inputs[0] else { throw fail(node, "reshapes a constant by an activation shape") }
        let out = try outputShape(node, inputs)
        let y = try reshaped(node, x, node: x.node, shape: out)
        if y.example == x.example {
            values[node.outputs[0]] = .activation(y)
            elided += 1
            return
        }
        let result = try append(node, sources: [x], shape: out, outer: y.outer,
                                layer: try Reshape<Double>(inputShape: x.example, shape: y.example))
        try bind(node, [.activation(result)])
    }

    /// Gather: of a parameter table by token ids (an embedding), or of an activation by
    /// constant indices (an `IndexSelect`).
    mutating func gather(_ node: ONNXNode, _ inputs: [Value?]) throws {
        let axis = try node.intAttribute("axis", default: 0)
        switch (inputs[0], inputs.count > 1 ? inputs[1] : nil) {
        case let (.parameter(table)?, .activation(ids)?):
            guard axis == 0, table.shape.count == 2, ids.isInteger, ids.batchAxis == 0, ids.outer == 1 else {
                throw fail(node, "gathers parameter \(table.source) \(table.shape) by \(describe(ids)); expected an embedding: a [num, dim] table, axis 0, integer ids with the batch first")
            }
            let out = try outputShape(node, inputs)
            let (num, dim) = (table.shape[0], table.shape[1])
            let result = try append(node, sources: [ids], parameters: [table], shape: out,
                                    layer: try Embedding<Double>(numEmbeddings: num, embeddingDimension: dim, inputShape: ids.example))
            try bind(node, [.activation(result)])
        case let (.activation(x)?, .constant?):
            try select(node, inputs, x)
        default:
            throw fail(node, "expected a parameter table gathered by token ids, or an activation gathered by constant indices")
        }
    }

    /// Slice, Split and Gather with constant indices on an activation: the same node evaluated
    /// on a tensor holding each element's index within its example gives the map.
    mutating func select(_ node: ONNXNode, _ inputs: [Value?], _ x: ActivationValue) throws {
        // Index tensor over the ONNX shape with the batch axis of size 1 × m: per-example positions.
        var probe = x.shape
        probe[x.batchAxis] /= ONNXImporter.sentinelBatch
        let count = probe.reduce(1, *)
        let indexValue = KnownValue(type: .int64, shape: probe, values: .integer((0..<count).map(Int64.init)))
        let evaluated = try evaluate(node, [indexValue] + inputs.dropFirst().map { known($0) })
        let shapes = try evaluate(node, inputs.map { known($0) })
        var results: [Value] = []
        for (k, name) in node.outputs.enumerated() where !name.isEmpty {
            guard k < evaluated.count, case let .integer(map)? = evaluated[k].values, k < shapes.count, let out = shapes[k].shape else {
                throw fail(node, "could not be evaluated with constant indices; expected constant starts/ends/axes/indices")
            }
            let y = try activation(node, node: 0, shape: out, outer: x.outer)
            let indices = map.map { Int($0) }
            guard y.factor == x.factor, indices.count == y.example.reduce(1, *) else {
                throw fail(node, "selects along the batch axis of \(describe(x)); expected an axis within one example")
            }
            let result = try append(node, sources: [x], shape: out,
                                    layer: try IndexSelect<Double>(inputShape: x.example, outputShape: y.example, indices: indices))
            results.append(.activation(result))
        }
        try bind(node, results)
    }

    // MARK: Network

    /// The network; releases each parameter value as it is copied into θ.
    mutating func finish<Scalar: BLASScalar>(_: Scalar.Type) throws -> ONNXImport<Scalar> {
        guard let output, let input else {
            throw ONNXError.invalidNode(node: "graph", message: "was not imported")
        }
        // Only the layers the output depends on.
        var needed = [Bool](repeating: false, count: layers.count + 1)
        needed[output.node] = true
        for k in stride(from: layers.count - 1, through: 0, by: -1) where needed[k + 1] {
            for j in layers[k].inputs { needed[j] = true }
        }
        var renumber = [0: 0]
        var built: [any Layer<Scalar>] = [], wiring: [[Int]] = [], sources: [String] = [], kept: [[ParameterValue]] = []
        for k in layers.indices where needed[k + 1] {
            let layer: any Layer<Scalar> = try layers[k].layer.converted(to: Scalar.self)
            wiring.append(layers[k].inputs.map { renumber[$0]! })
            built.append(layer)
            sources.append(layers[k].source)
            kept.append(layerParameters[k])
            renumber[k + 1] = built.count
        }
        layerParameters = []
        values = [:]
        let body = try Sequential<Scalar>(inputShape: input.example, layers: built, inputs: wiring)
        // θ is written once, layer by layer, and each parameter value is released as it is
        // copied: θ's pages are touched only as the initializers' are freed.
        var origins: [(theta: Int, ids: ParameterIDs)] = []
        var failure: ONNXError?
        let theta = [Scalar](unsafeUninitializedCapacity: body.parameterCount) { t, initialized in
            var written = 0
            fill: for (k, layer) in built.enumerated() {
                let tensors = layer.parameterTensors
                guard tensors.count == kept[k].count else {
                    failure = .invalidNode(node: sources[k], message: "has \(kept[k].count) parameter tensors for a layer with \(tensors.count)")
                    break fill
                }
                for (i, tensor) in tensors.enumerated() {
                    let p = kept[k][i]
                    guard tensor.count == p.count else {
                        failure = .invalidNode(node: sources[k], message: "parameter \(p.source) has \(p.count) elements; the layer's \(tensor.name) needs \(tensor.shape)")
                        break fill
                    }
                    let base = body.parameterOffsets[k] + tensor.offset
                    switch p.storage {
                    case let .float32(v): for j in v.indices { (t.baseAddress! + base + j).initialize(to: Scalar(v[j])) }
                    case let .floating(v): for j in v.indices { (t.baseAddress! + base + j).initialize(to: Scalar(v[j])) }
                    case let .integer(v): for j in v.indices { (t.baseAddress! + base + j).initialize(to: Scalar(Double(v[j]))) }
                    }
                    written += p.count
                    origins.append((base, p.ids))
                    kept[k][i].storage = .floating([])
                }
            }
            // Every coordinate belongs to exactly one tensor; anything else is refused.
            if failure == nil && written != body.parameterCount {
                failure = .invalidNode(node: "graph", message: "its layers' tensors cover \(written) of \(body.parameterCount) parameters")
            }
            if failure != nil {
                for j in 0..<body.parameterCount { (t.baseAddress! + j).initialize(to: 0) }
            }
            initialized = body.parameterCount
        }
        if let failure { throw failure }
        let network = try Network(body: body, parameters: theta)
        var used: [(String, Int)] = []
        for range in initializerRanges {
            let n = (range.start..<(range.start + range.count)).reduce(0) { $0 + (elementUsed.contains($1) ? 1 : 0) }
            if n > 0 { used.append((range.name, n)) }
        }
        return ONNXImport(
            network: network, parameterInitializers: used, constantInitializers: constantInitializers, layerSources: sources,
            foldedNodes: folded, elidedNodes: elided, opset: model.opsetVersion,
            producer: "\(model.producerName) \(model.producerVersion)".trimmingCharacters(in: .whitespaces),
            integerInput: input.isInteger, origins: origins, starts: initializerRanges.map(\.start),
            initializers: initializerRanges.map { range in (range.name, initializerDims[range.name] ?? [range.count]) })
    }
}


/// A fixed-size set of small integers, one bit each.
struct BitSet {
    private var words: [UInt64] = []
    private(set) var count = 0

    mutating func grow(by n: Int) {
        count += n
        words.append(contentsOf: repeatElement(0, count: (count + 63) / 64 - words.count))
    }

    func contains(_ i: Int) -> Bool { words[i >> 6] & (1 << UInt64(i & 63)) != 0 }
    mutating func insert(_ i: Int) { words[i >> 6] |= 1 << UInt64(i & 63) }
}

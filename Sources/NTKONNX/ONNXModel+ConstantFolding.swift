import Foundation
import NTKLinearAlgebra

/// The result of ``ONNXModel/foldConstants(inputShapes:maximumFoldedElements:)``: the values
/// the graph computes from constants alone, the static shape of every tensor whose shape
/// follows from the input shapes, and the nodes left to evaluate at run time.
public struct ONNXFoldedGraph: Sendable {
    /// The values of the outputs of folded nodes (every node whose inputs were all known
    /// constants: initializers, `Constant` nodes, `Shape` of a tensor of known shape, and
    /// what these compute). Initializers are not repeated here; ``constant(named:)`` looks in both.
    public var constants: [String: ONNXTensor]
    /// The static shape of every tensor whose shape is known (graph inputs, initializers,
    /// folded values and the outputs of remaining nodes the shape rules cover).
    public var shapes: [String: [Int]]
    /// The element type of every tensor whose type is known.
    public var elementTypes: [String: ONNXElementType]
    /// The nodes not folded, in topological order: the computation proper.
    public var remainingNodes: [ONNXNode]
    /// How many nodes were folded away.
    public var foldedNodeCount: Int
    /// The initializers of the model, for ``constant(named:)``.
    var initializers: [String: ONNXTensor]

    /// The value of `name` if it is an initializer or was folded.
    public func constant(named name: String) -> ONNXTensor? { constants[name] ?? initializers[name] }
}

extension ONNXModel {
    /// Concrete shapes for the graph inputs: fixed dimensions as declared, the first
    /// dimension (when not fixed) set to `batchSize`, other symbolic dimensions from
    /// `dimensions` (by their `dim_param` name, e.g. `["sequence_length": 16]`).
    /// - Throws: `ONNXError.inputShape` naming an input whose rank is unknown or a dimension
    ///   that is neither fixed, the batch dimension nor in `dimensions`.
    public func inputShapes(batchSize: Int, dimensions: [String: Int] = [:]) throws(ONNXError) -> [String: [Int]] {
        var shapes: [String: [Int]] = [:]
        for input in inputs {
            guard let declared = input.shape else {
                throw .inputShape(input: input.name, message: "its rank is unknown; expected a declared shape (give the shape to foldConstants directly)")
            }
            shapes[input.name] = try declared.enumerated().map { (k, dim) throws(ONNXError) -> Int in
                switch dim {
                case let .fixed(n): return n
                case let .symbolic(s):
                    if let n = dimensions[s] { return n }
                    if k == 0 { return batchSize }
                    throw .inputShape(input: input.name, message: "dimension \(k) is \"\(s)\"; expected its value in dimensions")
                case .unknown:
                    if k == 0 { return batchSize }
                    throw .inputShape(input: input.name, message: "dimension \(k) is unknown; expected a fixed or named dimension")
                }
            }
        }
        return shapes
    }

    /// Propagates static shapes from concrete input shapes through the graph and folds every
    /// node whose inputs are all known constants.
    ///
    /// Shape rules: elementwise unary ops (Relu, Erf, Softmax, Cast, …), broadcasting binary
    /// ops, Where, MatMul, Gemm, Conv, MaxPool/AveragePool, Global*Pool, BatchNormalization,
    /// LayerNormalization, Flatten, Transpose, Reshape, Squeeze, Unsqueeze, Concat, Split,
    /// Slice, Gather, Expand, Tile, Reduce*, Shape, Size, ConstantOfShape, Range. Folding (all
    /// inputs constant): Constant, Identity, Shape, Size, Cast, CastLike, Gather, Slice,
    /// Concat, Split, Squeeze, Unsqueeze, Reshape, Flatten, Transpose, Expand,
    /// ConstantOfShape, Range, Where, the arithmetic Add, Sub, Mul, Div, Mod, Pow, Max, Min,
    /// Neg, Abs, Sqrt, Reciprocal, Floor, Ceil, Relu, Exp, Log, Erf, Tanh, Sigmoid, the
    /// comparisons and logic (Equal, Less, Greater, LessOrEqual, GreaterOrEqual, Not, And,
    /// Or, Xor) and ReduceSum/Prod/Mean/Max/Min. Integer arithmetic is exact and checked:
    /// overflow, division by zero and indices out of range are errors naming the node.
    /// Float32 results are rounded to float32. Nodes of other ops or domains are left with
    /// unknown outputs (no error); so are values of more than `maximumFoldedElements`.
    ///
    /// - Parameter inputShapes: the concrete shape of every graph input (see
    ///   ``inputShapes(batchSize:dimensions:)``); fixed declared dimensions must agree.
    /// - Throws: `ONNXError.inputShape` for a missing, extra or disagreeing input shape;
    ///   `.invalidNode` for inconsistent shapes or arithmetic that cannot be evaluated.
    /// - Complexity: linear in the nodes plus the elements of the folded values.
    public func foldConstants(inputShapes: [String: [Int]], maximumFoldedElements: Int = 1 << 24) throws(ONNXError)
        -> ONNXFoldedGraph
    {
        var known: [String: KnownValue] = [:]
        for input in inputs {
            guard let shape = inputShapes[input.name] else {
                throw .inputShape(input: input.name, message: "no shape given; expected one for every graph input")
            }
            if let declared = input.shape {
                guard declared.count == shape.count else {
                    throw .inputShape(input: input.name, message: "shape \(shape) has rank \(shape.count); expected rank \(declared.count) (\(declared))")
                }
                for (k, (d, n)) in zip(declared, shape).enumerated() {
                    if case let .fixed(f) = d, f != n {
                        throw .inputShape(input: input.name, message: "dimension \(k) is \(n); the model fixes it to \(f)")
                    }
                }
            }
            guard shape.allSatisfy({ $0 >= 0 }) else { throw .inputShape(input: input.name, message: "shape \(shape) has a negative dimension") }
            known[input.name] = KnownValue(type: input.elementType, shape: shape)
        }
        for name in inputShapes.keys where !inputs.contains(where: { $0.name == name }) {
            throw .inputShape(input: name, message: "is not an input of the graph (inputs: \(inputs.map(\.name)))")
        }
        var initializerMap: [String: ONNXTensor] = [:]
        for tensor in initializers {
            initializerMap[tensor.name] = tensor
            known[tensor.name] = KnownValue(type: tensor.elementType, shape: tensor.dims, values: tensor.values.normalized)
        }

        var constants: [String: ONNXTensor] = [:]
        var remaining: [ONNXNode] = []
        for node in nodes {
            let evaluation = NodeEvaluation(
                node: node, inputs: node.inputs.map { $0.isEmpty ? nil : known[$0] },
                limit: maximumFoldedElements, opset: opsetVersion)
            let results = node.isDefaultDomain ? try evaluation.evaluate() : []
            var folded = !node.outputs.allSatisfy(\.isEmpty)
            for (k, output) in node.outputs.enumerated() where !output.isEmpty {
                let result = k < results.count ? results[k] : KnownValue()
                known[output] = result
                if let type = result.type, let shape = result.shape, let values = result.values {
                    constants[output] = ONNXTensor(unchecked: output, type, shape, values)
                } else {
                    folded = false
                }
            }
            if !folded { remaining.append(node) }
        }
        return ONNXFoldedGraph(
            constants: constants, shapes: known.compactMapValues(\.shape), elementTypes: known.compactMapValues(\.type),
            remainingNodes: remaining, foldedNodeCount: nodes.count - remaining.count, initializers: initializerMap)
    }
}

/// What is known about one tensor during folding.
struct KnownValue {
    var type: ONNXElementType?
    var shape: [Int]?
    /// Never `.float32`: folding works on `.floating` and `.integer`.
    var values: ONNXTensor.Values? { didSet { if case .float32? = values { values = values?.normalized } } }

    init(type: ONNXElementType? = nil, shape: [Int]? = nil, values: ONNXTensor.Values? = nil) {
        self.type = type
        self.shape = shape
        self.values = values?.normalized
    }
}

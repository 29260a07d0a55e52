import NTKLinearAlgebra

/// The layers of a `ModelSpec` that read several layers' outputs, with PyTorch's names:
/// `add`, `sub`, `mul`, `div` (element-wise, NumPy broadcasting: `torch.add(a, b)`, `a * b`, …),
/// `concat` (`torch.cat` along `dim`, counted as PyTorch does with the batch axis as 0, so
/// channels of [N, C, H, W] are `dim: 1`; negative `dim` counts from the end) and `matmul`
/// (`torch.matmul` of two activations with equal leading axes).
public enum MergeSpec: Sendable, Hashable {
    case add, sub, mul, div
    case concat(dim: Int)
    case matmul

    /// The JSON `"type"`.
    public var typeName: String {
        switch self {
        case .add: return "add"
        case .sub: return "sub"
        case .mul: return "mul"
        case .div: return "div"
        case .concat: return "concat"
        case .matmul: return "matmul"
        }
    }

    static let elementwise: [String: MergeSpec] = ["add": .add, "sub": .sub, "mul": .mul, "div": .div, "matmul": .matmul]

    /// The merge layer for inputs of `shapes` (per example, without the batch axis).
    func makeLayer<Scalar: BLASScalar>(_: Scalar.Type, shapes: [[Int]], path: String) throws -> any Layer<Scalar> {
        func binary() throws -> ([Int], [Int]) {
            guard shapes.count == 2 else {
                throw NetworkError.invalidLayer(
                    layer: "\(path) (\(typeName))", field: "inputs", message: "got \(shapes.count) inputs, expected 2")
            }
            return (shapes[0], shapes[1])
        }
        switch self {
        case .add, .sub, .mul, .div:
            let (a, b) = try binary()
            return try ElementwiseMerge<Scalar>(ElementwiseMerge<Scalar>.Operation(rawValue: typeName)!, shapes: a, b)
        case .matmul:
            let (a, b) = try binary()
            return try MatMulMerge<Scalar>(shapes: a, b)
        case let .concat(dim):
            let rank = shapes.first?.count ?? 0
            let axis = dim < 0 ? dim + rank : dim - 1
            guard (0..<rank).contains(axis) else {
                throw NetworkError.invalidLayer(
                    layer: "\(path) (concat)", field: "dim",
                    message: "got \(dim) for inputs of shape [N] + \(shapes.first ?? []); expected 1…\(rank) (0 is the batch axis) or −\(rank)…−1")
            }
            return try Concat<Scalar>(axis: axis, shapes: shapes)
        }
    }
}

extension ModelSpec {
    /// The layer graph of `specs` with `inputs[k]` the layers layer k reads (−1 the model's input).
    static func makeGraph<Scalar: BLASScalar>(
        _ specs: [LayerSpec], inputs: [[Int]], inputShape: [Int], parameterization: Parameterization
    ) throws -> Sequential<Scalar> {
        guard inputs.count == specs.count else {
            throw NetworkError.invalidLayer(
                layer: "model", field: "inputs", message: "got \(inputs.count) input lists for \(specs.count) layers; expected one per layer")
        }
        var shapes = [inputShape]
        var layers: [any Layer<Scalar>] = []
        for (k, spec) in specs.enumerated() {
            guard !inputs[k].isEmpty, inputs[k].allSatisfy({ (-1..<k).contains($0) }) else {
                throw NetworkError.invalidLayer(
                    layer: "\(k) (\(spec.typeName))", field: "inputs",
                    message: "got \(inputs[k]); expected earlier layers' indices 0…\(k - 1), or −1 for the model's input")
            }
            let sources = inputs[k].map { shapes[$0 + 1] }
            let layer: any Layer<Scalar>
            if case let .merge(merge) = spec {
                layer = try merge.makeLayer(Scalar.self, shapes: sources, path: "\(k)")
            } else {
                guard sources.count == 1 else {
                    throw NetworkError.invalidLayer(
                        layer: "\(k) (\(spec.typeName))", field: "inputs",
                        message: "got \(sources.count) inputs; expected 1 (only add, sub, mul, div, concat and matmul read several)")
                }
                layer = try spec.makeLayer(inputShape: sources[0], parameterization: parameterization, path: "\(k)")
            }
            try checkOutput(layer, path: "\(k)", typeName: spec.typeName)
            layers.append(layer)
            shapes.append(layer.outputShape)
        }
        // The mean-field readout: the last layer (in list order) with parameters.
        if parameterization.readout != parameterization, let k = layers.lastIndex(where: { $0.parameterCount > 0 }) {
            layers[k] = try specs[k].makeLayer(
                inputShape: layers[k].inputShape, parameterization: parameterization.readout, path: "\(k)")
        }
        return try Sequential(inputShape: inputShape, layers: layers, inputs: inputs.map { $0.map { $0 + 1 } })
    }

    /// Every layer checks its own arithmetic; its output must also fit one example's memory.
    static func checkOutput<Scalar: BLASScalar>(_ layer: any Layer<Scalar>, path: String, typeName: String) throws {
        do {
            try SizeLimit.checkAllocation(
                "its output shape \(layer.outputShape)", count: SizeLimit.product(layer.outputShape),
                bytesPerElement: MemoryLayout<Scalar>.size, elementName: "\(Scalar.precisionName) values per example")
        } catch {
            throw NetworkError.invalidLayer(layer: "\(path) (\(typeName))", field: "output_shape", message: error.description)
        }
    }
}

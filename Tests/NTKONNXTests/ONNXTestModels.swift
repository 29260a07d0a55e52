import Foundation
@testable import NTKONNX

/// Small `ModelProto`s built with the generated types, as torch.onnx.export would write them.
enum TestModels {
    // MARK: Building blocks

    static func rawBytes<T>(_ values: [T]) -> Data { values.withUnsafeBytes { Data($0) } }  // little-endian host

    static func tensor(_ name: String, _ dims: [Int], float32 values: [Float], raw: Bool) -> Onnx_TensorProto {
        var t = Onnx_TensorProto()
        t.name = name
        t.dims = dims.map { Int64($0) }
        t.dataType = Int32(ONNXElementType.float32.dataType)
        if raw { t.rawData = rawBytes(values) } else { t.floatData = values }
        return t
    }

    static func tensor(_ name: String, _ dims: [Int], float64 values: [Double], raw: Bool) -> Onnx_TensorProto {
        var t = Onnx_TensorProto()
        t.name = name
        t.dims = dims.map { Int64($0) }
        t.dataType = Int32(ONNXElementType.float64.dataType)
        if raw { t.rawData = rawBytes(values) } else { t.doubleData = values }
        return t
    }

    static func tensor(_ name: String, _ dims: [Int], int64 values: [Int64], raw: Bool = true) -> Onnx_TensorProto {
        var t = Onnx_TensorProto()
        t.name = name
        t.dims = dims.map { Int64($0) }
        t.dataType = Int32(ONNXElementType.int64.dataType)
        if raw { t.rawData = rawBytes(values) } else { t.int64Data = values }
        return t
    }

    /// A tensor input/output; each dim is an `Int` (fixed) or a `String` (symbolic).
    static func value(_ name: String, _ elemType: ONNXElementType = .float32, _ dims: [Any]) -> Onnx_ValueInfoProto {
        var v = Onnx_ValueInfoProto()
        v.name = name
        var t = Onnx_TypeProto.Tensor()
        t.elemType = Int32(elemType.dataType)
        var shape = Onnx_TensorShapeProto()
        for d in dims {
            var dim = Onnx_TensorShapeProto.Dimension()
            if let n = d as? Int { dim.dimValue = Int64(n) } else if let s = d as? String { dim.dimParam = s }
            shape.dim.append(dim)
        }
        t.shape = shape
        v.type.tensorType = t
        return v
    }

    static func attribute(_ name: String, int: Int64) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = .int
        a.i = int
        return a
    }

    static func attribute(_ name: String, ints: [Int64]) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = .ints
        a.ints = ints
        return a
    }

    static func attribute(_ name: String, float: Float) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = .float
        a.f = float
        return a
    }

    static func attribute(_ name: String, string: String) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = .string
        a.s = Data(string.utf8)
        return a
    }

    static func attribute(_ name: String, tensor: Onnx_TensorProto) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = .tensor
        a.t = tensor
        return a
    }

    static func node(_ op: String, _ inputs: [String], _ outputs: [String], name: String? = nil,
                     _ attributes: [Onnx_AttributeProto] = []) -> Onnx_NodeProto {
        var n = Onnx_NodeProto()
        n.opType = op
        n.name = name ?? "/\(outputs.first ?? op)/\(op)"
        n.input = inputs
        n.output = outputs
        n.attribute = attributes
        return n
    }

    /// A `Constant` node holding int64 `values` of shape `dims`.
    static func constant(_ output: String, _ dims: [Int], _ values: [Int64]) -> Onnx_NodeProto {
        node("Constant", [], [output], [attribute("value", tensor: tensor("", dims, int64: values))])
    }

    static func model(nodes: [Onnx_NodeProto], inputs: [Onnx_ValueInfoProto], outputs: [Onnx_ValueInfoProto],
                      initializers: [Onnx_TensorProto] = [], opset: Int64 = 17) -> Onnx_ModelProto {
        var m = Onnx_ModelProto()
        m.irVersion = 8
        m.producerName = "pytorch"
        m.producerVersion = "2.9.0"
        var op = Onnx_OperatorSetIdProto()
        op.domain = ""
        op.version = opset
        m.opsetImport = [op]
        var g = Onnx_GraphProto()
        g.name = "main_graph"
        g.node = nodes
        g.input = inputs
        g.output = outputs
        g.initializer = initializers
        m.graph = g
        return m
    }

    static func data(_ model: Onnx_ModelProto) -> Data {
        // swiftlint:disable:next force_try
        try! model.serializedBytes()
    }

    // MARK: Models

    static let w1: [Float] = (0..<12).map { Float($0) * 0.25 - 1 }
    static let b1: [Float] = [0.5, -0.5, 0.125]
    static let w2: [Double] = [1, -2, 3, 0.1, 0.2, 0.3]
    static let b2: [Double] = [0.01, -0.02]

    /// A 4 → 3 → 2 MLP (Gemm, Relu, Gemm): W1 float32 in raw_data, b1 float32 in float_data,
    /// W2 float64 in raw_data, b2 float64 in double_data; nodes written out of order.
    static func mlp(opset: Int64 = 17) -> Onnx_ModelProto {
        model(
            nodes: [
                node("Gemm", ["relu", "fc2.weight", "fc2.bias"], ["y"], name: "/fc2/Gemm", [attribute("transB", int: 1)]),
                node("Gemm", ["x", "fc1.weight", "fc1.bias"], ["h"], name: "/fc1/Gemm",
                     [attribute("alpha", float: 1), attribute("beta", float: 1), attribute("transB", int: 1)]),
                node("Relu", ["h"], ["relu"], name: "/act/Relu"),
            ],
            inputs: [value("x", .float32, ["batch_size", 4])],
            outputs: [value("y", .float64, ["batch_size", 2])],
            initializers: [
                tensor("fc1.weight", [3, 4], float32: w1, raw: true),
                tensor("fc1.bias", [3], float32: b1, raw: false),
                tensor("fc2.weight", [2, 3], float64: w2, raw: true),
                tensor("fc2.bias", [2], float64: b2, raw: false),
            ],
            opset: opset)
    }

    /// x.reshape(x.shape[0], -1) as the TorchScript exporter writes it:
    /// Shape → Gather(0) → Unsqueeze → Concat([batch], [12]) → Reshape, then a Gemm.
    static func flattenByShape() -> Onnx_ModelProto {
        model(
            nodes: [
                node("Shape", ["x"], ["shape"]),
                constant("zero", [], [0]),
                node("Gather", ["shape", "zero"], ["batch"], [attribute("axis", int: 0)]),
                constant("axes", [1], [0]),
                node("Unsqueeze", ["batch", "axes"], ["batch1"]),
                constant("rest", [1], [12]),
                node("Concat", ["batch1", "rest"], ["new_shape"], [attribute("axis", int: 0)]),
                node("Reshape", ["x", "new_shape"], ["flat"]),
                node("Gemm", ["flat", "w"], ["y"], [attribute("transB", int: 1)]),
            ],
            inputs: [value("x", .float32, ["batch", 3, 4])],
            outputs: [value("y", .float32, ["batch", 2])],
            initializers: [tensor("w", [2, 12], float32: [Float](repeating: 0.5, count: 24), raw: true)])
    }
}

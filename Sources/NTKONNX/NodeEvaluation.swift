import Foundation
import NTKLinearAlgebra

/// The shape rule and, when every input is a known constant, the value of one default-domain
/// node (see ``ONNXModel/foldConstants(inputShapes:maximumFoldedElements:)`` for the ops).
struct NodeEvaluation {
    let node: ONNXNode
    let inputs: [KnownValue?]
    /// The most elements one folded value may have.
    let limit: Int
    let opset: Int

    typealias Values = ONNXTensor.Values

    func fail(_ message: String) -> ONNXError { .invalidNode(node: node.label, message: message) }

    // MARK: Inputs and attributes

    func input(_ k: Int) -> KnownValue? { k < inputs.count ? inputs[k] : nil }
    func shape(_ k: Int) -> [Int]? { input(k)?.shape }
    func type(_ k: Int) -> ONNXElementType? { input(k)?.type }
    func values(_ k: Int) -> Values? { input(k)?.values }

    /// The integer values of constant input `k` (a shape, axes, indices), `nil` if not constant.
    func integers(_ k: Int) throws(ONNXError) -> [Int64]? {
        guard let v = values(k) else { return nil }
        guard case let .integer(ints) = v else { throw fail("input \(k) (\"\(node.inputs[k])\") is floating point; expected integers") }
        return ints
    }

    func intAttribute(_ name: String, default value: Int) throws(ONNXError) -> Int { try node.intAttribute(name, default: value) }
    func intsAttribute(_ name: String) throws(ONNXError) -> [Int]? { try node.intsAttribute(name) }
    func stringAttribute(_ name: String, default value: String) throws(ONNXError) -> String {
        try node.stringAttribute(name, default: value)
    }

    /// `axis` in -rank..<rank normalized to 0..<rank.
    func normalize(axis: Int, rank: Int, what: String = "axis") throws(ONNXError) -> Int {
        guard axis >= -rank && axis < rank else { throw fail("\(what) \(axis) is out of range for rank \(rank); expected \(-rank)..<\(rank)") }
        return axis < 0 ? axis + rank : axis
    }

    func normalize(axes: [Int64], rank: Int) throws(ONNXError) -> [Int] {
        var result: [Int] = []
        for a in axes {
            guard let axis = Int(exactly: a) else { throw fail("axis \(a) is out of range") }
            let n = try normalize(axis: axis, rank: rank)
            guard !result.contains(n) else { throw fail("axes \(axes) repeat an axis") }
            result.append(n)
        }
        return result
    }

    /// The element count of `shape`, `nil` when it overflows.
    func count(_ shape: [Int]) -> Int? { SizeLimit.product(shape) }

    /// Whether a value of `shape` may be materialized (at most `limit` elements, in memory).
    func canFold(_ shape: [Int]) -> Bool {
        guard let n = count(shape), n <= limit else { return false }
        return (try? SizeLimit.checkAllocation("a folded value", count: n, bytesPerElement: 8)) != nil
    }

    /// A result of `shape` and `type` whose values, computed by `compute` when every input in
    /// `from` is constant and the result small enough, are filled in.
    func result(_ type: ONNXElementType?, _ shape: [Int]?, from operands: [Int]? = nil,
                _ compute: () throws(ONNXError) -> Values?) throws(ONNXError) -> KnownValue
    {
        var value = KnownValue(type: type, shape: shape)
        let needed = operands ?? Array(inputs.indices.filter { !node.inputs[$0].isEmpty })
        guard let shape, canFold(shape), needed.allSatisfy({ values($0) != nil }) else { return value }
        value.values = try compute()
        if let v = value.values, v.count != count(shape) {
            throw fail("internal: folded \(v.count) values for shape \(shape)")
        }
        return value
    }

    // MARK: Dispatch

    func evaluate() throws(ONNXError) -> [KnownValue] {
        switch node.opType {
        case "Constant": return [try constant()]
        case "Identity": return [try result(type(0), shape(0)) { values(0) }]
        case "Dropout":
            return [try result(type(0), shape(0), from: [0]) { values(0) }, KnownValue(type: .bool, shape: shape(0))]
        case "Shape": return [try shapeOf()]
        case "Size":
            guard let s = shape(0), let n = count(s) else { return [KnownValue(type: .int64, shape: [])] }
            return [KnownValue(type: .int64, shape: [], values: .integer([Int64(n)]))]
        case "Cast", "CastLike": return [try cast()]
        case "Neg", "Abs", "Sqrt", "Reciprocal", "Floor", "Ceil", "Relu", "Exp", "Log", "Erf", "Tanh", "Sigmoid", "Not", "Sign":
            return [try unary()]
        case "Softmax", "LogSoftmax", "Gelu", "LeakyRelu", "Elu", "Selu", "Softplus", "Softsign", "HardSigmoid",
             "HardSwish", "Mish", "Sin", "Cos", "Trilu", "IsNaN", "IsInf", "InstanceNormalization", "LRN":
            let boolean = node.opType == "IsNaN" || node.opType == "IsInf"
            return [KnownValue(type: boolean ? .bool : type(0), shape: shape(0))]
        case "Add", "Sub", "Mul", "Div", "Mod", "Pow", "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual",
             "And", "Or", "Xor", "Max", "Min", "Sum":
            return [try elementwise()]
        case "Where": return [try whereOp()]
        case "MatMul": return [try matMul()]
        case "Gemm": return [try gemm()]
        case "Conv": return [try convolution(pooling: false)]
        case "MaxPool", "AveragePool", "LpPool":
            let out = try convolution(pooling: true)
            return [out, KnownValue(type: .int64, shape: out.shape)]
        case "GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool":
            guard let s = shape(0) else { return [KnownValue(type: type(0))] }
            guard s.count >= 2 else { throw fail("input of rank \(s.count); expected N × C × spatial") }
            return [KnownValue(type: type(0), shape: Array(s[0..<2]) + Array(repeating: 1, count: s.count - 2))]
        case "BatchNormalization": return [KnownValue(type: type(0), shape: shape(0))]
        case "LayerNormalization": return try layerNormalization()
        case "Flatten": return [try flatten()]
        case "Transpose": return [try transpose()]
        case "Reshape": return [try reshape()]
        case "Squeeze": return [try squeeze()]
        case "Unsqueeze": return [try unsqueeze()]
        case "Concat": return [try concat()]
        case "Split": return try split()
        case "Slice": return [try slice()]
        case "Gather": return [try gather()]
        case "Expand": return [try expand()]
        case "Tile": return [try tile()]
        case "ConstantOfShape": return [try constantOfShape()]
        case "Range": return [try range()]
        case "ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL2", "ReduceL1",
             "ReduceSumSquare", "ReduceLogSumExp":
            return [try reduce()]
        default: return []
        }
    }

    // MARK: Sources

    func constant() throws(ONNXError) -> KnownValue {
        guard node.attributes.count == 1, let (name, attribute) = node.attributes.first else {
            throw fail("\(node.attributes.count) attributes; expected exactly one of value, value_float(s), value_int(s)")
        }
        let tensor: (ONNXElementType, [Int], Values)
        switch (name, attribute) {
        case let ("value", .tensor(t)): tensor = (t.elementType, t.dims, t.values.normalized)
        case let ("value_float", .float(f)): tensor = (.float32, [], .floating([f]))
        case let ("value_floats", .floats(f)): tensor = (.float32, [f.count], .floating(f))
        case let ("value_int", .int(i)): tensor = (.int64, [], .integer([i]))
        case let ("value_ints", .ints(i)): tensor = (.int64, [i.count], .integer(i))
        default:
            throw .invalidAttribute(node: node.label, attribute: name, message: "expected value (TENSOR), value_float(s) or value_int(s); string and sparse constants are not supported")
        }
        return KnownValue(type: tensor.0, shape: tensor.1, values: tensor.2)
    }

    func shapeOf() throws(ONNXError) -> KnownValue {
        guard let s = shape(0) else { return KnownValue(type: .int64) }
        let rank = s.count
        func clamp(_ a: Int) -> Int { min(max(a < 0 ? a + rank : a, 0), rank) }
        let start = clamp(try intAttribute("start", default: 0))
        let end = clamp(try intAttribute("end", default: rank))
        let dims = start < end ? Array(s[start..<end]) : []
        return KnownValue(type: .int64, shape: [dims.count], values: .integer(dims.map { Int64($0) }))
    }

    func constantOfShape() throws(ONNXError) -> KnownValue {
        var fill = KnownValue(type: .float32, shape: [], values: .floating([0]))
        if let attribute = node.attributes["value"] {
            guard let t = attribute.tensor, t.count == 1 else {
                throw .invalidAttribute(node: node.label, attribute: "value", message: "expected a one-element TENSOR")
            }
            fill = KnownValue(type: t.elementType, shape: [], values: t.values.normalized)
        }
        guard let dims = try integers(0) else {
            if let s = shape(0), s.count == 1, s[0] == 0 { return KnownValue(type: fill.type, shape: []) }
            return KnownValue(type: fill.type)
        }
        guard dims.allSatisfy({ $0 >= 0 }) else { throw fail("shape \(dims) has a negative dimension") }
        let out = dims.map { Int($0) }
        return try result(fill.type, out) { () throws(ONNXError) -> Values? in
            let n = count(out)!
            switch fill.values! {
            case let .floating(v): return .floating(Array(repeating: v[0], count: n))
            case let .integer(v): return .integer(Array(repeating: v[0], count: n))
            case let .float32(v): return .floating(Array(repeating: Double(v[0]), count: n))
            }
        }
    }

    func range() throws(ONNXError) -> KnownValue {
        guard let a = values(0), let b = values(1), let d = values(2) else { return KnownValue(type: type(0), shape: nil) }
        guard a.count == 1, b.count == 1, d.count == 1 else { throw fail("start, limit and delta must be scalars") }
        let n: Int
        switch (a, b, d) {
        case let (.integer(s), .integer(l), .integer(step)):
            guard step[0] != 0 else { throw fail("delta is 0; expected a non-zero step") }
            let span = (Double(l[0]) - Double(s[0])) / Double(step[0])
            guard span.rounded(.up) < Double(Int.max) else { return KnownValue(type: type(0), shape: nil) }  // absurd: left to run time
            let c = span <= 0 ? 0 : Int(span.rounded(.up))
            n = c
            return try result(type(0), [n]) { .integer((0..<c).map { s[0] &+ Int64($0) &* step[0] }) }
        case let (.floating(s), .floating(l), .floating(step)):
            guard step[0] != 0, s[0].isFinite, l[0].isFinite, step[0].isFinite else {
                throw fail("start \(s[0]), limit \(l[0]), delta \(step[0]); expected finite values and a non-zero delta")
            }
            let span = ((l[0] - s[0]) / step[0]).rounded(.up)
            guard span < Double(Int.max) else { return KnownValue(type: type(0), shape: nil) }
            n = span <= 0 ? 0 : Int(span)
            let isFloat32 = type(0) == .float32
            return try result(type(0), [n]) {
                .floating((0..<n).map { let x = s[0] + Double($0) * step[0]; return isFloat32 ? Double(Float(x)) : x })
            }
        default:
            throw fail("start, limit and delta mix integer and floating-point types; expected one type")
        }
    }

    // MARK: Elementwise

    func cast() throws(ONNXError) -> KnownValue {
        let target: ONNXElementType?
        if node.opType == "CastLike" {
            target = type(1)
        } else {
            let to = try intAttribute("to", default: 0)
            target = ONNXElementType(dataType: to)
        }
        guard let target else { return KnownValue(shape: shape(0)) }
        return try result(target, shape(0), from: [0]) { () throws(ONNXError) -> Values? in
            try convert(values(0)!, to: target)
        }
    }

    func convert(_ v: Values, to target: ONNXElementType) throws(ONNXError) -> Values {
        switch (v, target) {
        case let (.float32(x), _): return try convert(.floating(x.map(Double.init)), to: target)
        case let (.floating(x), .float32): return .floating(x.map { Double(Float($0)) })
        case (.floating, .float64): return v
        case let (.integer(x), .float32): return .floating(x.map { Double(Float($0)) })
        case let (.integer(x), .float64): return .floating(x.map { Double($0) })
        case let (.floating(x), .bool): return .integer(x.map { $0 != 0 ? 1 : 0 })
        case let (.integer(x), .bool): return .integer(x.map { $0 != 0 ? 1 : 0 })
        case let (.floating(x), _):
            var out: [Int64] = []
            out.reserveCapacity(x.count)
            for f in x {
                let t = f.rounded(.towardZero)
                guard let i = Int64(exactly: t), target == .int64 || Int32(exactly: i) != nil else {
                    throw fail("cannot cast \(f) to \(target)")
                }
                out.append(i)
            }
            return .integer(out)
        case let (.integer(x), _):
            if target == .int32, let bad = x.first(where: { Int32(exactly: $0) == nil }) { throw fail("cannot cast \(bad) to int32") }
            return v
        }
    }

    func unary() throws(ONNXError) -> KnownValue {
        let op = node.opType
        let outType: ONNXElementType? = op == "Not" ? .bool : type(0)
        return try result(outType, shape(0)) { () throws(ONNXError) -> Values? in
            switch values(0)! {
            case .float32: return nil   // unreachable: KnownValue holds normalized values
            case let .integer(x):
                switch op {
                case "Neg":
                    guard !x.contains(.min) else { throw fail("negating \(Int64.min) overflows int64") }
                    return .integer(x.map { -$0 })
                case "Abs":
                    guard !x.contains(.min) else { throw fail("the absolute value of \(Int64.min) overflows int64") }
                    return .integer(x.map { abs($0) })
                case "Relu": return .integer(x.map { max($0, 0) })
                case "Sign": return .integer(x.map { $0.signum() })
                case "Not": return .integer(x.map { $0 == 0 ? 1 : 0 })
                default: return nil
                }
            case let .floating(x):
                let f: (Double) -> Double
                switch op {
                case "Neg": f = { -$0 }
                case "Abs": f = { Swift.abs($0) }
                case "Sqrt": f = { $0.squareRoot() }
                case "Reciprocal": f = { 1 / $0 }
                case "Floor": f = { $0.rounded(.down) }
                case "Ceil": f = { $0.rounded(.up) }
                case "Relu": f = { Swift.max($0, 0) }
                case "Exp": f = { Foundation.exp($0) }
                case "Log": f = { Foundation.log($0) }
                case "Erf": f = { Foundation.erf($0) }
                case "Tanh": f = { Foundation.tanh($0) }
                case "Sigmoid": f = { 1 / (1 + Foundation.exp(-$0)) }
                case "Sign": f = { $0 > 0 ? 1 : ($0 < 0 ? -1 : 0) }
                default: return nil
                }
                return rounded(.floating(x.map(f)), to: outType)
            }
        }
    }

    /// float32 results rounded to float32.
    func rounded(_ v: Values, to type: ONNXElementType?) -> Values {
        if type == .float32, case let .floating(x) = v { return .floating(x.map { Double(Float($0)) }) }
        return v
    }

    func elementwise() throws(ONNXError) -> KnownValue {
        let op = node.opType
        let operands = node.inputs.indices.filter { !node.inputs[$0].isEmpty }
        guard !operands.isEmpty else { throw fail("no inputs; expected at least one") }
        let comparison = ["Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor"].contains(op)
        let outType: ONNXElementType? = comparison ? .bool : type(operands[0])
        let shapes = operands.map { shape($0) }
        guard shapes.allSatisfy({ $0 != nil }) else { return KnownValue(type: outType) }
        let out = try broadcast(shapes.map { $0! })
        return try result(outType, out) { () throws(ONNXError) -> Values? in
            var acc = values(operands[0])!.take(broadcastIndices(from: shapes[0]!, to: out))
            for k in operands.dropFirst() {
                let b = values(k)!.take(broadcastIndices(from: shapes[k]!, to: out))
                guard let next = try binary(op, acc, b) else { return nil }
                acc = next
            }
            if operands.count == 1 && op != "Max" && op != "Min" && op != "Sum" { return nil }
            return rounded(acc, to: outType)
        }
    }

    /// `a op b` elementwise (same count); `nil` when not folded (integer Pow).
    func binary(_ op: String, _ a: Values, _ b: Values) throws(ONNXError) -> Values? {
        switch (a, b) {
        case let (.integer(x), .integer(y)):
            var out = [Int64]()
            out.reserveCapacity(x.count)
            let fmod = try intAttribute("fmod", default: 0) != 0
            for (p, q) in zip(x, y) {
                let r: Int64
                var overflow = false
                switch op {
                case "Add", "Sum": (r, overflow) = p.addingReportingOverflow(q)
                case "Sub": (r, overflow) = p.subtractingReportingOverflow(q)
                case "Mul": (r, overflow) = p.multipliedReportingOverflow(by: q)
                case "Div", "Mod":
                    guard q != 0 else { throw fail("integer \(op == "Div" ? "division" : "modulo") by zero") }
                    guard !(p == .min && q == -1) else { throw fail("\(p) / \(q) overflows int64") }
                    if op == "Div" {
                        r = p / q
                    } else {
                        let m = p % q
                        r = (!fmod && m != 0 && (m < 0) != (q < 0)) ? m + q : m
                    }
                case "Max": r = max(p, q)
                case "Min": r = min(p, q)
                case "Equal": r = p == q ? 1 : 0
                case "Less": r = p < q ? 1 : 0
                case "Greater": r = p > q ? 1 : 0
                case "LessOrEqual": r = p <= q ? 1 : 0
                case "GreaterOrEqual": r = p >= q ? 1 : 0
                case "And": r = (p != 0 && q != 0) ? 1 : 0
                case "Or": r = (p != 0 || q != 0) ? 1 : 0
                case "Xor": r = ((p != 0) != (q != 0)) ? 1 : 0
                default: return nil
                }
                if overflow { throw fail("\(p) \(op) \(q) overflows int64") }
                out.append(r)
            }
            return .integer(out)
        case let (.floating(x), .floating(y)):
            let f: (Double, Double) -> Double
            switch op {
            case "Add", "Sum": f = { $0 + $1 }
            case "Sub": f = { $0 - $1 }
            case "Mul": f = { $0 * $1 }
            case "Div": f = { $0 / $1 }
            case "Pow": f = { Foundation.pow($0, $1) }
            case "Mod": f = { Foundation.fmod($0, $1) }
            case "Max": f = { $0.isNaN || $1.isNaN ? .nan : Swift.max($0, $1) }
            case "Min": f = { $0.isNaN || $1.isNaN ? .nan : Swift.min($0, $1) }
            case "Equal": f = { $0 == $1 ? 1 : 0 }
            case "Less": f = { $0 < $1 ? 1 : 0 }
            case "Greater": f = { $0 > $1 ? 1 : 0 }
            case "LessOrEqual": f = { $0 <= $1 ? 1 : 0 }
            case "GreaterOrEqual": f = { $0 >= $1 ? 1 : 0 }
            default: return nil
            }
            let r = zip(x, y).map(f)
            if ["Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"].contains(op) {
                return .integer(r.map { Int64($0) })
            }
            return .floating(r)
        case (.floating, .integer) where op == "Pow", (.integer, .floating) where op == "Pow":
            return nil
        default:
            throw fail("inputs mix integer and floating-point types; expected one type")
        }
    }

    func whereOp() throws(ONNXError) -> KnownValue {
        guard let c = shape(0), let x = shape(1), let y = shape(2) else { return KnownValue(type: type(1) ?? type(2)) }
        let out = try broadcast([c, x, y])
        return try result(type(1) ?? type(2), out) { () throws(ONNXError) -> Values? in
            guard case let .integer(cond) = values(0)!.take(broadcastIndices(from: c, to: out)) else {
                throw fail("condition is floating point; expected bool")
            }
            let a = values(1)!.take(broadcastIndices(from: x, to: out))
            let b = values(2)!.take(broadcastIndices(from: y, to: out))
            switch (a, b) {
            case let (.integer(p), .integer(q)): return .integer(cond.indices.map { cond[$0] != 0 ? p[$0] : q[$0] })
            case let (.floating(p), .floating(q)): return .floating(cond.indices.map { cond[$0] != 0 ? p[$0] : q[$0] })
            default: throw fail("X and Y mix integer and floating-point types; expected one type")
            }
        }
    }

    /// NumPy's multidirectional broadcast of `shapes`.
    func broadcast(_ shapes: [[Int]]) throws(ONNXError) -> [Int] {
        let rank = shapes.map(\.count).max() ?? 0
        var out = [Int](repeating: 1, count: rank)
        for s in shapes {
            for (k, d) in s.enumerated() {
                let j = rank - s.count + k
                if out[j] == 1 {
                    out[j] = d
                } else if d != 1 && d != out[j] {
                    throw fail("shapes \(shapes.map { "\($0)" }.joined(separator: ", ")) do not broadcast (dimension \(d) vs \(out[j]))")
                }
            }
        }
        return out
    }

    // MARK: Linear algebra and convolution (shapes only)

    func matMul() throws(ONNXError) -> KnownValue {
        guard var a = shape(0), var b = shape(1) else { return KnownValue(type: type(0)) }
        guard !a.isEmpty, !b.isEmpty else { throw fail("scalar operand; expected tensors of rank ≥ 1") }
        let vectorA = a.count == 1, vectorB = b.count == 1
        if vectorA { a = [1] + a }
        if vectorB { b = b + [1] }
        guard a[a.count - 1] == b[b.count - 2] else { throw fail("shapes \(shape(0)!) and \(shape(1)!) do not multiply (inner dimensions \(a.last!) and \(b[b.count - 2]))") }
        var out = try broadcast([Array(a.dropLast(2)), Array(b.dropLast(2))])
        if !vectorA { out.append(a[a.count - 2]) }
        if !vectorB { out.append(b[b.count - 1]) }
        return KnownValue(type: type(0), shape: out)
    }

    func gemm() throws(ONNXError) -> KnownValue {
        guard let a = shape(0), let b = shape(1) else { return KnownValue(type: type(0)) }
        guard a.count == 2, b.count == 2 else { throw fail("A has shape \(a) and B \(b); expected matrices") }
        let ta = try intAttribute("transA", default: 0) != 0, tb = try intAttribute("transB", default: 0) != 0
        let (m, k1) = ta ? (a[1], a[0]) : (a[0], a[1])
        let (k2, n) = tb ? (b[1], b[0]) : (b[0], b[1])
        guard k1 == k2 else { throw fail("A \(a) (transA \(ta ? 1 : 0)) and B \(b) (transB \(tb ? 1 : 0)) do not multiply") }
        if let c = shape(2) { _ = try broadcast([c, [m, n]]) }
        return KnownValue(type: type(0), shape: [m, n])
    }

    /// Conv (with the weight's shape) or a pooling op (with kernel_shape): N × C_out × spatial.
    func convolution(pooling: Bool) throws(ONNXError) -> KnownValue {
        guard let x = shape(0) else { return KnownValue(type: type(0)) }
        guard x.count >= 3 else { throw fail("input of shape \(x); expected N × C × spatial") }
        let spatial = x.count - 2
        var channels = x[1]
        var kernel: [Int]
        if pooling {
            guard let k = try intsAttribute("kernel_shape") else {
                throw .invalidAttribute(node: node.label, attribute: "kernel_shape", message: "missing; expected one size per spatial dimension")
            }
            kernel = k
        } else {
            guard let w = shape(1) else { return KnownValue(type: type(0)) }
            guard w.count == x.count else { throw fail("weight of shape \(w) for input \(x); expected rank \(x.count)") }
            let group = try intAttribute("group", default: 1)
            guard group >= 1, w[1].multipliedReportingOverflow(by: group) == (x[1], false) else {
                throw fail("input has \(x[1]) channels; weight \(w) with group \(group) expects \(w[1]) × \(group)")
            }
            channels = w[0]
            kernel = try intsAttribute("kernel_shape") ?? Array(w[2...])
        }
        let strides = try intsAttribute("strides") ?? Array(repeating: 1, count: spatial)
        let dilations = try intsAttribute("dilations") ?? Array(repeating: 1, count: spatial)
        var pads = try intsAttribute("pads") ?? Array(repeating: 0, count: 2 * spatial)
        guard kernel.count == spatial, strides.count == spatial, dilations.count == spatial, pads.count == 2 * spatial else {
            throw fail("kernel_shape \(kernel), strides \(strides), dilations \(dilations), pads \(pads) for \(spatial) spatial dimensions")
        }
        guard kernel.allSatisfy({ $0 >= 1 }), strides.allSatisfy({ $0 >= 1 }), dilations.allSatisfy({ $0 >= 1 }),
              pads.allSatisfy({ $0 >= 0 }), (kernel + strides + dilations + pads).allSatisfy({ $0 <= Int(Int32.max) }) else {
            throw fail("kernel_shape \(kernel), strides \(strides), dilations \(dilations), pads \(pads); expected positive sizes (pads ≥ 0)")
        }
        let autoPad = try stringAttribute("auto_pad", default: "NOTSET")
        let ceilMode = pooling ? try intAttribute("ceil_mode", default: 0) != 0 : false
        var out = [x[0], channels]
        guard x[2...].allSatisfy({ $0 < 1 << 56 }) else { throw fail("input of shape \(x); spatial dimensions beyond 2^56 are not supported") }
        for d in 0..<spatial {
            let input = x[d + 2]
            let extent = dilations[d] * (kernel[d] - 1) + 1
            switch autoPad {
            case "SAME_UPPER", "SAME_LOWER":
                out.append((input + strides[d] - 1) / strides[d])
                continue
            case "VALID": pads[d] = 0; pads[d + spatial] = 0
            case "NOTSET", "": break
            default: throw .invalidAttribute(node: node.label, attribute: "auto_pad", message: "\"\(autoPad)\"; expected NOTSET, SAME_UPPER, SAME_LOWER or VALID")
            }
            let padded = input + pads[d] + pads[d + spatial]
            guard padded >= extent else { throw fail("spatial dimension \(d) of size \(input) (padded \(padded)) is smaller than the kernel extent \(extent)") }
            var n = (padded - extent) / strides[d] + 1
            if ceilMode {
                n = (padded - extent + strides[d] - 1) / strides[d] + 1
                if (n - 1) * strides[d] >= input + pads[d] { n -= 1 }
            }
            out.append(n)
        }
        return KnownValue(type: type(0), shape: out)
    }

    func layerNormalization() throws(ONNXError) -> [KnownValue] {
        guard let x = shape(0) else { return [KnownValue(type: type(0)), KnownValue(type: .float32), KnownValue(type: .float32)] }
        let axis = try normalize(axis: try intAttribute("axis", default: -1), rank: x.count)
        let reduced = Array(x[..<axis]) + Array(repeating: 1, count: x.count - axis)
        return [KnownValue(type: type(0), shape: x), KnownValue(type: .float32, shape: reduced), KnownValue(type: .float32, shape: reduced)]
    }

    // MARK: Layout

    func flatten() throws(ONNXError) -> KnownValue {
        guard let x = shape(0) else { return KnownValue(type: type(0)) }
        let axisAttribute = try intAttribute("axis", default: 1)
        guard axisAttribute >= -x.count && axisAttribute <= x.count else { throw fail("axis \(axisAttribute) out of range for rank \(x.count)") }
        let axis = axisAttribute < 0 ? axisAttribute + x.count : axisAttribute
        guard let outer = count(Array(x[..<axis])), let inner = count(Array(x[axis...])) else { throw fail("shape \(x) overflows") }
        return try result(type(0), [outer, inner]) { values(0) }
    }

    func reshape() throws(ONNXError) -> KnownValue {
        guard let requested = try integers(1) else { return KnownValue(type: type(0), shape: nil) }
        guard let x = shape(0) else {
            if requested.allSatisfy({ $0 > 0 }) { return KnownValue(type: type(0), shape: requested.map { Int($0) }) }
            return KnownValue(type: type(0))
        }
        let allowZero = try intAttribute("allowzero", default: 0) != 0
        var out: [Int] = []
        var inferred: Int?
        for (k, r) in requested.enumerated() {
            switch r {
            case 0 where !allowZero:
                guard k < x.count else { throw fail("shape \(requested) copies dimension \(k) of an input of rank \(x.count)") }
                out.append(x[k])
            case -1:
                guard inferred == nil else { throw fail("shape \(requested) has more than one -1") }
                inferred = k
                out.append(1)
            default:
                guard r >= 0, let n = Int(exactly: r) else { throw fail("shape \(requested) has dimension \(r); expected ≥ -1") }
                out.append(n)
            }
        }
        guard let total = count(x), let known = count(out) else { throw fail("shape \(requested) for input \(x) overflows") }
        if let k = inferred {
            guard known > 0, total % known == 0 else { throw fail("cannot reshape \(x) (\(total) elements) to \(requested)") }
            out[k] = total / known
        } else if known != total {
            throw fail("cannot reshape \(x) (\(total) elements) to \(requested) (\(known) elements)")
        }
        return try result(type(0), out, from: [0]) { values(0) }
    }

    func squeeze() throws(ONNXError) -> KnownValue {
        guard let x = shape(0) else { return KnownValue(type: type(0)) }
        var axesValues = try integers(1)
        if axesValues == nil, let attribute = try intsAttribute("axes") { axesValues = attribute.map { Int64($0) } }
        if input(1) != nil && axesValues == nil { return KnownValue(type: type(0)) }
        let axes = try axesValues.map { (a) throws(ONNXError) in try normalize(axes: a, rank: x.count) } ?? x.indices.filter { x[$0] == 1 }
        for a in axes where x[a] != 1 { throw fail("cannot squeeze dimension \(a) of size \(x[a]) of shape \(x)") }
        let out = x.indices.filter { !axes.contains($0) }.map { x[$0] }
        return try result(type(0), out, from: [0]) { values(0) }
    }

    func unsqueeze() throws(ONNXError) -> KnownValue {
        guard let x = shape(0) else { return KnownValue(type: type(0)) }
        var axesValues = try integers(1)
        if axesValues == nil, let attribute = try intsAttribute("axes") { axesValues = attribute.map { Int64($0) } }
        guard let axesValues else { return KnownValue(type: type(0)) }
        let rank = x.count + axesValues.count
        let axes = try normalize(axes: axesValues, rank: rank)
        var out: [Int] = []
        var source = x.makeIterator()
        for k in 0..<rank { out.append(axes.contains(k) ? 1 : source.next()!) }
        return try result(type(0), out, from: [0]) { values(0) }
    }

    func transpose() throws(ONNXError) -> KnownValue {
        guard let x = shape(0) else { return KnownValue(type: type(0)) }
        let perm = try intsAttribute("perm") ?? Array(x.indices.reversed())
        guard perm.sorted() == Array(x.indices) else { throw fail("perm \(perm) is not a permutation of the \(x.count) axes") }
        let out = perm.map { x[$0] }
        return try result(type(0), out) {
            let st = strides(x)
            return values(0)!.take(stridedIndices(shape: out, strides: perm.map { st[$0] }, base: 0))
        }
    }

    func concat() throws(ONNXError) -> KnownValue {
        let parts = node.inputs.indices.filter { !node.inputs[$0].isEmpty }
        guard let first = parts.first else { throw fail("no inputs; expected at least one") }
        let shapes = parts.map { shape($0) }
        guard let rank = shapes.first(where: { $0 != nil })??.count else { return KnownValue(type: type(first)) }
        guard node.attributes["axis"] != nil else {
            throw .invalidAttribute(node: node.label, attribute: "axis", message: "missing; expected the axis to concatenate along")
        }
        let axis = try normalize(axis: try intAttribute("axis", default: 0), rank: rank)
        guard shapes.allSatisfy({ $0 != nil }) else { return KnownValue(type: type(first)) }
        var out = shapes[0]!
        out[axis] = 0
        for s in shapes.map({ $0! }) {
            guard s.count == rank, s.indices.allSatisfy({ $0 == axis || s[$0] == out[$0] }) else {
                throw fail("shapes \(shapes.map { $0! }) do not concatenate along axis \(axis)")
            }
            let (sum, overflow) = out[axis].addingReportingOverflow(s[axis])
            guard !overflow else { throw fail("concatenated dimension overflows") }
            out[axis] = sum
        }
        return try result(type(first), out) { () throws(ONNXError) -> Values? in
            // All parts' values end to end, then for each outer index each part's chunk in turn.
            let outer = count(Array(out[..<axis]))!
            let inner = count(Array(out[(axis + 1)...]))!
            var all = values(first)!
            var offsets = [0]
            for k in parts.dropFirst() {
                offsets.append(all.count)
                all = try all.appending(values(k)!, node: self)
            }
            let chunks = shapes.map { $0![axis] * inner }
            var source: [Int] = []
            source.reserveCapacity(count(out)!)
            for o in 0..<outer {
                for (p, chunk) in chunks.enumerated() {
                    let base = offsets[p] + o * chunk
                    source.append(contentsOf: base..<(base + chunk))
                }
            }
            return all.take(source)
        }
    }

    func split() throws(ONNXError) -> [KnownValue] {
        let n = node.outputs.count
        guard let x = shape(0) else { return Array(repeating: KnownValue(type: type(0)), count: n) }
        let axis = try normalize(axis: try intAttribute("axis", default: 0), rank: x.count)
        var sizes: [Int]
        if let given = try integers(1) {
            sizes = given.map { Int(truncatingIfNeeded: $0) }
        } else if input(1) != nil {
            return Array(repeating: KnownValue(type: type(0)), count: n)
        } else if let attribute = try intsAttribute("split") {
            sizes = attribute
        } else {
            guard x[axis] < 1 << 62 else { throw fail("dimension \(axis) of size \(x[axis]) is too large to split") }
            let parts = try intAttribute("num_outputs", default: n)
            guard parts >= 1, parts == n else { throw fail("num_outputs \(parts) for \(n) outputs") }
            let chunk = (x[axis] + parts - 1) / parts
            sizes = (0..<parts).map { max(0, min(chunk, x[axis] - $0 * chunk)) }
        }
        guard sizes.count == n, sizes.allSatisfy({ $0 >= 0 }), SizeLimit.sum(sizes) == x[axis] else {
            throw fail("split \(sizes) of dimension \(axis) (size \(x[axis])) into \(n) outputs; expected \(n) non-negative sizes summing to \(x[axis])")
        }
        var start = 0
        var results: [KnownValue] = []
        let st = strides(x)
        for size in sizes {
            var out = x
            out[axis] = size
            let base = start * st[axis]
            results.append(try result(type(0), out, from: [0]) { values(0)!.take(stridedIndices(shape: out, strides: st, base: base)) })
            start += size
        }
        return results
    }

    func slice() throws(ONNXError) -> KnownValue {
        guard let x = shape(0) else { return KnownValue(type: type(0)) }
        guard let starts = try integers(1), let ends = try integers(2) else { return KnownValue(type: type(0)) }
        let givenAxes = try integers(3), givenSteps = try integers(4)
        if (input(3) != nil && givenAxes == nil) || (input(4) != nil && givenSteps == nil) { return KnownValue(type: type(0)) }
        let axes = try normalize(axes: givenAxes ?? starts.indices.map { Int64($0) }, rank: x.count)
        let steps = givenSteps ?? Array(repeating: 1, count: starts.count)
        guard starts.count == ends.count, axes.count == starts.count, steps.count == starts.count else {
            throw fail("starts \(starts), ends \(ends), axes \(axes), steps \(steps); expected equal lengths")
        }
        var out = x
        var begin = [Int](repeating: 0, count: x.count)
        var step = [Int](repeating: 1, count: x.count)
        for (k, axis) in axes.enumerated() {
            let d = Int64(x[axis])
            let s = steps[k]
            guard s != 0, s != .min else { throw fail("step \(s) on axis \(axis); expected a non-zero step") }
            var a = starts[k] < 0 ? starts[k] + d : starts[k]
            var e = ends[k] < 0 ? ends[k] + d : ends[k]
            let n: Int64
            if s > 0 {
                a = min(max(a, 0), d)
                e = min(max(e, 0), d)
                n = e > a ? (e - a - 1) / s + 1 : 0  // ceil((e - a) / s) without overflow
            } else {
                a = min(max(a, 0), d - 1)
                e = min(max(e, -1), d - 1)
                n = a > e ? (a - e - 1) / -s + 1 : 0
            }
            out[axis] = Int(n)
            begin[axis] = Int(a)
            step[axis] = Int(s)
        }
        return try result(type(0), out, from: [0]) {
            let st = strides(x)
            let base = zip(begin, st).reduce(0) { $0 + $1.0 * $1.1 }
            return values(0)!.take(stridedIndices(shape: out, strides: zip(step, st).map { $0 * $1 }, base: base))
        }
    }

    func gather() throws(ONNXError) -> KnownValue {
        guard let x = shape(0), let indexShape = shape(1) else { return KnownValue(type: type(0)) }
        let axis = try normalize(axis: try intAttribute("axis", default: 0), rank: x.count)
        let out = Array(x[..<axis]) + indexShape + Array(x[(axis + 1)...])
        return try result(type(0), out) { () throws(ONNXError) -> Values? in
            guard let indices = try integers(1) else { return nil }
            let d = x[axis]
            let outer = count(Array(x[..<axis]))!
            let inner = count(Array(x[(axis + 1)...]))!
            var rows: [Int] = []
            rows.reserveCapacity(indices.count)
            for i in indices {
                guard i >= -Int64(d) && i < Int64(d) else { throw fail("index \(i) is out of range for dimension \(axis) of size \(d)") }
                rows.append(Int(i < 0 ? i + Int64(d) : i))
            }
            var source: [Int] = []
            source.reserveCapacity(outer * rows.count * inner)
            for o in 0..<outer {
                for r in rows {
                    let base = (o * d + r) * inner
                    for i in 0..<inner { source.append(base + i) }
                }
            }
            return values(0)!.take(source)
        }
    }

    func expand() throws(ONNXError) -> KnownValue {
        guard let x = shape(0), let requested = try integers(1) else { return KnownValue(type: type(0)) }
        guard requested.allSatisfy({ $0 >= 0 }) else { throw fail("shape \(requested) has a negative dimension") }
        let out = try broadcast([x, requested.map { Int($0) }])
        return try result(type(0), out, from: [0]) { values(0)!.take(broadcastIndices(from: x, to: out)) }
    }

    func tile() throws(ONNXError) -> KnownValue {
        guard let x = shape(0), let repeats = try integers(1) else { return KnownValue(type: type(0)) }
        guard repeats.count == x.count, repeats.allSatisfy({ $0 >= 0 }) else { throw fail("repeats \(repeats) for shape \(x); expected \(x.count) values ≥ 0") }
        var out: [Int] = []
        for (d, r) in zip(x, repeats) {
            let (n, overflow) = d.multipliedReportingOverflow(by: Int(r))
            guard !overflow else { throw fail("tiling \(x) by \(repeats) overflows") }
            out.append(n)
        }
        return KnownValue(type: type(0), shape: out)
    }

    func reduce() throws(ONNXError) -> KnownValue {
        guard let x = shape(0) else { return KnownValue(type: type(0)) }
        let keepDims = try intAttribute("keepdims", default: 1) != 0
        var axesValues: [Int64]?
        if input(1) != nil {
            guard let given = try integers(1) else { return KnownValue(type: type(0)) }
            axesValues = given
        } else if let attribute = try intsAttribute("axes") {
            axesValues = attribute.map { Int64($0) }
        }
        let noop = try intAttribute("noop_with_empty_axes", default: 0) != 0
        if noop && (axesValues ?? []).isEmpty {
            return try result(type(0), x, from: [0]) { values(0) }
        }
        let axes = try axesValues.flatMap { (a) throws(ONNXError) -> [Int]? in a.isEmpty ? nil : try normalize(axes: a, rank: x.count) }
            ?? Array(x.indices)
        let out = keepDims ? x.indices.map { axes.contains($0) ? 1 : x[$0] } : x.indices.filter { !axes.contains($0) }.map { x[$0] }
        let op = node.opType
        guard ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd"].contains(op) else {
            return KnownValue(type: type(0), shape: out)
        }
        return try result(type(0), out, from: [0]) { () throws(ONNXError) -> Values? in
            guard canFold(x) else { return nil }
            // Each input element's output position: its index with the reduced axes zeroed.
            let kept = x.indices.map { axes.contains($0) ? 1 : x[$0] }
            let st = strides(kept)
            let target = stridedIndices(shape: x, strides: x.indices.map { axes.contains($0) ? 0 : st[$0] }, base: 0)
            let n = count(out)!
            let total = count(x)!
            let groupSize = n == 0 ? 0 : total / n
            switch values(0)! {
            case .float32: return nil   // unreachable: KnownValue holds normalized values
            case let .floating(v):
                var acc = [Double](repeating: op == "ReduceProd" ? 1 : (op == "ReduceMax" ? -.infinity : (op == "ReduceMin" ? .infinity : 0)), count: n)
                for (i, t) in target.enumerated() {
                    switch op {
                    case "ReduceProd": acc[t] *= v[i]
                    case "ReduceMax": acc[t] = v[i].isNaN || acc[t].isNaN ? .nan : Swift.max(acc[t], v[i])
                    case "ReduceMin": acc[t] = v[i].isNaN || acc[t].isNaN ? .nan : Swift.min(acc[t], v[i])
                    default: acc[t] += v[i]
                    }
                }
                if op == "ReduceMean" { acc = acc.map { $0 / Double(groupSize) } }
                return rounded(.floating(acc), to: type(0))
            case let .integer(v):
                guard groupSize > 0 || (op != "ReduceMax" && op != "ReduceMin" && op != "ReduceMean") else {
                    throw fail("\(op) over an empty set of integers")
                }
                var acc = [Int64](repeating: op == "ReduceProd" ? 1 : (op == "ReduceMax" ? .min : (op == "ReduceMin" ? .max : 0)), count: n)
                for (i, t) in target.enumerated() {
                    var overflow = false
                    switch op {
                    case "ReduceProd": (acc[t], overflow) = acc[t].multipliedReportingOverflow(by: v[i])
                    case "ReduceMax": acc[t] = Swift.max(acc[t], v[i])
                    case "ReduceMin": acc[t] = Swift.min(acc[t], v[i])
                    default: (acc[t], overflow) = acc[t].addingReportingOverflow(v[i])
                    }
                    if overflow { throw fail("\(op) overflows int64") }
                }
                if op == "ReduceMean" { acc = acc.map { $0 / Int64(groupSize) } }
                return .integer(acc)
            }
        }
    }
}

// MARK: - Index helpers

/// Row-major strides of `shape`.
func strides(_ shape: [Int]) -> [Int] {
    var result = [Int](repeating: 1, count: shape.count)
    var s = 1
    for k in shape.indices.reversed() {
        result[k] = s
        s = s &* shape[k]
    }
    return result
}

/// The flat source index of every element of a `shape` view, enumerated row-major, whose
/// element (i₀, i₁, …) lives at `base + Σ iₖ·strides[k]`.
func stridedIndices(shape: [Int], strides: [Int], base: Int) -> [Int] {
    let n = shape.reduce(1, *)
    guard n > 0 else { return [] }
    var result: [Int] = []
    result.reserveCapacity(n)
    var index = [Int](repeating: 0, count: shape.count)
    var offset = base
    for _ in 0..<n {
        result.append(offset)
        var k = shape.count - 1
        while k >= 0 {
            index[k] += 1
            offset += strides[k]
            if index[k] < shape[k] { break }
            offset -= strides[k] * shape[k]
            index[k] = 0
            k -= 1
        }
    }
    return result
}

/// The flat index in a tensor of shape `source` of each element of its broadcast to `target`.
func broadcastIndices(from source: [Int], to target: [Int]) -> [Int] {
    let offset = target.count - source.count
    let st = strides(source)
    var s = [Int](repeating: 0, count: target.count)
    for k in source.indices where source[k] != 1 { s[k + offset] = st[k] }
    return stridedIndices(shape: target, strides: s, base: 0)
}

extension ONNXTensor.Values {
    /// The values at `indices`.
    func take(_ indices: [Int]) -> Self {
        switch self {
        case let .floating(v): .floating(indices.map { v[$0] })
        case let .integer(v): .integer(indices.map { v[$0] })
        case let .float32(v): .float32(indices.map { v[$0] })
        }
    }

    /// `self` followed by `other` (same kind).
    func appending(_ other: Self, node: NodeEvaluation) throws(ONNXError) -> Self {
        switch (self, other) {
        case let (.floating(a), .floating(b)): return .floating(a + b)
        case let (.integer(a), .integer(b)): return .integer(a + b)
        default: throw node.fail("inputs mix integer and floating-point types; expected one type")
        }
    }
}

import Foundation
import NTKLinearAlgebra
import Testing
@testable import NTKONNX

/// Builds a model from `nodes` over one float32 input `x` of declared shape `inputDims`, with
/// every node output that is not consumed as a graph output, and folds it at `batch`.
func fold(_ nodes: [Onnx_NodeProto], input inputDims: [Any] = ["batch", 3, 4], batch: Int = 5,
          initializers: [Onnx_TensorProto] = [], inputType: ONNXElementType = .float32) throws -> ONNXFoldedGraph {
    let consumed = Set(nodes.flatMap(\.input))
    let outputs = nodes.flatMap(\.output).filter { !consumed.contains($0) && !$0.isEmpty }
    let m = TestModels.model(
        nodes: nodes, inputs: [TestModels.value("x", inputType, inputDims)],
        outputs: outputs.map { TestModels.value($0, .float32, []) }, initializers: initializers)
    let model = try ONNXModel(data: TestModels.data(m))
    return try model.foldConstants(inputShapes: model.inputShapes(batchSize: batch))
}

func foldError(_ nodes: [Onnx_NodeProto], input inputDims: [Any] = ["batch", 3, 4]) -> ONNXError? {
    do { _ = try fold(nodes, input: inputDims) } catch let error as ONNXError { return error } catch { return nil }
    return nil
}

/// Shape propagation and constant folding of the integer subgraphs exporters emit.
@Suite("ONNX shape arithmetic folding")
struct ONNXConstantFoldingTests {
    typealias T = TestModels

    @Test func shapeGatherUnsqueezeConcatReshapeFoldsToTheConcreteShape() throws {
        let model = try ONNXModel(data: T.data(T.flattenByShape()))
        let shapes = try model.inputShapes(batchSize: 5)
        #expect(shapes == ["x": [5, 3, 4]])
        let folded = try model.foldConstants(inputShapes: shapes)
        #expect(folded.constants["shape"]?.integers == [5, 3, 4])
        #expect(folded.constants["batch"]?.integers == [5] && folded.constants["batch"]?.dims == [])
        #expect(folded.constants["batch1"]?.dims == [1])
        let newShape = try #require(folded.constants["new_shape"])
        #expect(newShape.integers == [5, 12] && newShape.dims == [2] && newShape.elementType == .int64)
        #expect(folded.constant(named: "new_shape") == newShape)
        #expect(folded.constant(named: "w")?.dims == [2, 12])
        #expect(folded.remainingNodes.map(\.opType) == ["Reshape", "Gemm"])
        #expect(folded.foldedNodeCount == 7)
        #expect(folded.shapes["flat"] == [5, 12])
        #expect(folded.shapes["y"] == [5, 2])
        #expect(folded.elementTypes["y"] == .float32)
        // Another batch size, another constant.
        #expect(try model.foldConstants(inputShapes: ["x": [9, 3, 4]]).constants["new_shape"]?.integers == [9, 12])
    }

    @Test func inputShapesAreCheckedAgainstTheDeclaration() throws {
        let model = try ONNXModel(data: T.data(T.flattenByShape()))
        #expect(onnxError { _ = try model.foldConstants(inputShapes: ["x": [5, 4, 4]]) }
            == .inputShape(input: "x", message: "dimension 1 is 4; the model fixes it to 3"))
        #expect(onnxError { _ = try model.foldConstants(inputShapes: ["x": [5, 12]]) }?.description
            == "onnx: graph input \"x\": shape [5, 12] has rank 2; expected rank 3 ([batch, 3, 4])")
        #expect(onnxError { _ = try model.foldConstants(inputShapes: [:]) }
            == .inputShape(input: "x", message: "no shape given; expected one for every graph input"))
        #expect(onnxError { _ = try model.foldConstants(inputShapes: ["x": [5, 3, 4], "z": [1]]) } != nil)
        var seq = T.flattenByShape()
        seq.graph.input[0] = T.value("x", .float32, ["batch", "seq", 4])
        seq.graph.node[5] = T.constant("rest", [1], [-1])
        let model2 = try ONNXModel(data: T.data(seq))
        #expect(onnxError { _ = try model2.inputShapes(batchSize: 2) }
            == .inputShape(input: "x", message: "dimension 1 is \"seq\"; expected its value in dimensions"))
        let folded = try model2.foldConstants(inputShapes: model2.inputShapes(batchSize: 2, dimensions: ["seq": 3]))
        #expect(folded.shapes["flat"] == [2, 12])
    }

    @Test func sliceCastArithmeticAndRange() throws {
        // seq = shape[1:2] (Slice), half = seq / 2, pos = Range(0, seq, 1), Cast to float, Mod, Sub, Mul.
        let folded = try fold([
            T.node("Shape", ["x"], ["s"]),
            T.constant("one", [1], [1]), T.constant("two", [1], [2]), T.constant("zero", [1], [0]),
            T.node("Slice", ["s", "one", "two", "zero"], ["seq"]),
            T.node("Div", ["seq", "two"], ["half"]),
            T.node("Mul", ["half", "seq"], ["prod"]),
            T.node("Sub", ["prod", "two"], ["diff"]),
            T.constant("neg", [], [-7]),
            T.node("Mod", ["neg", "two"], ["pymod"]),
            T.node("Mod", ["neg", "two"], ["cmod"], [T.attribute("fmod", int: 1)]),
            T.constant("s0", [], [0]), T.constant("d1", [], [1]),
            T.node("Squeeze", ["seq", "zero"], ["seqScalar"]),
            T.node("Range", ["s0", "seqScalar", "d1"], ["pos"]),
            T.node("Cast", ["pos"], ["posf"], [T.attribute("to", int: 1)]),
            T.node("Slice", ["s", "neg", "two"], ["head"]),  // start -7 clamps to 0
            T.constant("minus1", [1], [-1]), T.constant("big", [1], [Int64.min]),
            T.node("Slice", ["s", "minus1", "big", "zero", "minus1"], ["reversed"]),  // s[::-1]
        ], input: ["batch", 6, 4])
        #expect(folded.constants["seq"]?.integers == [6])
        #expect(folded.constants["half"]?.integers == [3])
        #expect(folded.constants["prod"]?.integers == [18])
        #expect(folded.constants["diff"]?.integers == [16])
        #expect(folded.constants["pymod"]?.integers == [1])  // Python's -7 % 2
        #expect(folded.constants["cmod"]?.integers == [-1])  // C's fmod
        #expect(folded.constants["seqScalar"]?.dims == [])
        #expect(folded.constants["pos"]?.integers == [0, 1, 2, 3, 4, 5])
        #expect(folded.constants["posf"]?.values == .floating([0, 1, 2, 3, 4, 5]) && folded.constants["posf"]?.elementType == .float32)
        #expect(folded.constants["head"]?.integers == [5, 6])
        #expect(folded.constants["reversed"]?.integers == [4, 6, 5])
        #expect(folded.remainingNodes.isEmpty)
    }

    @Test func constantOfShapeExpandEqualWhereAndTranspose() throws {
        var ones = T.tensor("", [1], int64: [1])
        ones.name = ""
        let folded = try fold([
            T.node("Shape", ["x"], ["s"]),
            T.node("ConstantOfShape", ["s"], ["filled"], [T.attribute("value", tensor: ones)]),
            T.constant("minus1", [3], [-1, 1, 1]),
            T.node("Equal", ["s", "minus1"], ["isNeg"]),
            T.node("Where", ["isNeg", "s", "minus1"], ["fixed"]),
            T.constant("row", [1, 3], [10, 20, 30]),
            T.constant("target", [2], [2, 3]),
            T.node("Expand", ["row", "target"], ["rows"]),
            T.node("Transpose", ["rows"], ["cols"], [T.attribute("perm", ints: [1, 0])]),
            T.constant("splitSizes", [2], [1, 2]),
            T.node("Split", ["row", "splitSizes"], ["first", "rest"], [T.attribute("axis", int: 1)]),
            T.node("ReduceProd", ["s"], ["numel"], [T.attribute("keepdims", int: 0)]),
        ], input: ["batch", 3, 4], batch: 2)
        let filled = try #require(folded.constants["filled"])
        #expect(filled.dims == [2, 3, 4] && filled.integers == [Int64](repeating: 1, count: 24))
        #expect(folded.constants["isNeg"]?.elementType == .bool && folded.constants["isNeg"]?.integers == [0, 0, 0])
        #expect(folded.constants["fixed"]?.integers == [-1, 1, 1])
        #expect(folded.constants["rows"]?.integers == [10, 20, 30, 10, 20, 30])
        #expect(folded.constants["cols"]?.dims == [3, 2] && folded.constants["cols"]?.integers == [10, 10, 20, 20, 30, 30])
        #expect(folded.constants["first"]?.integers == [10] && folded.constants["rest"]?.integers == [20, 30])
        #expect(folded.constants["rest"]?.dims == [1, 2])
        #expect(folded.constants["numel"]?.integers == [24] && folded.constants["numel"]?.dims == [])
    }

    @Test func gatherOfAnEmbeddingTableAndFloatConstants() throws {
        // Gather of float rows by constant indices folds; by a graph input it propagates shapes.
        let table = T.tensor("emb", [4, 2], float32: [0, 1, 2, 3, 4, 5, 6, 7], raw: true)
        let folded = try fold([
            T.constant("ids", [2], [3, -4]),
            T.node("Gather", ["emb", "ids"], ["rows"]),
            T.node("Gather", ["emb", "x"], ["embedded"]),
            T.node("Constant", [], ["scale"], [T.attribute("value_float", float: 4)]),
            T.node("Sqrt", ["scale"], ["root"]),
            T.node("Div", ["rows", "root"], ["scaled"]),
        ], input: ["batch", 7], initializers: [table], inputType: .int64)
        #expect(folded.constants["rows"]?.values == .floating([6, 7, 0, 1]) && folded.constants["rows"]?.dims == [2, 2])
        #expect(folded.constants["scaled"]?.values == .floating([3, 3.5, 0, 0.5]))
        #expect(folded.shapes["embedded"] == [5, 7, 2])
        #expect(folded.remainingNodes.map(\.opType) == ["Gather"])
    }

    @Test func convolutionPoolingAndDenseShapes() throws {
        // A ResNet stem on 1 × 3 × 32 × 32: conv 7×7/2 pad 3 → 16×16, max pool 3/2 pad 1 → 8×8.
        let w = T.tensor("w", [8, 3, 7, 7], float32: [Float](repeating: 0, count: 8 * 3 * 49), raw: true)
        let fc = T.tensor("fc", [10, 8], float32: [Float](repeating: 0, count: 80), raw: true)
        let folded = try fold([
            T.node("Conv", ["x", "w"], ["c"], [T.attribute("strides", ints: [2, 2]), T.attribute("pads", ints: [3, 3, 3, 3]),
                                              T.attribute("kernel_shape", ints: [7, 7])]),
            T.node("BatchNormalization", ["c", "w", "w", "w", "w"], ["bn"]),
            T.node("Relu", ["bn"], ["r"]),
            T.node("MaxPool", ["r"], ["p"], [T.attribute("kernel_shape", ints: [3, 3]), T.attribute("strides", ints: [2, 2]),
                                             T.attribute("pads", ints: [1, 1, 1, 1])]),
            T.node("MaxPool", ["r"], ["pc"], [T.attribute("kernel_shape", ints: [2, 2]), T.attribute("strides", ints: [3, 3]),
                                              T.attribute("ceil_mode", int: 1)]),
            T.node("Add", ["p", "p"], ["sum"]),
            T.node("GlobalAveragePool", ["sum"], ["g"]),
            T.node("Flatten", ["g"], ["f"]),
            T.node("Gemm", ["f", "fc"], ["y"], [T.attribute("transB", int: 1)]),
            T.node("MatMul", ["f", "w8"], ["m"]),
            T.node("Softmax", ["y"], ["probabilities"], [T.attribute("axis", int: -1)]),
            T.node("LayerNormalization", ["sum", "fc"], ["ln"], [T.attribute("axis", int: -1)]),
        ], input: ["batch", 3, 32, 32], batch: 1,
           initializers: [w, fc, T.tensor("w8", [8, 5], float32: [Float](repeating: 0, count: 40), raw: true)])
        #expect(folded.shapes["c"] == [1, 8, 16, 16])
        #expect(folded.shapes["p"] == [1, 8, 8, 8])
        #expect(folded.shapes["pc"] == [1, 8, 6, 6])  // ceil((16 - 2) / 3) + 1
        #expect(folded.shapes["g"] == [1, 8, 1, 1])
        #expect(folded.shapes["f"] == [1, 8])
        #expect(folded.shapes["y"] == [1, 10])
        #expect(folded.shapes["m"] == [1, 5])
        #expect(folded.shapes["probabilities"] == [1, 10])
        #expect(folded.shapes["ln"] == [1, 8, 8, 8])
        #expect(folded.remainingNodes.count == 12)
    }

    @Test func inconsistentShapesAndImpossibleArithmeticAreErrors() throws {
        let divZero = foldError([T.node("Shape", ["x"], ["s"]), T.constant("z", [1], [0]), T.node("Div", ["s", "z"], ["q"])])
        #expect(divZero == .invalidNode(node: "\"/q/Div\" (Div)", message: "integer division by zero"))
        let outOfRange = foldError([T.node("Shape", ["x"], ["s"]), T.constant("i", [], [3]), T.node("Gather", ["s", "i"], ["g"])])
        #expect(outOfRange?.description == "onnx: node \"/g/Gather\" (Gather): index 3 is out of range for dimension 0 of size 3")
        let overflow = foldError([T.constant("a", [], [Int64.max]), T.constant("b", [], [2]), T.node("Mul", ["a", "b"], ["c"])])
        #expect(overflow?.description.contains("overflows int64") == true)
        let badReshape = foldError([T.constant("shape", [2], [5, 5]), T.node("Reshape", ["x", "shape"], ["r"])])
        #expect(badReshape == .invalidNode(node: "\"/r/Reshape\" (Reshape)", message: "cannot reshape [5, 3, 4] (60 elements) to [5, 5] (25 elements)"))
        let broadcast = foldError([T.constant("v", [2], [1, 2]), T.node("Add", ["x", "v"], ["s"])])
        #expect(broadcast?.description.contains("do not broadcast") == true)
        let hugeRange = foldError([T.constant("a", [], [0]), T.constant("b", [], [Int64.max]), T.constant("d", [], [1]),
                                   T.node("Range", ["a", "b", "d"], ["r"])])
        #expect(hugeRange == nil)  // too large to fold: left to run time, not an error
        let negativeRange = foldError([T.constant("a", [], [Int64.max]), T.constant("b", [], [Int64.min]), T.constant("d", [], [1]),
                                       T.node("Range", ["a", "b", "d"], ["r"])])
        #expect(negativeRange == nil)  // empty
        let hugeStep = try fold([T.node("Shape", ["x"], ["s"]), T.constant("a", [1], [0]), T.constant("b", [1], [10]),
                                 T.constant("axis", [1], [0]), T.constant("step", [1], [Int64.max]),
                                 T.node("Slice", ["s", "a", "b", "axis", "step"], ["first"])])
        #expect(hugeStep.constants["first"]?.integers == [5])
        let w = T.tensor("w", [2, 3, 1, 1], float32: [Float](repeating: 0, count: 6), raw: true)
        let m = T.model(nodes: [T.node("Conv", ["x", "w"], ["c"], [T.attribute("pads", ints: [Int64(Int32.max), 0, Int64(Int32.max), 0])])],
                        inputs: [T.value("x", .float32, [1, 3, Int.max, 1])], outputs: [T.value("c", .float32, [])], initializers: [w])
        let hugeConv = try ONNXModel(data: T.data(m))
        #expect(onnxError { _ = try hugeConv.foldConstants(inputShapes: ["x": [1, 3, Int.max, 1]]) }?.description.contains("beyond 2^56") == true)
        let zeroStep = foldError([T.constant("a", [], [0]), T.constant("b", [], [3]), T.constant("d", [], [0]),
                                  T.node("Range", ["a", "b", "d"], ["r"])])
        #expect(zeroStep?.description == "onnx: node \"/r/Range\" (Range): delta is 0; expected a non-zero step")
    }

    @Test func foldingStopsAtTheElementLimit() throws {
        let m = T.model(
            nodes: [T.node("Shape", ["x"], ["s"]), T.node("ConstantOfShape", ["s"], ["zeros"])],
            inputs: [T.value("x", .float32, ["batch", 1000, 1000])], outputs: [T.value("zeros", .float32, [])])
        let model = try ONNXModel(data: T.data(m))
        let folded = try model.foldConstants(inputShapes: ["x": [4, 1000, 1000]], maximumFoldedElements: 1 << 20)
        #expect(folded.constants["s"]?.integers == [4, 1000, 1000])
        #expect(folded.constants["zeros"] == nil)
        #expect(folded.shapes["zeros"] == [4, 1000, 1000])
        #expect(folded.remainingNodes.map(\.opType) == ["ConstantOfShape"])
        let absurd = try model.foldConstants(inputShapes: ["x": [1 << 40, 1000, 1000]])
        #expect(absurd.constants["zeros"] == nil)
    }

    @Test func unknownOpsAndDomainsLeaveOutputsUnknown() throws {
        var custom = T.node("FancyOp", ["x"], ["f"])
        custom.domain = "com.example"
        let folded = try fold([custom, T.node("NonZero", ["x"], ["nz"]), T.node("Relu", ["f"], ["r"])])
        #expect(folded.shapes["f"] == nil && folded.shapes["nz"] == nil && folded.shapes["r"] == nil)
        #expect(folded.remainingNodes.count == 3)
    }
}

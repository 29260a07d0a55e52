import Foundation
import NTKLinearAlgebra
import Testing
@testable import NTKONNX

/// Reading valid models: opsets, inputs, outputs, initializers in every storage, nodes in order.
@Suite("ONNX reader")
struct ONNXModelTests {
    @Test func readsATwoLayerMLP() throws {
        let model = try ONNXModel(data: TestModels.data(TestModels.mlp()))
        #expect(model.opsetVersion == 17)
        #expect(model.opsetImports == ["": 17])
        #expect(model.irVersion == 8)
        #expect(model.producerName == "pytorch")
        #expect(model.inputs == [ONNXValueInfo(name: "x", elementType: .float32, shape: [.symbolic("batch_size"), .fixed(4)])])
        #expect(model.outputs == [ONNXValueInfo(name: "y", elementType: .float64, shape: [.symbolic("batch_size"), .fixed(2)])])
        #expect(model.initializers.map(\.name) == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"])

        // float32 raw_data and float_data, float64 raw_data and double_data: the same values.
        let w1 = try #require(model.initializer(named: "fc1.weight"))
        #expect(w1.elementType == .float32 && w1.dims == [3, 4])
        #expect(w1.doubles == TestModels.w1.map(Double.init))
        #expect(model.initializer(named: "fc1.bias")?.doubles == TestModels.b1.map(Double.init))
        let w2 = try #require(model.initializer(named: "fc2.weight"))
        #expect(w2.elementType == .float64 && w2.dims == [2, 3] && w2.doubles == TestModels.w2)
        #expect(model.initializer(named: "fc2.bias")?.values == .floating(TestModels.b2))
        #expect(w2.integers == nil)

        // Nodes were written fc2, fc1, relu: sorted by data flow.
        #expect(model.nodes.map(\.name) == ["/fc1/Gemm", "/act/Relu", "/fc2/Gemm"])
        let fc1 = model.nodes[0]
        #expect(fc1.opType == "Gemm" && fc1.domain == "" && fc1.inputs == ["x", "fc1.weight", "fc1.bias"] && fc1.outputs == ["h"])
        #expect(fc1.attributes["transB"] == .int(1))
        #expect(fc1.attributes["alpha"]?.float == 1)
    }

    @Test func aSortedGraphKeepsItsOrder() throws {
        let model = try ONNXModel(data: TestModels.data(TestModels.flattenByShape()))
        let written = TestModels.flattenByShape().graph.node.map(\.name)
        #expect(model.nodes.map(\.name) == written)
    }

    @Test func integerInitializersInBothStoragesAndAttributeKinds() throws {
        var m = TestModels.flattenByShape()
        m.graph.initializer.append(TestModels.tensor("raw_ints", [2], int64: [7, -3], raw: true))
        m.graph.initializer.append(TestModels.tensor("typed_ints", [3], int64: [1, 2, 3], raw: false))
        var i32 = Onnx_TensorProto()
        i32.name = "i32"
        i32.dataType = Int32(ONNXElementType.int32.dataType)
        i32.dims = [2]
        i32.int32Data = [5, -6]
        m.graph.initializer.append(i32)
        var bool = Onnx_TensorProto()
        bool.name = "mask"
        bool.dataType = Int32(ONNXElementType.bool.dataType)
        bool.dims = [3]
        bool.rawData = Data([1, 0, 1])
        m.graph.initializer.append(bool)
        m.graph.node[0].attribute = [TestModels.attribute("mode", string: "constant"), TestModels.attribute("axes", ints: [0, -1])]
        let model = try ONNXModel(data: TestModels.data(m))
        #expect(model.initializer(named: "raw_ints")?.integers == [7, -3])
        #expect(model.initializer(named: "typed_ints")?.integers == [1, 2, 3])
        #expect(model.initializer(named: "i32")?.integers == [5, -6])
        #expect(model.initializer(named: "i32")?.elementType == .int32)
        #expect(model.initializer(named: "mask")?.integers == [1, 0, 1])
        #expect(model.nodes[0].attributes["mode"] == .string("constant"))
        #expect(model.nodes[0].attributes["axes"]?.ints == [0, -1])
        #expect(model.nodes[1].attributes["value"]?.tensor?.integers == [0])
    }

    @Test func initializersListedAsInputsAreNotCallerInputs() throws {
        var m = TestModels.mlp()
        m.graph.input.append(TestModels.value("fc1.weight", .float32, [3, 4]))  // IR < 4 style
        let model = try ONNXModel(data: TestModels.data(m))
        #expect(model.inputs.map(\.name) == ["x"])
    }

    @Test func readsFromAFile() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("ntk-onnx-\(UUID().uuidString).onnx")
        try TestModels.data(TestModels.mlp()).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        #expect(try ONNXModel(contentsOf: url).nodes.count == 3)
        let missing = URL(fileURLWithPath: "/nonexistent/model.onnx")
        #expect(throws: ONNXError.self) { try ONNXModel(contentsOf: missing) }
        do { _ = try ONNXModel(contentsOf: missing) } catch {
            #expect(error.description.hasPrefix("onnx: /nonexistent/model.onnx: "))
        }
    }

    /// A real export, when one is given (ONNX_TEST_MODEL=path): read and folded without error.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["ONNX_TEST_MODEL"] != nil))
    func readsAnExportedModel() throws {
        let paths = ProcessInfo.processInfo.environment["ONNX_TEST_MODEL"]!.split(separator: ":")
        for path in paths {
            let model = try ONNXModel(contentsOf: URL(fileURLWithPath: String(path)))
            var dims: [String: Int] = [:]
            for pair in (ProcessInfo.processInfo.environment["ONNX_TEST_DIMS"] ?? "").split(separator: ",") {
                let p = pair.split(separator: "=")
                if p.count == 2, let n = Int(p[1]) { dims[String(p[0])] = n }
            }
            let folded = try model.foldConstants(inputShapes: model.inputShapes(batchSize: 3, dimensions: dims))
            let ops = Dictionary(grouping: folded.remainingNodes, by: { $0.opType }).mapValues { $0.count }
            print("\(path): opset \(model.opsetVersion), \(model.nodes.count) nodes, folded \(folded.foldedNodeCount), remaining \(ops.sorted { $0.key < $1.key })")
            for output in model.outputs { print("  output \(output.name): \(folded.shapes[output.name].map { "\($0)" } ?? "unknown shape")") }
        }
    }

    /// Writes the test models as the fuzzer's seed corpus (ONNX_WRITE_CORPUS=Fuzz/corpus/onnx).
    @Test(.enabled(if: ProcessInfo.processInfo.environment["ONNX_WRITE_CORPUS"] != nil))
    func writesTheFuzzCorpus() throws {
        let directory = URL(fileURLWithPath: ProcessInfo.processInfo.environment["ONNX_WRITE_CORPUS"]!)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try TestModels.data(TestModels.mlp()).write(to: directory.appendingPathComponent("mlp.onnx"))
        try TestModels.data(TestModels.flattenByShape()).write(to: directory.appendingPathComponent("flatten-by-shape.onnx"))
    }
}

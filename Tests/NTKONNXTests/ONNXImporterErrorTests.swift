import Foundation
import NTKLinearAlgebra
import NTKNetworks
import Testing
@testable import NTKONNX
import NTKFormats

/// What the importer refuses, each with one line naming the node (op type and name) and what
/// was expected; and `--weights` replacing initializers by name.
@Suite("ONNX importer errors and weights")
struct ONNXImporterErrorTests {
    typealias T = TestModels

    func importError(_ model: Onnx_ModelProto) -> String? {
        do {
            _ = try ONNXImporter.network(ONNXModel(data: T.data(model)), as: Double.self)
            return nil
        } catch { return "\(error)" }
    }

    /// x [batch, 4] → Gemm(fc1) → `op` → Gemm(fc2) → y, with extra nodes or initializers.
    func mlp(_ middle: [Onnx_NodeProto], input: [Any] = ["batch", 4], extra: [Onnx_TensorProto] = [],
             secondWeight: String = "fc2.weight") -> Onnx_ModelProto {
        T.model(
            nodes: [T.node("Gemm", ["x", "fc1.weight", "fc1.bias"], ["h"], name: "/fc1/Gemm", [T.attribute("transB", int: 1)])]
                + middle
                + [T.node("Gemm", ["a", secondWeight, "fc2.bias"], ["y"], name: "/fc2/Gemm", [T.attribute("transB", int: 1)])],
            inputs: [T.value("x", .float64, input)], outputs: [T.value("y", .float64, ["batch", 2])],
            initializers: [
                T.tensor("fc1.weight", [3, 4], float64: (0..<12).map { Double($0) / 10 }, raw: true),
                T.tensor("fc1.bias", [3], float64: [0.1, 0.2, 0.3], raw: true),
                T.tensor("fc2.weight", [2, 3], float64: [1, 2, 3, 4, 5, 6], raw: true),
                T.tensor("fc2.bias", [2], float64: [0, 1], raw: true),
            ] + extra)
    }

    @Test func aSupportedChainImports() throws {
        let imported = try ONNXImporter.network(ONNXModel(data: T.data(mlp([T.node("Tanh", ["h"], ["a"])]))), as: Double.self)
        #expect(imported.parameterCount == 12 + 3 + 6 + 2)
        #expect(imported.layerSources == ["Gemm /fc1/Gemm", "Tanh /a/Tanh", "Gemm /fc2/Gemm"])
    }

    @Test func unsupportedOperatorNamesTheNodeAndTheSupportedSet() {
        let message = importError(mlp([T.node("HardSwish", ["h"], ["a"], name: "/act/HardSwish")]))
        #expect(message?.contains("/act/HardSwish") == true)
        #expect(message?.contains("HardSwish") == true && message?.contains("expected one of") == true)
        #expect(message?.contains("\n") == false)
    }

    @Test func weightSharingIsRefused() {
        // fc1.weight [3, 4] is also used (transposed view) by a second Gemm: two owners.
        let shared = T.model(
            nodes: [
                T.node("Gemm", ["x", "w", "b"], ["h"], name: "/a/Gemm", [T.attribute("transB", int: 1)]),
                T.node("Gemm", ["h", "w"], ["y"], name: "/b/Gemm"),
            ],
            inputs: [T.value("x", .float64, ["batch", 3])], outputs: [T.value("y", .float64, ["batch", 3])],
            initializers: [T.tensor("w", [3, 3], float64: Array(repeating: 0.5, count: 9), raw: true),
                           T.tensor("b", [3], float64: [0, 0, 0], raw: true)])
        let message = importError(shared)
        #expect(message?.contains("/b/Gemm") == true && message?.contains("weight sharing") == true)
    }

    @Test func fixedBatchIsRefused() {
        let message = importError(mlp([T.node("Tanh", ["h"], ["a"])], input: [1, 4]))
        #expect(message?.contains("fixed to 1") == true && message?.contains("dynamic") == true)
    }

    @Test func trainingModeBatchNormIsRefused() {
        let model = T.model(
            nodes: [T.node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], name: "/bn/BatchNormalization",
                           [T.attribute("training_mode", int: 1)])],
            inputs: [T.value("x", .float64, ["batch", 2])], outputs: [T.value("y", .float64, ["batch", 2])],
            initializers: [T.tensor("s", [2], float64: [1, 1], raw: true), T.tensor("b", [2], float64: [0, 0], raw: true),
                           T.tensor("m", [2], float64: [0, 0], raw: true), T.tensor("v", [2], float64: [1, 1], raw: true)])
        #expect(importError(model)?.contains("training mode") == true)
    }

    @Test func constantDividedByActivationAndBatchMixingAreRefused() {
        let divide = mlp([T.node("Constant", [], ["c"], [T.attribute("value", tensor: T.tensor("", [], float64: [2], raw: true))]),
                          T.node("Div", ["c", "h"], ["a"], name: "/div/Div")])
        #expect(importError(divide)?.contains("/div/Div") == true)
        // Reshape [batch, 3] → [3, batch]: examples interleave.
        let mix = mlp([T.constant("shape", [2], [3, -1]), T.node("Reshape", ["h", "shape"], ["r"], name: "/mix/Reshape"),
                       T.constant("shape2", [2], [-1, 3]), T.node("Reshape", ["r", "shape2"], ["a"])])
        let message = importError(mix)
        #expect(message?.contains("/mix/Reshape") == true && message?.contains("mixes examples") == true)
    }

    @Test func weightsReplaceInitializersByName() throws {
        let model = try ONNXModel(data: T.data(mlp([T.node("Tanh", ["h"], ["a"])])))
        var imported = try ONNXImporter.network(model, as: Double.self)
        let before = imported.network.parameters
        let file = try Safetensors(data: Safetensors.encode([(name: "fc2.weight", shape: [2, 3], values: [6.0, 5, 4, 3, 2, 1])], dtype: .f64))
        try imported.loadWeights(from: file)
        let w2 = imported.network.parameterTensors.first { $0.name == "2.weight" }!
        #expect(Array(imported.network.parameters[w2.offset..<(w2.offset + 6)]) == [6, 5, 4, 3, 2, 1])
        #expect(imported.network.parameters[..<15] == before[..<15])   // fc1 kept its ONNX values
        let unknown = try Safetensors(data: Safetensors.encode([(name: "fc9.weight", shape: [1], values: [1.0])], dtype: .f64))
        #expect(throws: SafetensorsError.self) { try imported.loadWeights(from: unknown) }
        let wrongShape = try Safetensors(data: Safetensors.encode([(name: "fc2.weight", shape: [3, 2], values: [1.0, 2, 3, 4, 5, 6])], dtype: .f64))
        #expect(throws: SafetensorsError.self) { try imported.loadWeights(from: wrongShape) }
    }
}

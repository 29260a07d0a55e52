import Foundation
import NTKLinearAlgebra
import NTKNetworks
import NTKSpectra
import Testing
@testable import NTKONNX
import NTKFormats

/// Models exported from PyTorch (`Fixtures/make_fixtures.py`: both exporters, float64, evaluation
/// mode) imported and checked against PyTorch itself: the parameter count against
/// `sum(p.numel())`, the outputs against the module's outputs, and the exact NTK's trace and
/// entropy against an independent float64 `torch.func` kernel.
@Suite("ONNX import of PyTorch models")
struct ONNXImportTests {
    init() throws { try BLASThreads.set(1) }

    static let fixtures = ["mlp_dropout", "resnet_small", "densenet_block", "transformer_tiny"]
    static let files = fixtures.flatMap { [$0, $0 + "_dynamo"] }
    /// The same modules exported at the ends of the supported opset range (13 and 20).
    static let opsetFiles = fixtures.flatMap { name in
        ["torchscript13", "torchscript20", "dynamo20"].filter { !(name == "transformer_tiny" && $0 == "torchscript13") }
            .map { "opsets/\(name)_\($0)" }
    }

    struct Reference {
        var parameterCount: Int
        var trace: Double
        var entropy: Double
        var outputs: [Double]
        var inputs: NPYArray
    }

    static func fixture(_ name: String) throws -> URL {
        try #require(Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil))
    }

    static func reference(_ file: String) throws -> Reference {
        let name = file.split(separator: "/").last.map(String.init) ?? file
        let base = fixtures.first { name.hasPrefix($0) } ?? name
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: fixture("\(base)_reference.json"))) as! [String: Any]
        let outputs = (json["outputs"] as! [[Double]]).flatMap { $0 }
        return Reference(
            parameterCount: json["parameter_count"] as! Int, trace: json["trace"] as! Double,
            entropy: json["entropy"] as! Double, outputs: outputs,
            inputs: try NPY.read(fixture("\(base)_inputs.npy")))
    }

    static func load(_ file: String) throws -> ONNXImport<Double> {
        try ONNXImporter.network(ONNXModel(contentsOf: fixture("\(file).onnx")), as: Double.self)
    }

    static func inputs(_ reference: Reference) throws -> Matrix<Double> {
        let n = reference.inputs.shape[0]
        return try Matrix(rows: n, columns: reference.inputs.values.count / n, storage: reference.inputs.values)
    }

    @Test(arguments: files + opsetFiles)
    func parametersAndOutputsMatchPyTorch(file: String) throws {
        let imported = try Self.load(file)
        let reference = try Self.reference(file)
        #expect(imported.parameterCount == reference.parameterCount, "\(file): \(imported.parameterInitializers)")
        let outputs = try imported.network.forward(Self.inputs(reference)).storage
        #expect(outputs.count == reference.outputs.count)
        let scale = reference.outputs.map(abs).max() ?? 1
        let error = zip(outputs, reference.outputs).map { abs($0 - $1) }.max() ?? .infinity
        #expect(error <= 1e-12 * max(scale, 1), "\(file): max |Δ output| = \(error)")
    }

    @Test(arguments: files + opsetFiles)
    func exactNTKMatchesTorchFunc(file: String) throws {
        let imported = try Self.load(file)
        let reference = try Self.reference(file)
        let result = try ExactNTK().spectrum(network: imported.network, inputs: Self.inputs(reference))
        let trace = result.statistics.trace, entropy = result.statistics.entropy
        #expect(abs(trace - reference.trace) <= 1e-9 * reference.trace, "\(file): trace \(trace) vs \(reference.trace)")
        #expect(abs(entropy - reference.entropy) <= 1e-9 * reference.entropy, "\(file): entropy \(entropy) vs \(reference.entropy)")
    }

    /// The structured operator's per-layer rules apply to imported graphs: its products equal
    /// JVP∘VJP's, and it does not fall back.
    @Test(arguments: ["resnet_small", "transformer_tiny", "densenet_block_dynamo"])
    func structuredOperatorRunsOnImportedGraphs(file: String) throws {
        let imported = try Self.load(file)
        let x = try Self.inputs(Self.reference(file))
        let structured = try StructuredNTK(network: imported.network, inputs: x, kind: .full, batchSize: 4)
        #expect(structured.plan.storage != .fallbackJVPVJP)
        let empirical = try EmpiricalNTK(network: imported.network, inputs: x, kind: .full, batchSize: 4)
        var g = SeededGenerator(seed: 3)
        let v = try Matrix(rows: 2, columns: structured.dimension, storage: [Double].gaussian(count: 2 * structured.dimension, using: &g))
        var u1 = Matrix<Double>(rows: 2, columns: structured.dimension), u2 = u1
        try structured.apply(v, into: &u1)
        try empirical.apply(v, into: &u2)
        let scale = u2.storage.map(abs).max() ?? 1
        let error = zip(u1.storage, u2.storage).map { abs($0 - $1) }.max() ?? .infinity
        #expect(error <= 1e-12 * scale, "\(file): structured vs JVP∘VJP \(error)")
    }

    @Test func floatImportAgreesWithDouble() throws {
        let model = try ONNXModel(contentsOf: Self.fixture("resnet_small.onnx"))
        let single = try ONNXImporter.network(model, as: Float.self).network
        let double = try ONNXImporter.network(model, as: Double.self).network
        let x = try Self.inputs(Self.reference("resnet_small"))
        let y1 = try single.forward(Matrix(rows: x.rows, columns: x.columns, storage: x.storage.map(Float.init))).storage
        let y2 = try double.forward(x).storage
        for (a, b) in zip(y1, y2) { #expect(abs(Double(a) - b) <= 1e-5 * max(1, abs(b))) }
    }
}

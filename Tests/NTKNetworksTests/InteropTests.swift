import Foundation
import NTKLinearAlgebra
import Testing

@testable import NTKNetworks
import NTKFormats

/// PyTorch interop: specs and state_dict-named safetensors written by Fixtures/make_fixtures.py,
/// whose expected outputs come from an independent numpy forward pass.
@Suite("Interop: ModelSpec + safetensors fixtures")
struct InteropTests {
    static func fixture(_ name: String, _ ext: String) throws -> URL {
        try #require(Bundle.module.url(forResource: name, withExtension: ext, subdirectory: "Fixtures"))
    }

    /// Builds the fixture model in `Scalar`, loads its weights, and compares the forward pass with
    /// numpy's outputs: Double to 1e-12 relative (a few dozen roundings of O(1) values, ≈ 50ε
    /// with margin), Float to 1e-5 relative (≈ 80 ε_float).
    func reproduce<Scalar: BLASScalar>(_ name: String, _: Scalar.Type, tolerance: Double) throws {
        try BLASThreads.set(1)
        let spec = try ModelSpec.decode(json: Data(contentsOf: Self.fixture(name, "json")))
        var network: Network<Scalar> = try spec.makeNetwork(seed: 99)
        try network.loadParameters(contentsOf: Self.fixture(name, "safetensors"))
        let io = try Safetensors(contentsOf: Self.fixture("\(name)_io", "safetensors"))
        let inputs: [Scalar] = try io.values("inputs")
        let expected: [Double] = try io.values("outputs")
        let b = try #require(io.entries["inputs"]?.shape.first)
        #expect(io.entries["inputs"]?.shape.dropFirst().reduce(1, *) == network.inputSize)
        let outputs = try network.forward(Matrix(rows: b, columns: network.inputSize, storage: inputs))
        #expect(outputs.storage.count == expected.count)
        let scale = expected.reduce(0) { max($0, abs($1)) }
        let error = zip(outputs.storage, expected).reduce(0) { max($0, abs(Double($1.0) - $1.1)) }
        #expect(error <= tolerance * scale, "\(name) \(Scalar.precisionName): ‖Δ‖∞ = \(error)")
    }

    @Test func mlpFixtureDouble() throws { try reproduce("mlp", Double.self, tolerance: 1e-12) }
    @Test func mlpFixtureFloat() throws { try reproduce("mlp", Float.self, tolerance: 1e-5) }
    @Test func cnnFixtureDouble() throws { try reproduce("cnn", Double.self, tolerance: 1e-12) }
    @Test func cnnFixtureFloat() throws { try reproduce("cnn", Float.self, tolerance: 1e-5) }

    @Test func stateDictNames() throws {
        let spec = try ModelSpec.decode(json: Data(contentsOf: Self.fixture("cnn", "json")))
        let network: Network<Double> = try spec.makeNetwork()
        #expect(network.parameterTensors.map(\.name) == [
            "0.weight", "0.bias", "3.layers.0.weight", "3.layers.0.bias", "4.weight", "4.bias", "7.weight", "7.bias",
        ])
        #expect(network.parameterTensors[2].shape == [3, 3, 3, 3])
        #expect(network.parameterTensors[6].shape == [3, 16])
    }

    @Test func saveLoadRoundTrip() throws {
        let source: Network<Double> = try ModelSpec.cnn(inputShape: [1, 4, 4], channels: [2], outputSize: 3).makeNetwork(seed: 5)
        var target: Network<Double> = try ModelSpec.cnn(inputShape: [1, 4, 4], channels: [2], outputSize: 3).makeNetwork(seed: 6)
        // F64 serialization is lossless: bit-identical parameters.
        try target.loadParameters(from: Safetensors(data: source.safetensorsData(dtype: .f64, metadata: ["format": "pt"])))
        #expect(target.parameters == source.parameters)
        // F32: each value rounds once, |Δ| ≤ ε_float/2 · |θ|.
        var rounded = target
        rounded.initializeParameters(seed: 7)
        let file = try Safetensors(data: source.safetensorsData(dtype: .f32))
        try rounded.loadParameters(from: file)
        for (a, b) in zip(rounded.parameters, source.parameters) {
            #expect(abs(a - b) <= Double(Float.ulpOfOne) / 2 * abs(b))
        }
        // A file written to disk reads back.
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("ntknetworks-\(UInt64.random(in: 0...UInt64.max)).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try source.saveParameters(to: url, dtype: .f64)
        var fromDisk = target
        fromDisk.initializeParameters(seed: 8)
        try fromDisk.loadParameters(contentsOf: url)
        #expect(fromDisk.parameters == source.parameters)
    }
}

/// One test per safetensors failure mode; each checks the typed error and the tensor it names.
@Suite("Safetensors errors")
struct SafetensorsErrorTests {
    static let spec = ModelSpec(inputShape: [3], layers: [.linear(inFeatures: 3, outFeatures: 2)])

    /// A file with a hand-written JSON header and raw data bytes.
    static func raw(header: String, data: [UInt8] = [], lengthOverride: UInt64? = nil) -> Data {
        var out = Data()
        let json = Data(header.utf8)
        withUnsafeBytes(of: (lengthOverride ?? UInt64(json.count)).littleEndian) { out.append(contentsOf: $0) }
        out.append(json)
        out.append(contentsOf: data)
        return out
    }

    static func file(weight: [Double], weightShape: [Int] = [2, 3], bias: [Double]? = [0.5, -0.5], extra: Bool = false) throws -> Data {
        var tensors: [(name: String, shape: [Int], values: [Double])] = [("0.weight", weightShape, weight)]
        if let bias { tensors.append(("0.bias", [2], bias)) }
        if extra { tensors.append(("1.weight", [1], [1])) }
        return try Safetensors.encode(tensors, dtype: .f64)
    }

    func load(_ data: Data, strict: Bool = true) throws(SafetensorsError) {
        var network: Network<Double>
        do { network = try Self.spec.makeNetwork() } catch { fatalError("spec is valid") }
        try network.loadParameters(from: Safetensors(data: data), strict: strict)
    }

    @Test func validFileLoads() throws {
        var network: Network<Float> = try Self.spec.makeNetwork()
        try network.loadParameters(from: Safetensors(data: Self.file(weight: [1, 2, 3, 4, 5, 6])))
        #expect(network.parameters == [1, 2, 3, 4, 5, 6, 0.5, -0.5])
    }

    @Test func missingTensor() throws {
        let data = try Self.file(weight: [1, 2, 3, 4, 5, 6], bias: nil)
        #expect(throws: SafetensorsError.missingTensor(name: "0.bias", expectedShape: [2])) { try load(data) }
    }

    @Test func wrongShape() throws {
        let data = try Self.file(weight: [1, 2, 3, 4, 5, 6], weightShape: [3, 2])
        #expect(throws: SafetensorsError.shapeMismatch(name: "0.weight", expected: [2, 3], got: [3, 2])) { try load(data) }
    }

    @Test func wrongDType() throws {
        let header = #"{"0.bias":{"dtype":"F64","shape":[2],"data_offsets":[0,16]},"0.weight":{"dtype":"I64","shape":[2,3],"data_offsets":[16,64]}}"#
        let data = Self.raw(header: header, data: [UInt8](repeating: 0, count: 64))
        #expect(throws: SafetensorsError.unsupportedDType(name: "0.weight", dtype: "I64")) { try load(data) }
    }

    @Test func truncatedFile() throws {
        #expect(throws: SafetensorsError.truncated(what: "header length prefix", expected: 8, got: 5)) {
            try load(Data([1, 2, 3, 4, 5]))
        }
        // Cut inside the data section: the last tensor's range no longer fits.
        let full = try Self.file(weight: [1, 2, 3, 4, 5, 6])
        let cut = full.prefix(full.count - 4)
        #expect {
            try load(Data(cut))
        } throws: { error in
            guard case let .dataOutOfBounds(tensor, _, _, _)? = error as? SafetensorsError else { return false }
            return tensor == "0.weight" || tensor == "0.bias"
        }
    }

    @Test func headerOutOfBounds() throws {
        let data = Self.raw(header: "{}", lengthOverride: 1_000_000)
        #expect(throws: SafetensorsError.headerOutOfBounds(headerLength: 1_000_000, available: 2)) { try load(data) }
    }

    @Test func corruptHeader() throws {
        #expect(throws: SafetensorsError.corruptHeader("the 9-byte header is not valid JSON")) {
            try load(Self.raw(header: "{not json"))
        }
        let badOffsets = #"{"0.weight":{"dtype":"F64","shape":[2,3],"data_offsets":[0]}}"#
        #expect(throws: SafetensorsError.invalidEntry(tensor: "0.weight", message: "\"data_offsets\" must be [begin, end]")) {
            try load(Self.raw(header: badOffsets, data: [UInt8](repeating: 0, count: 48)))
        }
    }

    @Test func dataSizeDisagreesWithShape() throws {
        let header = #"{"0.weight":{"dtype":"F64","shape":[2,3],"data_offsets":[0,40]}}"#
        #expect(throws: SafetensorsError.dataOutOfBounds(tensor: "0.weight", begin: 0, end: 40, dataSize: 48)) {
            try load(Self.raw(header: header, data: [UInt8](repeating: 0, count: 48)))
        }
    }

    @Test func nonFiniteWeights() throws {
        let data = try Self.file(weight: [1, 2, .nan, 4, 5, 6])
        #expect(throws: SafetensorsError.nonFinite(name: "0.weight")) { try load(data) }
        let inf = try Self.file(weight: [1, 2, 3, 4, 5, 6], bias: [.infinity, 0])
        #expect(throws: SafetensorsError.nonFinite(name: "0.bias")) { try load(inf) }
    }

    @Test func unexpectedTensorWhenStrict() throws {
        let data = try Self.file(weight: [1, 2, 3, 4, 5, 6], extra: true)
        #expect(throws: SafetensorsError.unexpectedTensor(name: "1.weight")) { try load(data) }
        try load(data, strict: false)
    }

    @Test func failedLoadLeavesParametersUnchanged() throws {
        var network: Network<Double> = try Self.spec.makeNetwork(seed: 3)
        let before = network.parameters
        let data = try Self.file(weight: [1, 2, 3, 4, 5, 6], bias: [.nan, 0])
        #expect(throws: SafetensorsError.self) { try network.loadParameters(from: Safetensors(data: data)) }
        #expect(network.parameters == before)
    }

    @Test func errorMessagesNameTheTensor() {
        #expect(SafetensorsError.missingTensor(name: "3.layers.0.weight", expectedShape: [3, 3, 3, 3]).description.contains("3.layers.0.weight"))
        #expect(SafetensorsError.shapeMismatch(name: "0.weight", expected: [2, 3], got: [3, 2]).description.contains("expected [2, 3]"))
    }
}

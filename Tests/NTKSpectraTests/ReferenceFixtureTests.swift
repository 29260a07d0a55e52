import Foundation
import NTKLinearAlgebra
import NTKNetworks
import Testing
@testable import NTKSpectra
import NTKFormats

/// Networks exported in PyTorch's state_dict layout (spec + safetensors + npy) with NTK
/// spectra computed independently by JAX (float64 jacrev) and numpy.linalg.eigvalsh
/// (Fixtures/make_ntk_fixtures.py). The exact path must agree to 1e-8 relative.
@Suite("Exact path against an independent JAX/numpy reference")
struct ReferenceFixtureTests {
    init() throws { try BLASThreads.set(1) }

    struct Reference: Decodable {
        struct Stats: Decodable { var trace: Double; var entropy: Double; var dimension: Int }
        var full: Stats
        var traced: Stats
        var parameter_count: Int
        var outputs_first_row: [Double]
    }

    static func fixture(_ name: String) throws -> URL {
        try #require(Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures"))
    }

    static func load(_ name: String) throws -> (Network<Double>, Matrix<Double>, Reference) {
        let spec = try ModelSpec.decode(json: Data(contentsOf: fixture("\(name).json")))
        var net: Network<Double> = try spec.makeNetwork(seed: 0)
        try net.loadParameters(contentsOf: fixture("\(name).safetensors"))
        let x: Matrix<Double> = try NPY.read(fixture("\(name)_inputs.npy")).matrix()
        let reference = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: fixture("\(name)_reference.json")))
        return (net, x, reference)
    }

    @Test(arguments: ["mlp", "cnn"], [KernelKind.full, .traced])
    func exactMatchesReference(name: String, kind: KernelKind) throws {
        let (net, x, reference) = try Self.load(name)
        #expect(net.parameterCount == reference.parameter_count)
        let outputs = try net.forward(x)
        for (a, b) in zip(outputs.row(0), reference.outputs_first_row) { #expect(abs(a - b) <= 1e-12 * max(1, abs(b))) }
        let expected = kind == .full ? reference.full : reference.traced
        let result = try ExactNTK(kind: kind, batchSize: 16).spectrum(network: net, inputs: x)
        #expect(result.statistics.dimension == expected.dimension)
        #expect(abs(result.statistics.trace - expected.trace) <= 1e-8 * expected.trace)
        #expect(abs(result.statistics.entropy - expected.entropy) <= 1e-8 * expected.entropy)
        // The per-example-gradient trace needs no kernel at all.
        let trace = try EmpiricalNTK(network: net, inputs: x, kind: kind).exactTrace()
        #expect(abs(trace - expected.trace) <= 1e-8 * expected.trace)
    }

    @Test func eigenvaluesMatchEigvalsh() throws {
        let (net, x, _) = try Self.load("mlp")
        let reference = try NPY.read(Self.fixture("mlp_eigenvalues_full.npy")).values
        let result = try ExactNTK().spectrum(network: net, inputs: x)
        let top = reference.max()!
        for (a, b) in zip(result.eigenvalues, reference) { #expect(abs(a - b) <= 1e-10 * top) }
    }
}

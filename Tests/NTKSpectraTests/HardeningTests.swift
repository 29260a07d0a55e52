import NTKLinearAlgebra
import NTKNetworks
import Testing
@testable import NTKSpectra

/// A network without parameters has a zero NTK: every entry point refuses it with a named
/// error instead of dividing by P = 0.
@Suite("Hardening: networks without parameters")
struct NoParameterTests {
    @Test func everyNTKEntryPointRefusesAParameterlessNetwork() throws {
        let net = try ModelSpec(inputShape: [3], layers: [.activation(.tanh)]).makeNetwork(Double.self)
        let x = try Matrix<Double>(rows: 2, columns: 3, storage: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
        let expected = NTKError.invalidOption(
            "model", "at least one layer with parameters (linear, conv2d, layernorm, …); this network has none, so its NTK is zero")
        #expect(throws: expected) { _ = try ExactNTK().spectrum(network: net, inputs: x) }
        #expect(throws: expected) { _ = try ExactNTK().jacobian(network: net, inputs: x) }
        #expect(throws: expected) { _ = try EmpiricalNTK(network: net, inputs: x) }
        #expect(throws: expected) { _ = try StructuredNTK(network: net, inputs: x) }
    }
}

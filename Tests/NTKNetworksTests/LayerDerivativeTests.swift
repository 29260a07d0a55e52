import NTKLinearAlgebra
import Testing

@testable import NTKNetworks

/// Every layer and model goes through the same `DerivativeHarness.check`.
@Suite("Layer derivatives")
struct LayerDerivativeTests {
    @Test func linear() throws {
        try DerivativeHarness.check(ModelSpec(inputShape: [4], layers: [.linear(inFeatures: 4, outFeatures: 3)]))
    }

    @Test func linearWithoutBias() throws {
        try DerivativeHarness.check(ModelSpec(inputShape: [5], layers: [.linear(inFeatures: 5, outFeatures: 2, bias: false)]))
    }

    @Test func linearNTKParameterization() throws {
        try DerivativeHarness.check(ModelSpec(
            inputShape: [4], layers: [.linear(inFeatures: 4, outFeatures: 3), .activation(.tanh), .linear(inFeatures: 3, outFeatures: 2)],
            parameterization: .ntk(weightScale: 1.5, biasScale: 0.1)))
    }

    @Test(arguments: ActivationFunction.allCases)
    func activationInNetwork(_ function: ActivationFunction) throws {
        // ReLU: with these seeds no pre-activation lies within the FD step of the kink (checked
        // separately by `reluPreactivationsAwayFromKink`).
        try DerivativeHarness.check(ModelSpec(
            inputShape: [4], layers: [.linear(inFeatures: 4, outFeatures: 5), .activation(function), .linear(inFeatures: 5, outFeatures: 2)]))
    }

    @Test(arguments: ActivationFunction.allCases)
    func activationAlone(_ function: ActivationFunction) throws {
        try DerivativeHarness.check(ModelSpec(inputShape: [2, 3], layers: [.activation(function)]))
    }

    @Test func flatten() throws {
        try DerivativeHarness.check(ModelSpec(
            inputShape: [2, 2, 2], layers: [.activation(.tanh), .flatten, .linear(inFeatures: 8, outFeatures: 3)]))
    }

    @Test func mlp() throws {
        try DerivativeHarness.check(ModelSpec.mlp(inputSize: 6, hiddenSizes: [8, 7], outputSize: 3, activation: .gelu))
    }
}

extension LayerDerivativeTests {
    /// Makes the ReLU finite-difference check honest: the harness's network (seed 1) and inputs
    /// (seed 1001) put every ReLU pre-activation at least 1e-3 from the kink, while the FD
    /// perturbation moves pre-activations by at most h·‖v‖·‖x‖ ≈ 1e-5.
    @Test func reluPreactivationsAwayFromKink() throws {
        let spec = ModelSpec(
            inputShape: [4], layers: [.linear(inFeatures: 4, outFeatures: 5), .activation(.relu), .linear(inFeatures: 5, outFeatures: 2)])
        let network: Network<Double> = try spec.makeNetwork(seed: 1)
        var rng = SeededGenerator(seed: 1001)
        let x = [Double].gaussian(count: 3 * 4, using: &rng)
        let first = try Network(body: Sequential(inputShape: [4], layers: [network.layers[0]]), parameters: Array(network.parameters[0..<25]))
        let z = try first.forward(Matrix(rows: 3, columns: 4, storage: x)).storage
        let closest = z.map { abs($0) }.min() ?? 0
        #expect(closest > 1e-3)
    }
}

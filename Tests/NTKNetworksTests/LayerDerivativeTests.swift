import NTKLinearAlgebra
import Testing

@testable import NTKNetworks

/// Every layer and model goes through the same `DerivativeHarness.check`.
@Suite("Layer derivatives")
struct LayerDerivativeTests {
    @Test func linear() throws {
        try DerivativeHarness.check(ModelSpec(inputShape: [4], layers: [.linear(inFeatures: 4, outFeatures: 3)]))
    }

    @Test func linearOnSequence() throws {
        // [R = 3 tokens, 4 features] per example: Linear acts on the last dimension.
        try DerivativeHarness.check(ModelSpec(
            inputShape: [3, 4], layers: [.linear(inFeatures: 4, outFeatures: 5), .activation(.gelu), .linear(inFeatures: 5, outFeatures: 2, bias: false)]))
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

@Suite("Convolutional, pooling, normalization and residual derivatives")
struct StructuredLayerDerivativeTests {
    @Test func conv2dPaddedStrided() throws {
        try DerivativeHarness.check(ModelSpec(
            inputShape: [2, 5, 4],
            layers: [.conv2d(inChannels: 2, outChannels: 3, kernelSize: SpatialSize(3, 2), stride: SpatialSize(2, 1), padding: 1), .activation(.tanh), .flatten,
                     .linear(inFeatures: 3 * 3 * 5, outFeatures: 2)]))
    }

    @Test func conv2dWideStrideAndPadding() throws {
        // Horizontal stride 3 with padding 2 (some kernel columns see only padding on the edges),
        // and a kernel wider than the unpadded input.
        try DerivativeHarness.check(ModelSpec(
            inputShape: [1, 4, 7], layers: [.conv2d(inChannels: 1, outChannels: 2, kernelSize: SpatialSize(2, 3), stride: SpatialSize(1, 3), padding: SpatialSize(0, 2))]))
        try DerivativeHarness.check(ModelSpec(
            inputShape: [2, 2, 2], layers: [.conv2d(inChannels: 2, outChannels: 1, kernelSize: 3, stride: 2, padding: 1)]))
    }

    @Test func conv2dAloneNoBias() throws {
        try DerivativeHarness.check(ModelSpec(
            inputShape: [1, 4, 4], layers: [.conv2d(inChannels: 1, outChannels: 2, kernelSize: 3, bias: false)]))
    }

    @Test func conv2dNTK() throws {
        try DerivativeHarness.check(ModelSpec(
            inputShape: [2, 4, 4], layers: [.conv2d(inChannels: 2, outChannels: 2, kernelSize: 2, stride: 2)],
            parameterization: .ntk(weightScale: 2, biasScale: 0.5)))
    }

    @Test func avgPool2d() throws {
        try DerivativeHarness.check(ModelSpec(
            inputShape: [2, 5, 5], layers: [.avgPool2d(kernelSize: 2, stride: SpatialSize(1, 2)), .activation(.sine)]))
    }

    @Test func globalPooling() throws {
        try DerivativeHarness.check(ModelSpec(
            inputShape: [3, 3, 2], layers: [.adaptiveAvgPool2d, .activation(.tanh), .flatten, .linear(inFeatures: 3, outFeatures: 2)]))
        try DerivativeHarness.check(ModelSpec(
            inputShape: [3, 2, 4], layers: [.globalAvgPool, .linear(inFeatures: 3, outFeatures: 2)]))
    }

    @Test func layerNorm() throws {
        // Parameter noise moves the gain away from 1 and the bias away from 0.
        try DerivativeHarness.check(
            ModelSpec(
                inputShape: [2, 5], layers: [.linear(inFeatures: 5, outFeatures: 6), .layerNorm(normalizedShape: [6]), .activation(.gelu)]),
            DerivativeHarness.Options(parameterNoise: 0.5))
        try DerivativeHarness.check(ModelSpec(
            inputShape: [2, 2, 3], layers: [.layerNorm(normalizedShape: [2, 3], elementwiseAffine: false)]))
    }

    @Test func residual() throws {
        try DerivativeHarness.check(ModelSpec(
            inputShape: [4],
            layers: [.linear(inFeatures: 4, outFeatures: 5), .residual([.activation(.tanh), .linear(inFeatures: 5, outFeatures: 5)]),
                     .residual([.linear(inFeatures: 5, outFeatures: 5), .activation(.sigmoid)]), .linear(inFeatures: 5, outFeatures: 2)]))
    }

    @Test func nestedResidualAndParameterFreePrefix() throws {
        // A parameter-free prefix (the JVP/VJP skip it when no input tangent/cotangent is
        // needed), a residual around a residual, and a residual with a parameter-free body (y = 2x).
        try DerivativeHarness.check(ModelSpec(
            inputShape: [2, 3],
            layers: [.activation(.sine), .flatten, .residual([.activation(.tanh)]),
                     .residual([.linear(inFeatures: 6, outFeatures: 6), .residual([.activation(.gelu), .linear(inFeatures: 6, outFeatures: 6)])]),
                     .linear(inFeatures: 6, outFeatures: 2)]))
    }

    @Test func cnnModel() throws {
        try DerivativeHarness.check(ModelSpec.cnn(inputShape: [1, 4, 4], channels: [2], outputSize: 3, activation: .softplus))
    }

    @Test func resnetModel() throws {
        try DerivativeHarness.check(ModelSpec.resnet(inputShape: [2, 4, 4], width: 3, blocks: 2, outputSize: 2, activation: .tanh))
    }

    @Test func autoencoderModel() throws {
        try DerivativeHarness.check(ModelSpec.autoencoder(inputSize: 6, encoderSizes: [5], bottleneck: 2, activation: .erf))
    }

    @Test func ntkMLP() throws {
        try DerivativeHarness.check(
            ModelSpec.mlp(inputSize: 5, hiddenSizes: [6, 6], outputSize: 2, activation: .relu, parameterization: .ntk()),
            DerivativeHarness.Options(finiteDifferences: false))
    }
}

import NTKLinearAlgebra

extension ModelSpec {
    /// A multilayer perceptron in → hidden_1 → … → hidden_m → out with `activation` after
    /// every hidden Linear layer and none after the last (PyTorch:
    /// `nn.Sequential(Linear, act, Linear, act, …, Linear)`, tensors "0.weight", "2.weight", …).
    public static func mlp(
        inputSize: Int, hiddenSizes: [Int], outputSize: Int, activation: ActivationFunction = .tanh,
        bias: Bool = true, parameterization: Parameterization = .standard
    ) -> ModelSpec {
        var layers: [LayerSpec] = []
        var width = inputSize
        for hidden in hiddenSizes {
            layers.append(.linear(inFeatures: width, outFeatures: hidden, bias: bias))
            layers.append(.activation(activation))
            width = hidden
        }
        layers.append(.linear(inFeatures: width, outFeatures: outputSize, bias: bias))
        return ModelSpec(inputShape: [inputSize], layers: layers, parameterization: parameterization)
    }
}

extension Network {
    /// The multilayer perceptron of `ModelSpec.mlp`, initialized from `seed`.
    public static func mlp(
        inputSize: Int, hiddenSizes: [Int], outputSize: Int, activation: ActivationFunction = .tanh,
        bias: Bool = true, parameterization: Parameterization = .standard, seed: UInt64 = 0
    ) throws -> Network {
        try ModelSpec.mlp(
            inputSize: inputSize, hiddenSizes: hiddenSizes, outputSize: outputSize, activation: activation,
            bias: bias, parameterization: parameterization
        ).makeNetwork(Scalar.self, seed: seed)
    }
}

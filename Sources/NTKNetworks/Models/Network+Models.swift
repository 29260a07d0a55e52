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

extension ModelSpec {
    /// A small CNN for [C, H, W] images: for each width w in `channels`, conv3×3(pad 1) →
    /// activation → avgpool 2×2; then flatten → linear to `outputSize`. H and W must stay
    /// divisible by 2 at every stage.
    public static func cnn(
        inputShape: [Int], channels: [Int], outputSize: Int, activation: ActivationFunction = .relu,
        parameterization: Parameterization = .standard
    ) -> ModelSpec {
        var layers: [LayerSpec] = []
        var c = inputShape.first ?? 0
        var h = inputShape.count == 3 ? inputShape[1] : 0, w = inputShape.count == 3 ? inputShape[2] : 0
        for width in channels {
            layers.append(.conv2d(inChannels: c, outChannels: width, kernelSize: 3, padding: 1))
            layers.append(.activation(activation))
            layers.append(.avgPool2d(kernelSize: 2))
            c = width
            h /= 2
            w /= 2
        }
        layers.append(.flatten)
        layers.append(.linear(inFeatures: c * h * w, outFeatures: outputSize))
        return ModelSpec(inputShape: inputShape, layers: layers, parameterization: parameterization)
    }

    /// A small CIFAR-style ResNet (He et al. 2016, arXiv:1512.03385, without batch norm):
    /// stem conv3×3(C→width) → activation, then `blocks` residual blocks
    /// x + conv3×3(act(conv3×3(x))) each followed by the activation, then global average
    /// pooling → linear to `outputSize`.
    public static func resnet(
        inputShape: [Int], width: Int, blocks: Int, outputSize: Int, activation: ActivationFunction = .relu,
        parameterization: Parameterization = .standard
    ) -> ModelSpec {
        var layers: [LayerSpec] = [
            .conv2d(inChannels: inputShape.first ?? 0, outChannels: width, kernelSize: 3, padding: 1),
            .activation(activation),
        ]
        for _ in 0..<max(blocks, 0) {
            layers.append(.residual([
                .conv2d(inChannels: width, outChannels: width, kernelSize: 3, padding: 1),
                .activation(activation),
                .conv2d(inChannels: width, outChannels: width, kernelSize: 3, padding: 1),
            ]))
            layers.append(.activation(activation))
        }
        layers.append(.globalAvgPool)
        layers.append(.linear(inFeatures: width, outFeatures: outputSize))
        return ModelSpec(inputShape: inputShape, layers: layers, parameterization: parameterization)
    }

    /// An MLP auto-encoder in → encoder widths → bottleneck → reversed encoder widths → in,
    /// `activation` after every layer but the bottleneck and the last; the outputs are the
    /// reconstruction (k = inputSize).
    public static func autoencoder(
        inputSize: Int, encoderSizes: [Int], bottleneck: Int, activation: ActivationFunction = .tanh,
        parameterization: Parameterization = .standard
    ) -> ModelSpec {
        var layers: [LayerSpec] = []
        var width = inputSize
        for size in encoderSizes {
            layers += [.linear(inFeatures: width, outFeatures: size), .activation(activation)]
            width = size
        }
        layers.append(.linear(inFeatures: width, outFeatures: bottleneck))
        width = bottleneck
        for size in encoderSizes.reversed() {
            layers += [.linear(inFeatures: width, outFeatures: size), .activation(activation)]
            width = size
        }
        layers.append(.linear(inFeatures: width, outFeatures: inputSize))
        return ModelSpec(inputShape: [inputSize], layers: layers, parameterization: parameterization)
    }
}

import NTKLinearAlgebra
import Testing

@testable import NTKNetworks

/// A model family for the conversion tests: a `ModelSpec` (MLP, CNN, ResNet, auto-encoder,
/// layer norm, JSON attention layers) or one of the attention/transformer/graph models.
enum ConversionCase: NetworkFactory, CustomStringConvertible {
    case spec(String, ModelSpec)
    case attention(AttentionModels)

    var description: String {
        switch self {
        case let .spec(name, _): return name
        case let .attention(model): return model.description
        }
    }

    func build<S: BLASScalar>(_: S.Type, seed: UInt64) throws -> Network<S> {
        switch self {
        case let .spec(_, spec): return try spec.makeNetwork(S.self, seed: seed)
        case let .attention(model): return try model.build(S.self, seed: seed)
        }
    }
}

/// Every stored property of a layer tree, read with `Mirror` so that a property a layer's
/// `converted(to:)` forgets (a flag, an ε, a multiplier, Â) shows up without the test naming
/// it. Scalars (Float or Double) are kept as numbers; generic type names are written with
/// Double so that a Float and a Double tree can be compared.
enum LayerFingerprint {
    struct Entry: Equatable, CustomStringConvertible {
        var path: String
        var text: String
        var number: Double?
        var description: String { "\(path) = \(number.map { "\($0)" } ?? text)" }
    }

    static func entries(_ value: Any) -> [Entry] {
        var out: [Entry] = []
        collect(value, "", into: &out)
        return out
    }

    static func collect(_ value: Any, _ path: String, into out: inout [Entry]) {
        if let x = value as? Float { out.append(Entry(path: path, text: "scalar", number: Double(x))); return }
        if let x = value as? Double { out.append(Entry(path: path, text: "scalar", number: x)); return }
        let mirror = Mirror(reflecting: value)
        if mirror.children.isEmpty {
            out.append(Entry(path: path, text: String(describing: value), number: nil))
            return
        }
        out.append(Entry(path: path, text: String(describing: type(of: value)).replacingOccurrences(of: "Float", with: "Double")))
        for (i, child) in mirror.children.enumerated() {
            collect(child.value, path + "." + (child.label ?? "\(i)"), into: &out)
        }
    }

    /// Same structure and texts; numbers within `relative` (0: bit for bit).
    static func expectSame(
        _ a: [Entry], _ b: [Entry], relative: Double, _ what: String, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(a.count == b.count, "\(what): \(a.count) vs \(b.count) entries", sourceLocation: sourceLocation)
        let mismatches = zip(a, b).filter { x, y in
            guard x.path == y.path, x.text == y.text else { return true }
            switch (x.number, y.number) {
            case (nil, nil): return false
            case let (u?, v?): return relative == 0 ? u.bitPattern != v.bitPattern : abs(u - v) > relative * abs(v)
            default: return true
            }
        }
        #expect(mismatches.isEmpty, "\(what): first mismatches \(mismatches.prefix(3).map { "\($0.0) vs \($0.1)" })",
                sourceLocation: sourceLocation)
    }
}

@Suite("Precision conversion")
struct ConversionTests {
    static let edges = AttentionLayerTests.edges

    static let cases: [ConversionCase] = [
        .spec("mlp gelu", .mlp(inputSize: 6, hiddenSizes: [8, 7], outputSize: 3, activation: .gelu)),
        .spec("mlp ntk no bias", .mlp(
            inputSize: 5, hiddenSizes: [6], outputSize: 2, activation: .tanh, bias: false,
            parameterization: .ntk(weightScale: 1.3, biasScale: 0.2))),
        .spec("linear on a sequence", ModelSpec(
            inputShape: [3, 4], layers: [.linear(inFeatures: 4, outFeatures: 5), .activation(.sine), .linear(inFeatures: 5, outFeatures: 2, bias: false)])),
        .spec("cnn", .cnn(inputShape: [2, 4, 4], channels: [3], outputSize: 3, activation: .tanh)),
        .spec("conv strided ntk + avgpool", ModelSpec(
            inputShape: [2, 5, 4],
            layers: [
                .conv2d(inChannels: 2, outChannels: 3, kernelSize: SpatialSize(3, 2), stride: SpatialSize(2, 1), padding: 1, bias: false),
                .activation(.softplus), .avgPool2d(kernelSize: 2, stride: SpatialSize(1, 2)), .flatten,
                .linear(inFeatures: 12, outFeatures: 2),
            ],
            parameterization: .ntk(weightScale: 2, biasScale: 0.5))),
        .spec("resnet", .resnet(inputShape: [1, 4, 4], width: 2, blocks: 2, outputSize: 2, activation: .tanh)),
        .spec("autoencoder", .autoencoder(inputSize: 6, encoderSizes: [4], bottleneck: 2, activation: .sigmoid)),
        .spec("layer norm", ModelSpec(
            inputShape: [2, 5],
            layers: [
                .linear(inFeatures: 5, outFeatures: 6), .layerNorm(normalizedShape: [6], epsilon: 1e-3), .activation(.erf),
                .layerNorm(normalizedShape: [2, 6], elementwiseAffine: false), .flatten, .linear(inFeatures: 12, outFeatures: 2),
            ])),
        .spec("global pooling", ModelSpec(
            inputShape: [3, 3, 2], layers: [.adaptiveAvgPool2d, .activation(.tanh), .flatten, .linear(inFeatures: 3, outFeatures: 2)])),
        .spec("attention layer specs", ModelSpec(
            inputShape: [3, 2],
            layers: [
                .attention(.tokenLinear(inFeatures: 2, outFeatures: 4)),
                .attention(.positionalEmbedding(embedDimension: 4, maxLength: 5)),
                .attention(.transformerEncoderLayer(
                    embedDimension: 4, headCount: 2, feedForwardDimension: 6, causal: true, layerNormEpsilon: 1e-3)),
                .attention(.nodeMeanPool), .linear(inFeatures: 4, outFeatures: 2),
            ],
            parameterization: .ntk(weightScale: 1.1, biasScale: 0.3))),
    ] + AttentionLayerTests.cases.map { .attention($0) }

    /// θ from `seed` plus N(0, 0.2²) noise (moves the layer-norm gains away from 1 and the
    /// attention biases away from 0), drawn in Double.
    static func network<S: BLASScalar>(_ model: ConversionCase, _: S.Type, seed: UInt64) throws -> Network<S> {
        var network: Network<S> = try model.makeNetwork(seed: seed)
        var rng = SeededGenerator(seed: seed &+ 500)
        let noise = [Double].gaussian(count: network.parameterCount, using: &rng)
        for i in noise.indices { network.parameters[i] += S(0.2 * noise[i]) }
        return network
    }

    /// Float → Double keeps the architecture and θ exactly, builds the network Double would
    /// have built, and computes the Float network's function.
    ///
    /// Forward tolerance: the Float forward has round-off of a few ε_float = 2⁻²³ ≈ 1.2e-7 per
    /// layer relative to the activation scale; for these networks of ≤ 10 layers with O(1)
    /// condition, 1e-4 of ‖y‖∞ (≈ 840 ε_float) leaves a wide margin, as in `DerivativeHarness`.
    @Test(arguments: cases)
    func floatToDouble(_ model: ConversionCase) throws {
        try BLASThreads.set(1)
        let float = try Self.network(model, Float.self, seed: 3)
        let double = try float.converted(to: Double.self)

        #expect(double.parameterCount == float.parameterCount)
        #expect(double.parameterTensors == float.parameterTensors)
        #expect(double.inputShape == float.inputShape)
        #expect(double.outputShape == float.outputShape)
        #expect(double.layers.count == float.layers.count)
        #expect(double.body.savedCount(batch: 3) == float.body.savedCount(batch: 3))
        #expect(double.body.scratchCount(batch: 3, block: 2) == float.body.scratchCount(batch: 3, block: 2))
        // θ: exact.
        #expect(double.parameters == float.parameters.map(Double.init))
        // Every stored property: the Float layers' constants are the Double ones rounded once.
        LayerFingerprint.expectSame(
            LayerFingerprint.entries(float.body), LayerFingerprint.entries(double.body),
            relative: Double(Float.ulpOfOne) / 2, "Float layers vs converted Double layers")

        // The converted network is the one built in Double directly (same constants, bit for bit).
        var native: Network<Double> = try model.makeNetwork(seed: 3)
        native.parameters = double.parameters
        LayerFingerprint.expectSame(
            LayerFingerprint.entries(native.body), LayerFingerprint.entries(double.body), relative: 0,
            "natively built Double layers vs converted Double layers")

        // Same function: Float forward vs the converted network's forward on the same inputs.
        let b = 3
        var rng = SeededGenerator(seed: 17)
        let xF = [Double].gaussian(count: b * float.inputSize, using: &rng).map { Float($0) }
        let x = xF.map(Double.init)
        let yF = try DerivativeHarness.outputs(float, xF, b).map(Double.init)
        let y = try DerivativeHarness.outputs(double, x, b)
        #expect(y.allSatisfy { $0.isFinite })
        DerivativeHarness.expectClose(yF, y, relative: 1e-4, floor: 0, "Float forward vs converted Double forward", #_sourceLocation)
        let yNative = try DerivativeHarness.outputs(native, x, b)
        #expect(yNative.map(\.bitPattern) == y.map(\.bitPattern), "converted vs natively built Double forward")
    }

    /// Double → Float → Double is the identity on Float-representable θ, and Float → Double →
    /// Float is the identity on any Float θ (architecture included, bit for bit).
    @Test(arguments: cases)
    func roundTripsAreExact(_ model: ConversionCase) throws {
        var double = try Self.network(model, Double.self, seed: 4)
        double.parameters = double.parameters.map { Double(Float($0)) }
        let back = try double.converted(to: Float.self).converted(to: Double.self)
        #expect(back.parameters.map(\.bitPattern) == double.parameters.map(\.bitPattern))
        LayerFingerprint.expectSame(
            LayerFingerprint.entries(double.body), LayerFingerprint.entries(back.body), relative: 0, "Double → Float → Double layers")

        let float = try Self.network(model, Float.self, seed: 4)
        let floatBack = try float.converted(to: Double.self).converted(to: Float.self)
        #expect(floatBack.parameters.map(\.bitPattern) == float.parameters.map(\.bitPattern))
        LayerFingerprint.expectSame(
            LayerFingerprint.entries(float.body), LayerFingerprint.entries(floatBack.body), relative: 0, "Float → Double → Float layers")
        // Same-precision conversion is a copy.
        let same = try double.converted(to: Double.self)
        #expect(same.parameters.map(\.bitPattern) == double.parameters.map(\.bitPattern))
    }

    /// A Double network converted to Float has the same JVP (parameter and input tangent
    /// together, one vector) up to Float round-off: θ and the inputs are rounded once
    /// (2⁻²⁴ relative) and the Float passes add a few ε_float per layer, so 1e-4 of ‖ẏ‖∞ as
    /// for the forward.
    @Test(arguments: cases)
    func doubleToFloatJVP(_ model: ConversionCase) throws {
        try BLASThreads.set(1)
        let double = try Self.network(model, Double.self, seed: 5)
        let float = try double.converted(to: Float.self)
        #expect(float.parameters == double.parameters.map { Float($0) })

        let b = 2, P = double.parameterCount, n = double.inputSize
        var rng = SeededGenerator(seed: 23)
        let x = [Double].gaussian(count: b * n, using: &rng)
        let thetaDot = [Double].gaussian(count: P, using: &rng)
        let xDot = [Double].gaussian(count: b * n, using: &rng)
        let cache = try x.withUnsafeBufferPointer { try double.forwardCache(inputs: $0, batch: b) }
        let xF = x.map { Float($0) }
        let cacheF = try xF.withUnsafeBufferPointer { try float.forwardCache(inputs: $0, batch: b) }
        let j = try DerivativeHarness.jvp(double, cache, parameterTangents: thetaDot, inputTangents: xDot, block: 1)
        let jF = try DerivativeHarness.jvp(
            float, cacheF, parameterTangents: thetaDot.map { Float($0) }, inputTangents: xDot.map { Float($0) }, block: 1)
        #expect(DerivativeHarness.infNorm(j) > 0)
        DerivativeHarness.expectClose(jF.map(Double.init), j, relative: 1e-4, floor: 0, "Float JVP vs Double JVP", #_sourceLocation)
    }

    @Test func overflowToFloatNamesTheParameter() throws {
        var double: Network<Double> = try ModelSpec.mlp(inputSize: 3, hiddenSizes: [4], outputSize: 2).makeNetwork(seed: 1)
        let bias = try #require(double.parameterTensors.first { $0.name == "2.bias" })
        double.parameters[bias.offset + 1] = 1e39
        let error = #expect(throws: NetworkError.self) { try double.converted(to: Float.self) }
        #expect(error?.description.contains("2.bias[1]") == true, "\(String(describing: error))")
        // Below Float's overflow threshold the value is rounded, not refused.
        double.parameters[bias.offset + 1] = 3e38
        #expect(try double.converted(to: Float.self).parameters[bias.offset + 1] == Float(3e38))
    }

    @Test func nonFiniteParametersStayNonFinite() throws {
        var float: Network<Float> = try ModelSpec.mlp(inputSize: 3, hiddenSizes: [4], outputSize: 2).makeNetwork(seed: 1)
        float.parameters[0] = .nan
        float.parameters[1] = -.infinity
        let double = try float.converted(to: Double.self)
        #expect(double.parameters[0].isNaN)
        #expect(double.parameters[1] == -.infinity)
        #expect(throws: NetworkError.nonFinite(name: "parameters")) {
            try double.forward(Matrix(rows: 1, columns: 3, storage: [0.1, 0.2, 0.3]))
        }
    }
}

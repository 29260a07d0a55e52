import Foundation
import NTKLinearAlgebra
import Testing

@testable import NTKNetworks
import NTKFormats

/// A `ModelSpec` network whose buffers are then replaced (e.g. BatchNorm running statistics
/// away from PyTorch's initial 0 and 1), in either precision.
struct SpecWithBuffers: NetworkFactory {
    var spec: ModelSpec
    var buffers: [String: [Double]]

    func build<S: BLASScalar>(_: S.Type, seed: UInt64) throws -> Network<S> {
        var network: Network<S> = try spec.makeNetwork(seed: seed)
        try network.replaceBuffers(buffers)
        return network
    }
}

/// Networks of the shape and constant layers that have no `LayerSpec` (they come from ONNX).
enum ShapeLayerModels: NetworkFactory, CustomStringConvertible {
    /// [2, 3, 4] → permute → tanh → flatten → linear.
    case permute([Int])
    /// [2, 6] → reshape [3, 4] → linear(4 → 2).
    case reshape
    /// [2, 3, 4] → sine → mean over `axes` → flatten → linear.
    case mean(axes: [Int], keepDimensions: Bool)
    /// [2, 3] → x ⊙ a + c (a [3], c [2, 1]) → tanh.
    case constantAffine
    /// [3, 4] → linear(4 → 5) → softmax over `axis` → linear(5 → 2).
    case softmax(axis: Int)

    var description: String {
        switch self {
        case let .permute(p): return "permute \(p)"
        case .reshape: return "reshape"
        case let .mean(axes, keep): return "mean \(axes) keepdims=\(keep)"
        case .constantAffine: return "constant affine"
        case let .softmax(axis): return "softmax axis \(axis)"
        }
    }

    func build<S: BLASScalar>(_: S.Type, seed: UInt64) throws -> Network<S> {
        switch self {
        case let .permute(p):
            let permute = try Permute<S>(inputShape: [2, 3, 4], permutation: p)
            return try Network(inputShape: [2, 3, 4], layers: [
                permute, Activation<S>(.tanh, shape: permute.outputShape), Flatten<S>(inputShape: permute.outputShape),
                Linear<S>(inFeatures: 24, outFeatures: 2),
            ], seed: seed)
        case .reshape:
            return try Network(inputShape: [2, 6], layers: [
                Reshape<S>(inputShape: [2, 6], shape: [3, -1]), Linear<S>(inFeatures: 4, outFeatures: 2, leadingShape: [3]),
            ], seed: seed)
        case let .mean(axes, keep):
            let mean = try Mean<S>(inputShape: [2, 3, 4], axes: axes, keepDimensions: keep)
            return try Network(inputShape: [2, 3, 4], layers: [
                Activation<S>(.sine, shape: [2, 3, 4]), mean, Flatten<S>(inputShape: mean.outputShape),
                Linear<S>(inFeatures: mean.outputSize, outFeatures: 2),
            ], seed: seed)
        case .constantAffine:
            return try Network(inputShape: [2, 3], layers: [
                ConstantAffine<S>(
                    inputShape: [2, 3], scale: ConstantTensor(shape: [3], values: [0.5, -2, 1.5]),
                    shift: ConstantTensor(shape: [2, 1], values: [0.25, -1])),
                Activation<S>(.tanh, shape: [2, 3]),
            ], seed: seed)
        case let .softmax(axis):
            return try Network(inputShape: [3, 4], layers: [
                Linear<S>(inFeatures: 4, outFeatures: 5, leadingShape: [3]), Softmax<S>(inputShape: [3, 5], axis: axis),
                Linear<S>(inFeatures: 5, outFeatures: 2, leadingShape: [3]),
            ], seed: seed)
        }
    }
}

@Suite("Imported layer derivatives (BatchNorm, MaxPool2d, Dropout, Embedding, Softmax, shape layers)")
struct ImportedLayerDerivativeTests {
    static let runningStatistics3: [String: [Double]] = ["running_mean": [0.3, -0.5, 1.1], "running_var": [0.7, 2.5, 0.05]]

    func prefixed(_ buffers: [String: [Double]], _ prefix: String) -> [String: [Double]] {
        Dictionary(uniqueKeysWithValues: buffers.map { ("\(prefix)\($0.key)", $0.value) })
    }

    @Test func batchNorm1dOverFeatures() throws {
        try DerivativeHarness.check(
            SpecWithBuffers(
                spec: ModelSpec(inputShape: [4], layers: [
                    .linear(inFeatures: 4, outFeatures: 3), .batchNorm1d(numFeatures: 3), .activation(.tanh),
                    .linear(inFeatures: 3, outFeatures: 2),
                ]),
                buffers: prefixed(Self.runningStatistics3, "1.")),
            DerivativeHarness.Options(parameterNoise: 0.5))
    }

    @Test func batchNorm1dOverSequenceWithoutAffine() throws {
        try DerivativeHarness.check(SpecWithBuffers(
            spec: ModelSpec(inputShape: [3, 4], layers: [.batchNorm1d(numFeatures: 3, epsilon: 1e-3, affine: false), .activation(.gelu)]),
            buffers: prefixed(Self.runningStatistics3, "0.")))
    }

    @Test func batchNorm2dInResidual() throws {
        try DerivativeHarness.check(
            SpecWithBuffers(
                spec: ModelSpec(inputShape: [2, 4, 4], layers: [
                    .conv2d(inChannels: 2, outChannels: 3, kernelSize: 3, padding: 1), .batchNorm2d(numFeatures: 3),
                    .residual([.activation(.tanh), .batchNorm2d(numFeatures: 3)]), .flatten, .linear(inFeatures: 48, outFeatures: 2),
                ]),
                buffers: prefixed(Self.runningStatistics3, "1.").merging(prefixed(Self.runningStatistics3, "2.layers.1.")) { a, _ in a }),
            DerivativeHarness.Options(parameterNoise: 0.5))
    }

    @Test func maxPool2d() throws {
        // Gaussian inputs: distinct values in every window, far apart relative to the FD step.
        try DerivativeHarness.check(ModelSpec(
            inputShape: [2, 5, 5], layers: [.activation(.tanh), .maxPool2d(kernelSize: 2, stride: SpatialSize(1, 2))]))
        try DerivativeHarness.check(ModelSpec(
            inputShape: [2, 5, 4], layers: [
                .conv2d(inChannels: 2, outChannels: 2, kernelSize: 2), .maxPool2d(kernelSize: 3, stride: 2, padding: 1), .flatten,
                .linear(inFeatures: 2 * 2 * 2, outFeatures: 2),
            ]))
    }

    @Test func dropoutIsIdentity() throws {
        try DerivativeHarness.check(ModelSpec(
            inputShape: [4], layers: [.linear(inFeatures: 4, outFeatures: 3), .dropout(p: 0.3), .activation(.tanh)]))
    }

    @Test func embedding() throws {
        try DerivativeHarness.check(
            ModelSpec(inputShape: [5], layers: [
                .embedding(numEmbeddings: 7, embeddingDimension: 3), .activation(.tanh), .flatten, .linear(inFeatures: 15, outFeatures: 2),
            ]),
            DerivativeHarness.Options(tokens: 7))
    }

    @Test func softmaxSpec() throws {
        try DerivativeHarness.check(ModelSpec(
            inputShape: [3, 4], layers: [.linear(inFeatures: 4, outFeatures: 5), .softmax(dim: -1), .linear(inFeatures: 5, outFeatures: 2)]))
    }

    @Test(arguments: [
        ShapeLayerModels.permute([2, 0, 1]), .permute([1, -1, 0]), .reshape, .mean(axes: [0, 2], keepDimensions: false),
        .mean(axes: [-1], keepDimensions: true), .mean(axes: [0, 1, 2], keepDimensions: false), .constantAffine,
        .softmax(axis: 0), .softmax(axis: 1),
    ])
    func shapeLayers(_ model: ShapeLayerModels) throws {
        try DerivativeHarness.check(model)
    }
}

@Suite("Imported layer forward semantics")
struct ImportedLayerForwardTests {
    /// Runs one layer's forward pass on `input` (one or more examples) and returns (output, saved).
    func forward<L: Layer>(_ layer: L, _ input: [L.Scalar], batch: Int = 1, parameters: [L.Scalar] = []) throws -> (output: [L.Scalar], saved: [L.Scalar]) {
        var output = [L.Scalar](repeating: .nan, count: batch * layer.outputSize)
        var saved = [L.Scalar](repeating: .nan, count: max(layer.savedCount(batch: batch), 1))
        let p = parameters.isEmpty ? [L.Scalar](repeating: 0, count: 1) : parameters
        try p.withUnsafeBufferPointer { pp in
            try input.withUnsafeBufferPointer { x in
                try output.withUnsafeMutableBufferPointer { y in
                    try saved.withUnsafeMutableBufferPointer { s in
                        try layer.forward(parameters: pp.baseAddress!, input: x.baseAddress!, batch: batch, output: y.baseAddress!, saved: s.baseAddress!)
                    }
                }
            }
        }
        return (output, saved)
    }

    @Test func maxPoolTiesPickTheFirstInRowMajorOrder() throws {
        // One 2×4 plane, 2×2 windows: window 0 holds 1, 3 | 3, 2 (tie between (0,1) and (1,0));
        // window 1 holds 3, 0 | 5, 5 (tie between (1,2) and (1,3)).
        let pool = try MaxPool2d<Double>(inputShape: [1, 2, 4], kernelSize: (2, 2))
        let (y, argmax) = try forward(pool, [1, 3, 3, 0, 3, 2, 5, 5])
        #expect(y == [3, 5])
        #expect(argmax == [1, 6])
    }

    @Test func maxPoolPaddingIsMinusInfinity() throws {
        // All-negative 3×3 input, kernel 3, stride 1, padding 1: zero padding would give 0.
        let pool = try MaxPool2d<Double>(inputShape: [1, 3, 3], kernelSize: (3, 3), stride: (1, 1), padding: (1, 1))
        let x: [Double] = [-9, -8, -7, -6, -5, -4, -3, -2, -1]
        let (y, argmax) = try forward(pool, x)
        #expect(y == [-5, -4, -4, -2, -1, -1, -2, -1, -1])
        #expect(argmax == [4, 5, 5, 7, 8, 8, 7, 8, 8])
        // Windows that are all −∞-padding but for their valid part start from the first valid index.
        let wide = try MaxPool2d<Float>(inputShape: [1, 2, 2], kernelSize: (2, 2), stride: (2, 2), padding: (1, 1))
        #expect(wide.outputShape == [1, 2, 2])
        let (yw, aw) = try forward(wide, [4, 3, 2, 1])
        #expect(yw == [4, 3, 2, 1])
        #expect(aw == [0, 1, 2, 3])
    }

    @Test func maxPoolNaNWinsAsInPyTorch() throws {
        // PyTorch's CPU kernel: v > max || isnan(v); the last NaN of the window wins.
        let pool = try MaxPool2d<Double>(inputShape: [1, 2, 2], kernelSize: (2, 2))
        let (y, argmax) = try forward(pool, [1, .nan, 7, .nan])
        #expect(y[0].isNaN)
        #expect(argmax == [3])
    }

    @Test func maxPoolRefusesUnsupportedOptions() {
        func field(_ body: () throws -> Any) -> String? {
            do { _ = try body(); return nil } catch let NetworkError.invalidLayer(_, field, _) { return field } catch { return "other" }
        }
        #expect(field { try MaxPool2d<Double>(inputShape: [1, 4, 4], kernelSize: (2, 2), dilation: (2, 2)) } == "dilation")
        #expect(field { try MaxPool2d<Double>(inputShape: [1, 4, 4], kernelSize: (2, 2), ceilMode: true) } == "ceil_mode")
        #expect(field { try MaxPool2d<Double>(inputShape: [1, 4, 4], kernelSize: (2, 2), padding: (2, 0)) } == "padding")
        #expect(field { try MaxPool2d<Double>(inputShape: [4, 4], kernelSize: (2, 2)) } == "input_shape")
        #expect(field { try MaxPool2d<Double>(inputShape: [1, 2, 2], kernelSize: (3, 3)) } == "kernel_size")
    }

    @Test func batchNormFormula() throws {
        // y = γ (x − μ)/√(σ² + ε) + β per channel, for a [2, 2] example (BatchNorm1d over [C, L]).
        let mean = [0.5, -1.0], variance = [4.0, 0.25], eps = 1e-3
        let norm = try BatchNorm<Double>(inputShape: [2, 2], epsilon: eps, runningMean: mean, runningVariance: variance)
        let gamma = [2.0, 3.0], beta = [0.1, 0.2]
        let x: [Double] = [1, 2, -3, 0.5]
        let (y, _) = try forward(norm, x, parameters: gamma + beta)
        for c in 0..<2 {
            for l in 0..<2 {
                let expected = gamma[c] * (x[c * 2 + l] - mean[c]) / (variance[c] + eps).squareRoot() + beta[c]
                #expect(abs(y[c * 2 + l] - expected) <= 4 * Double.ulpOfOne * abs(expected))
            }
        }
        // Without affine: x̂ alone; PyTorch's initial statistics (0, 1) give x/√(1 + ε).
        let plain = try BatchNorm<Double>(inputShape: [2], affine: false)
        #expect(plain.parameterCount == 0)
        let (z, _) = try forward(plain, [3, -1])
        #expect(abs(z[0] - 3 / (1 + 1e-5).squareRoot()) <= 1e-15)
    }

    @Test func batchNormRefusesBadStatistics() {
        #expect(throws: NetworkError.self) { try BatchNorm<Double>(inputShape: [2], runningVariance: [1, -0.5]) }
        #expect(throws: NetworkError.self) { try BatchNorm<Double>(inputShape: [2], runningMean: [1]) }
        #expect(throws: NetworkError.self) { try BatchNorm<Float>(inputShape: [1], runningMean: [1e300]) }
        #expect(throws: NetworkError.self) { try BatchNorm<Double>(inputShape: [2, 2, 2, 2]) }
    }

    @Test func embeddingBadIdsAreNamed() throws {
        let table = try Embedding<Double>(numEmbeddings: 7, embeddingDimension: 2, inputShape: [3])
        let weights = (0..<14).map { Double($0) }
        let (y, _) = try forward(table, [6, 0, 3], parameters: weights)
        #expect(y == [12, 13, 0, 1, 6, 7])
        for bad in [7.0, -1, 2.5] {
            do {
                _ = try forward(table, [0, bad, 1], parameters: weights)
                Issue.record("id \(bad) accepted")
            } catch let NetworkError.invalidLayer(layer, field, message) {
                #expect(layer == "embedding" && field == "input")
                #expect(message.contains("\(bad)") && message.contains("0..<7") && message.contains("position 1"))
            }
        }
        // Through a network: the error reaches the caller as a NetworkError.
        let network: Network<Double> = try ModelSpec(inputShape: [2], layers: [.embedding(numEmbeddings: 3, embeddingDimension: 2)]).makeNetwork()
        #expect(throws: NetworkError.self) { try network.forward(Matrix(rows: 1, columns: 2, storage: [0, 3])) }
    }

    @Test func softmaxIsStableForLargeInputs() throws {
        let softmax = try Softmax<Float>(inputShape: [2, 3], axis: -1)
        let (y, _) = try forward(softmax, [1000, 1001, 1002, -1000, -1000, -1000])
        let e = [1, Foundation.exp(1.0), Foundation.exp(2.0)], total = e.reduce(0, +)
        for j in 0..<3 { #expect(abs(Double(y[j]) - e[j] / total) <= 1e-6) }
        for j in 3..<6 { #expect(abs(y[j] - 1 / 3) <= 1e-6) }
        // Axis 0 of [2, 3]: pairs (x[0, k], x[1, k]).
        let columns = try Softmax<Double>(inputShape: [2, 3], axis: 0)
        let (z, _) = try forward(columns, [0, 1, 2, 0, 1, 2 + Foundation.log(3.0)])
        #expect(abs(z[0] - 0.5) <= 1e-15 && abs(z[2] - 0.25) <= 1e-15 && abs(z[5] - 0.75) <= 1e-15)
    }

    @Test func layerNormOverTheLastAxisMatchesPyTorch() throws {
        // torch.nn.LayerNorm(3) on a [2, 3] example normalizes each row with the biased variance.
        let norm = try LayerNorm<Double>(inputShape: [2, 3], normalizedShape: [3])
        let x: [Double] = [1, 2, 4, -1, 0, 10]
        let (y, _) = try forward(norm, x, parameters: [1, 2, 3, 0.5, 0, -0.5])
        for row in 0..<2 {
            let v = Array(x[(row * 3)..<(row * 3 + 3)])
            let mu = v.reduce(0, +) / 3, variance = v.map { ($0 - mu) * ($0 - mu) }.reduce(0, +) / 3
            for j in 0..<3 {
                let expected = [1.0, 2, 3][j] * (v[j] - mu) / (variance + 1e-5).squareRoot() + [0.5, 0, -0.5][j]
                #expect(abs(y[row * 3 + j] - expected) <= 1e-14)
            }
        }
    }

    @Test func permuteReshapeMeanAndConstantAffine() throws {
        let permute = try Permute<Double>(inputShape: [2, 3], permutation: [1, 0])
        #expect(permute.outputShape == [3, 2])
        #expect(try forward(permute, [1, 2, 3, 4, 5, 6]).output == [1, 4, 2, 5, 3, 6])
        #expect(throws: NetworkError.self) { try Permute<Double>(inputShape: [2, 3], permutation: [0, 0]) }
        let reshape = try Reshape<Double>(inputShape: [2, 3], shape: [-1, 2])
        #expect(reshape.outputShape == [3, 2])
        #expect(throws: NetworkError.self) { try Reshape<Double>(inputShape: [2, 3], shape: [4, -1]) }
        let mean = try Mean<Double>(inputShape: [2, 3], axes: [-1], keepDimensions: true)
        #expect(mean.outputShape == [2, 1])
        #expect(try forward(mean, [1, 2, 3, 4, 5, 9]).output == [2, 6])
        let columnMean = try Mean<Double>(inputShape: [2, 3], axes: [0])
        #expect(try forward(columnMean, [1, 2, 3, 4, 5, 9]).output == [2.5, 3.5, 6])
        #expect(throws: NetworkError.self) { try Mean<Double>(inputShape: [2, 3], axes: [2]) }
        let affine = try ConstantAffine<Double>(
            inputShape: [2, 3], scale: ConstantTensor(shape: [1, 3], values: [1, 2, 3]), shift: ConstantTensor(shape: [2, 1], values: [10, 20]))
        #expect(try forward(affine, [1, 1, 1, 2, 2, 2]).output == [11, 12, 13, 22, 24, 26])
        #expect(throws: NetworkError.self) { try ConstantAffine<Double>(inputShape: [2, 3], scale: ConstantTensor(shape: [2], values: [1, 2])) }
        #expect(throws: NetworkError.self) { try ConstantAffine<Double>(inputShape: [3], scale: ConstantTensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])) }
        #expect(throws: NetworkError.self) { try Dropout<Double>(inputShape: [3], probability: 1) }
    }

    @Test func broadcastFollowsNumPy() throws {
        let t = try ConstantTensor(shape: [2, 1, 3], values: [1, 2, 3, 4, 5, 6])
        #expect(t.broadcast(to: [2, 2, 3]) == [1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6])
        #expect(t.broadcast(to: [4, 2, 2, 3])?.count == 48)
        #expect(t.broadcast(to: [2, 3]) == nil)
        #expect(ConstantTensor(scalar: 7).broadcast(to: [2]) == [7, 7])
        #expect(throws: NetworkError.self) { try ConstantTensor(shape: [2], values: [1]) }
    }
}

@Suite("Buffers: BatchNorm running statistics in state_dicts")
struct BufferTests {
    static let spec = ModelSpec(inputShape: [2, 3, 3], layers: [
        .conv2d(inChannels: 2, outChannels: 3, kernelSize: 2), .batchNorm2d(numFeatures: 3), .activation(.relu),
        .residual([.batchNorm2d(numFeatures: 3, affine: false), .dropout(p: 0.1)]), .maxPool2d(kernelSize: 2), .flatten,
        .linear(inFeatures: 3, outFeatures: 2),
    ])

    static let buffers: [String: [Double]] = [
        "1.running_mean": [0.1, 0.2, 0.3], "1.running_var": [1.5, 0.5, 2],
        "3.layers.0.running_mean": [-0.1, 0, 0.4], "3.layers.0.running_var": [0.9, 1.1, 3],
    ]

    @Test func namesFollowTheStateDict() throws {
        let network: Network<Double> = try Self.spec.makeNetwork()
        #expect(network.parameterTensors.map(\.name) == ["0.weight", "0.bias", "1.weight", "1.bias", "6.weight", "6.bias"])
        #expect(network.bufferTensors.map(\.name) == ["1.running_mean", "1.running_var", "3.layers.0.running_mean", "3.layers.0.running_var"])
        #expect(network.bufferTensors.allSatisfy { $0.shape == [3] })
        #expect(network.bufferTensors[0].values == [0, 0, 0] && network.bufferTensors[1].values == [1, 1, 1])
        #expect(network.ignoredStateNames == ["1.num_batches_tracked", "3.layers.0.num_batches_tracked"])
    }

    @Test func saveLoadRoundTripCarriesBuffers() throws {
        try BLASThreads.set(1)
        var source: Network<Double> = try Self.spec.makeNetwork(seed: 3)
        try source.replaceBuffers(Self.buffers)
        var target: Network<Double> = try Self.spec.makeNetwork(seed: 4)
        try target.loadParameters(from: Safetensors(data: source.safetensorsData(dtype: .f64)))
        #expect(target.parameters == source.parameters)
        #expect(target.bufferTensors == source.bufferTensors)
        var rng = SeededGenerator(seed: 5)
        let x = try Matrix<Double>(rows: 2, columns: 18, storage: .gaussian(count: 36, using: &rng))
        #expect(try target.forward(x).storage == source.forward(x).storage)
        // The buffers change the function (the running statistics are not ignored).
        let fresh: Network<Double> = try Self.spec.makeNetwork(seed: 3)
        #expect(try fresh.forward(x).storage != source.forward(x).storage)
        // Precision conversion keeps the Double buffers exactly.
        let asFloat = try source.converted(to: Float.self)
        #expect(asFloat.bufferTensors == source.bufferTensors)
        #expect(try asFloat.converted(to: Double.self).bufferTensors == source.bufferTensors)
    }

    /// A file as PyTorch writes it: F32 parameters and buffers, int64 scalar num_batches_tracked.
    func pyTorchFile(from network: Network<Double>, extra: [(String, String, [Int], Data)] = [], dropping: Set<String> = []) throws -> Safetensors {
        var tensors: [(name: String, dtype: String, shape: [Int], bytes: Data)] = []
        func f32(_ values: [Double]) -> Data {
            var d = Data()
            for v in values { withUnsafeBytes(of: Float(v).bitPattern.littleEndian) { d.append(contentsOf: $0) } }
            return d
        }
        for t in network.parameterTensors {
            tensors.append((t.name, "F32", t.shape, f32(Array(network.parameters[t.offset..<(t.offset + t.count)]))))
        }
        for b in network.bufferTensors { tensors.append((b.name, "F32", b.shape, f32(b.values))) }
        for name in network.ignoredStateNames {
            tensors.append((name, "I64", [], withUnsafeBytes(of: Int64(1234).littleEndian) { Data($0) }))
        }
        tensors = tensors.filter { !dropping.contains($0.name) } + extra.map { (name: $0.0, dtype: $0.1, shape: $0.2, bytes: $0.3) }
        return try Safetensors(data: Safetensors.encode(raw: tensors))
    }

    @Test func pyTorchStateDictWithNumBatchesTrackedLoadsStrictly() throws {
        var source: Network<Double> = try Self.spec.makeNetwork(seed: 3)
        try source.replaceBuffers(Self.buffers)
        let file = try pyTorchFile(from: source)
        #expect(file.entries["1.num_batches_tracked"]?.dtype == "I64")
        #expect(file.entries["1.num_batches_tracked"]?.shape == [])
        var target: Network<Float> = try Self.spec.makeNetwork(seed: 9)
        try target.loadParameters(from: file)
        for (a, b) in zip(target.bufferTensors, source.bufferTensors) {
            #expect(a.name == b.name)
            #expect(a.values == b.values.map { Double(Float($0)) })
        }
        // num_batches_tracked is never required; absent buffers keep their values.
        var partial: Network<Double> = try Self.spec.makeNetwork(seed: 9)
        try partial.loadParameters(from: pyTorchFile(
            from: source, dropping: ["1.num_batches_tracked", "3.layers.0.num_batches_tracked", "3.layers.0.running_var"]))
        #expect(partial.bufferTensors[1].values == [1.5, 0.5, 2].map { Double(Float($0)) })
        #expect(partial.bufferTensors[3].values == [1, 1, 1])
    }

    @Test func strictLoadingStillRefusesUnknownNames() throws {
        let source: Network<Double> = try Self.spec.makeNetwork(seed: 3)
        let file = try pyTorchFile(from: source, extra: [("2.num_batches_tracked", "I64", [], Data(count: 8))])
        var target: Network<Double> = try Self.spec.makeNetwork(seed: 9)
        #expect(throws: SafetensorsError.unexpectedTensor(name: "2.num_batches_tracked")) { try target.loadParameters(from: file) }
        try target.loadParameters(from: file, strict: false)
        #expect(target.parameters == source.parameters.map { Double(Float($0)) })
    }

    @Test func invalidBufferValuesAreNamed() throws {
        var source: Network<Double> = try Self.spec.makeNetwork(seed: 3)
        var bad = Self.buffers
        bad["3.layers.0.running_var"] = [1, -2, 1]
        #expect(throws: NetworkError.self) { try source.replaceBuffers(bad) }
        let file = try pyTorchFile(
            from: source, extra: [("3.layers.0.running_var", "F32", [3], Data([1, -2, 1].flatMap { (v: Float) in withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } }))],
            dropping: ["3.layers.0.running_var"])
        let before = source.parameters
        // (A typed `catch let SafetensorsError.invalidValue(…)` pattern here crashes the Swift
        // 6.3.1 SIL ownership verifier; match the case on the caught value instead.)
        let failure: SafetensorsError?
        do {
            try source.loadParameters(from: file)
            failure = nil
        } catch {
            failure = error
        }
        guard case let .invalidValue(name, message)? = failure else {
            Issue.record("expected invalidValue, got \(String(describing: failure))")
            return
        }
        #expect(name == "3.layers.0.running_var")
        #expect(message.contains("element 1"))
        #expect(source.parameters == before)
        let wrongShape = try pyTorchFile(from: source, extra: [("1.running_mean", "F32", [2], Data(count: 8))], dropping: ["1.running_mean"])
        #expect(throws: SafetensorsError.shapeMismatch(name: "1.running_mean", expected: [3], got: [2])) { try source.loadParameters(from: wrongShape) }
        #expect(throws: NetworkError.self) { try source.replaceBuffers(["1.running_average": [0, 0, 0]]) }
    }
}

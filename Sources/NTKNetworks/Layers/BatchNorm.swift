import NTKLinearAlgebra

/// Batch normalization in **evaluation mode**, like PyTorch's `nn.BatchNorm1d` (inputs [C] or
/// [C, L]) and `nn.BatchNorm2d` (inputs [C, H, W]) after `model.eval()` (Ioffe & Szegedy 2015,
/// arXiv:1502.03167): for channel c,
/// y = γ_c (x − μ_c)/√(σ²_c + ε) + β_c,
/// with the running mean μ and running variance σ² as **constants** (buffers
/// `running_mean`, `running_var`, shape [C], loaded from the `state_dict`; defaults 0 and 1,
/// PyTorch's initial values) and γ ("weight", initially 1) and β ("bias", initially 0) the
/// trainable parameters when `affine` (PyTorch's default).
///
/// The NTK of a network with BatchNorm is therefore taken in evaluation mode: each example is
/// normalized by the running statistics, not by its batch, so examples do not interact and
/// the layer is affine in x. Training-mode batch statistics (and their momentum updates) are
/// not modelled.
///
/// With r_c = 1/√(σ²_c + ε) and x̂ = (x − μ_c) r_c (recomputed from the input, nothing saved):
/// - JVP: ẏ = γ_c r_c ẋ + γ̇_c x̂ + β̇_c.
/// - VJP: γ̄_c += Σ ȳ ⊙ x̂, β̄_c += Σ ȳ (over the positions of channel c), x̄ = γ_c r_c ȳ.
/// γ and β are not rescaled under the NTK parameterization (like `LayerNorm`).
/// - Complexity: O(b·s·features) per pass.
public struct BatchNorm<Scalar: BLASScalar>: BufferedLayer {
    public let inputShape: [Int]
    public let epsilon: Double
    public let affine: Bool
    /// μ, [C].
    public let runningMean: [Double]
    /// σ², [C].
    public let runningVariance: [Double]
    /// μ_c in `Scalar`.
    let mean: [Scalar]
    /// r_c = 1/√(σ²_c + ε), computed in `Double` and rounded once.
    let inverseStd: [Scalar]

    /// - Parameters:
    ///   - inputShape: [C] or [C, L] (BatchNorm1d) or [C, H, W] (BatchNorm2d).
    ///   - runningMean, runningVariance: C values each; nil for PyTorch's initial 0 and 1.
    /// - Throws: `NetworkError.invalidLayer` naming `input_shape`, `eps`, `running_mean` or
    ///   `running_var` (non-finite, negative variance, wrong count).
    public init(
        inputShape: [Int], epsilon: Double = 1e-5, affine: Bool = true, runningMean: [Double]? = nil,
        runningVariance: [Double]? = nil
    ) throws {
        func fail(_ field: String, _ message: String) -> NetworkError {
            .invalidLayer(layer: "batchnorm", field: field, message: message)
        }
        guard (1...3).contains(inputShape.count), inputShape.allSatisfy({ $0 > 0 }), SizeLimit.product(inputShape) != nil else {
            throw fail("input_shape", "got \(inputShape), expected [C], [C, L] or [C, H, W] with positive sizes")
        }
        guard epsilon > 0, epsilon.isFinite else { throw fail("eps", "got \(epsilon), expected a positive finite value") }
        let channels = inputShape[0]
        let mean = runningMean ?? [Double](repeating: 0, count: channels)
        let variance = runningVariance ?? [Double](repeating: 1, count: channels)
        guard mean.count == channels else {
            throw fail("running_mean", "got \(mean.count) values, expected \(channels) (one per channel)")
        }
        guard variance.count == channels else {
            throw fail("running_var", "got \(variance.count) values, expected \(channels) (one per channel)")
        }
        if let bad = mean.firstIndex(where: { !$0.isFinite }) {
            throw fail("running_mean", "element \(bad) is \(mean[bad]), expected a finite value")
        }
        if let bad = variance.firstIndex(where: { !($0.isFinite && $0 >= 0) }) {
            throw fail("running_var", "element \(bad) is \(variance[bad]), expected a finite non-negative variance")
        }
        if let bad = mean.firstIndex(where: { !Scalar($0).isFinite }) {
            throw fail("running_mean", "element \(bad) is \(mean[bad]), which overflows \(Scalar.precisionName)")
        }
        self.inputShape = inputShape
        self.epsilon = epsilon
        self.affine = affine
        self.runningMean = mean
        self.runningVariance = variance
        self.mean = mean.map { Scalar($0) }
        self.inverseStd = variance.map { Scalar(1 / ($0 + epsilon).squareRoot()) }
    }

    public var outputShape: [Int] { inputShape }
    /// C.
    public var channels: Int { inputShape[0] }
    /// Positions per channel (1, L or H·W).
    var positions: Int { inputShape.dropFirst().reduce(1, *) }
    public var parameterCount: Int { affine ? 2 * channels : 0 }

    public var parameterTensors: [ParameterTensor] {
        guard affine else { return [] }
        return [
            ParameterTensor(name: "weight", shape: [channels], offset: 0),
            ParameterTensor(name: "bias", shape: [channels], offset: channels),
        ]
    }

    public var bufferTensors: [BufferTensor] {
        [
            BufferTensor(name: "running_mean", shape: [channels], values: runningMean),
            BufferTensor(name: "running_var", shape: [channels], values: runningVariance),
        ]
    }

    /// PyTorch's int64 batch counter, used only by training-mode momentum: accepted, ignored.
    public var ignoredStateNames: [String] { ["num_batches_tracked"] }

    public func replacingBuffers(_ values: [String: [Double]]) throws -> BatchNorm<Scalar> {
        if let unknown = values.keys.sorted().first(where: { $0 != "running_mean" && $0 != "running_var" }) {
            throw NetworkError.invalidLayer(
                layer: "batchnorm", field: unknown, message: "not a buffer of batchnorm (expected running_mean, running_var)")
        }
        return try BatchNorm(
            inputShape: inputShape, epsilon: epsilon, affine: affine, runningMean: values["running_mean"] ?? runningMean,
            runningVariance: values["running_var"] ?? runningVariance)
    }

    /// Rebuilt from ε, the flag and the `Double` running statistics (r_c recomputed in `Other`).
    public func converted<Other: BLASScalar>(to: Other.Type) throws -> any Layer<Other> {
        try BatchNorm<Other>(
            inputShape: inputShape, epsilon: epsilon, affine: affine, runningMean: runningMean,
            runningVariance: runningVariance)
    }

    public func initialize(parameters: UnsafeMutableBufferPointer<Scalar>, using generator: inout SeededGenerator) {
        guard affine else { return }
        for c in 0..<channels {
            parameters[c] = 1
            parameters[channels + c] = 0
        }
    }

    public func savedCount(batch: Int) -> Int { 0 }
    public func scratchCount(batch: Int, block: Int) -> Int { 0 }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(
        parameters: UnsafePointer<Scalar>, input: UnsafePointer<Scalar>, batch: Int,
        output: UnsafeMutablePointer<Scalar>, saved: UnsafeMutablePointer<Scalar>
    ) {
        let C = channels, L = positions
        for i in 0..<batch {
            for c in 0..<C {
                let x = input + (i * C + c) * L, y = output + (i * C + c) * L
                let mu = mean[c], r = inverseStd[c]
                let gain = affine ? parameters[c] : 1, shift = affine ? parameters[C + c] : 0
                for l in 0..<L { y[l] = gain * ((x[l] - mu) * r) + shift }
            }
        }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func jvp(
        _ state: LayerState<Scalar>, parameterTangents: UnsafePointer<Scalar>?, parameterStride: Int,
        inputTangents: UnsafePointer<Scalar>?, block s: Int,
        outputTangents: UnsafeMutablePointer<Scalar>, scratch: UnsafeMutablePointer<Scalar>
    ) {
        let C = channels, L = positions, F = inputSize, b = state.batch
        for i in 0..<b {
            for t in 0..<s {
                for c in 0..<C {
                    let yDot = outputTangents + (i * s + t) * F + c * L
                    if let inputTangents {
                        let xDot = inputTangents + (i * s + t) * F + c * L
                        let scale = (affine ? state.parameters[c] : 1) * inverseStd[c]
                        for l in 0..<L { yDot[l] = scale * xDot[l] }
                    } else {
                        yDot.update(repeating: 0, count: L)
                    }
                    if affine, let parameterTangents {
                        let gainDot = parameterTangents[t * parameterStride + c]
                        let biasDot = parameterTangents[t * parameterStride + C + c]
                        let x = state.input + (i * C + c) * L, mu = mean[c], r = inverseStd[c]
                        for l in 0..<L { yDot[l] += gainDot * ((x[l] - mu) * r) + biasDot }
                    }
                }
            }
        }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func vjp(
        _ state: LayerState<Scalar>, outputCotangents: UnsafePointer<Scalar>, block s: Int,
        parameterCotangents: UnsafeMutablePointer<Scalar>?, parameterStride: Int,
        inputCotangents: UnsafeMutablePointer<Scalar>?, scratch: UnsafeMutablePointer<Scalar>
    ) {
        let C = channels, L = positions, F = inputSize, b = state.batch
        for i in 0..<b {
            for t in 0..<s {
                for c in 0..<C {
                    let yBar = outputCotangents + (i * s + t) * F + c * L
                    if affine, let parameterCotangents {
                        let x = state.input + (i * C + c) * L, mu = mean[c], r = inverseStd[c]
                        var gainSum: Scalar = 0, biasSum: Scalar = 0
                        for l in 0..<L {
                            gainSum += yBar[l] * ((x[l] - mu) * r)
                            biasSum += yBar[l]
                        }
                        parameterCotangents[t * parameterStride + c] += gainSum
                        parameterCotangents[t * parameterStride + C + c] += biasSum
                    }
                    if let inputCotangents {
                        let xBar = inputCotangents + (i * s + t) * F + c * L
                        let scale = (affine ? state.parameters[c] : 1) * inverseStd[c]
                        for l in 0..<L { xBar[l] = scale * yBar[l] }
                    }
                }
            }
        }
    }
}

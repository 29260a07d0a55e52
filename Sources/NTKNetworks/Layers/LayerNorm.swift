import NTKLinearAlgebra

/// Layer normalization over the trailing `normalizedShape` dimensions (D elements), like
/// PyTorch's `nn.LayerNorm(normalized_shape, eps=1e-5, elementwise_affine=True)`
/// (Ba, Kiros & Hinton 2016, arXiv:1607.06450). For each group x ∈ R^D:
/// μ = mean x, v = mean (x − μ)², r = 1/√(v + ε), x̂ = (x − μ) r, y = g ⊙ x̂ + β.
///
/// Saved: x̂ and r. Derivatives per group (m(·) is the mean over the D elements):
/// - JVP: ẏ = ġ ⊙ x̂ + β̇ + g ⊙ r (ẋ − m(ẋ) − x̂ m(x̂ ⊙ ẋ)).
/// - VJP: ḡ += Σ ȳ ⊙ x̂, β̄ += Σ ȳ; with z = g ⊙ ȳ, x̄ = r (z − m(z) − x̂ m(z ⊙ x̂)).
/// Gain 1 and bias 0 at initialization under both parameterizations (PyTorch's default).
/// - Complexity: O(b·s·features) per pass.
public struct LayerNorm<Scalar: BLASScalar>: Layer {
    public let inputShape: [Int]
    public let normalizedShape: [Int]
    public let epsilon: Double
    public let elementwiseAffine: Bool

    /// - Throws: `NetworkError.invalidLayer` naming `normalized_shape` or `eps`.
    public init(inputShape: [Int], normalizedShape: [Int], epsilon: Double = 1e-5, elementwiseAffine: Bool = true) throws {
        func fail(_ field: String, _ message: String) -> NetworkError {
            .invalidLayer(layer: "layernorm", field: field, message: message)
        }
        guard !normalizedShape.isEmpty, normalizedShape.allSatisfy({ $0 > 0 }),
            normalizedShape.count <= inputShape.count,
            Array(inputShape.suffix(normalizedShape.count)) == normalizedShape
        else {
            throw fail("normalized_shape", "got \(normalizedShape), expected the trailing dimensions of the input shape \(inputShape)")
        }
        guard epsilon > 0, epsilon.isFinite else { throw fail("eps", "got \(epsilon), expected a positive finite value") }
        self.inputShape = inputShape
        self.normalizedShape = normalizedShape
        self.epsilon = epsilon
        self.elementwiseAffine = elementwiseAffine
    }

    public var outputShape: [Int] { inputShape }
    /// D: elements per normalized group.
    var groupSize: Int { normalizedShape.reduce(1, *) }
    /// Groups per example.
    var groups: Int { inputSize / groupSize }
    public var parameterCount: Int { elementwiseAffine ? 2 * groupSize : 0 }

    public var parameterTensors: [ParameterTensor] {
        guard elementwiseAffine else { return [] }
        return [
            ParameterTensor(name: "weight", shape: normalizedShape, offset: 0),
            ParameterTensor(name: "bias", shape: normalizedShape, offset: groupSize),
        ]
    }

    public func converted<Other: BLASScalar>(to: Other.Type) throws -> any Layer<Other> {
        try LayerNorm<Other>(
            inputShape: inputShape, normalizedShape: normalizedShape, epsilon: epsilon, elementwiseAffine: elementwiseAffine)
    }

    public func initialize(parameters: UnsafeMutableBufferPointer<Scalar>, using generator: inout SeededGenerator) {
        guard elementwiseAffine else { return }
        for j in 0..<groupSize {
            parameters[j] = 1
            parameters[groupSize + j] = 0
        }
    }

    /// x̂ (b·features) then r (b·groups).
    public func savedCount(batch: Int) -> Int { batch * (inputSize + groups) }
    public func scratchCount(batch: Int, block: Int) -> Int { 0 }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(
        parameters: UnsafePointer<Scalar>, input: UnsafePointer<Scalar>, batch: Int,
        output: UnsafeMutablePointer<Scalar>, saved: UnsafeMutablePointer<Scalar>
    ) throws {
        let D = groupSize, eps = Scalar(epsilon)
        let normalized = saved, inverseStd = saved + batch * inputSize
        let inverseD = 1 / Scalar(D)
        for g in 0..<(batch * groups) {
            let x = input + g * D, xHat = normalized + g * D, y = output + g * D
            var mean: Scalar = 0
            for j in 0..<D { mean += x[j] }
            mean *= inverseD
            var variance: Scalar = 0
            for j in 0..<D { variance += (x[j] - mean) * (x[j] - mean) }
            variance *= inverseD
            let r = 1 / Scalar.sqrt(variance + eps)
            inverseStd[g] = r
            for j in 0..<D {
                xHat[j] = (x[j] - mean) * r
                y[j] = elementwiseAffine ? parameters[j] * xHat[j] + parameters[D + j] : xHat[j]
            }
        }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func jvp(
        _ state: LayerState<Scalar>, parameterTangents: UnsafePointer<Scalar>?, parameterStride: Int,
        inputTangents: UnsafePointer<Scalar>?, block s: Int,
        outputTangents: UnsafeMutablePointer<Scalar>, scratch: UnsafeMutablePointer<Scalar>
    ) throws {
        let D = groupSize, G = groups, F = inputSize, b = state.batch
        let inverseD = 1 / Scalar(D)
        let normalized = state.saved, inverseStd = state.saved + b * F
        for i in 0..<b {
            for t in 0..<s {
                let paramDot = parameterTangents.map { $0 + t * parameterStride }
                for g in 0..<G {
                    let xHat = normalized + (i * G + g) * D, r = inverseStd[i * G + g]
                    let yDot = outputTangents + (i * s + t) * F + g * D
                    if let xDotBase = inputTangents {
                        let xDot = xDotBase + (i * s + t) * F + g * D
                        var meanDot: Scalar = 0, meanProduct: Scalar = 0
                        for j in 0..<D {
                            meanDot += xDot[j]
                            meanProduct += xHat[j] * xDot[j]
                        }
                        meanDot *= inverseD
                        meanProduct *= inverseD
                        for j in 0..<D {
                            let gain = elementwiseAffine ? state.parameters[j] : 1
                            yDot[j] = gain * r * (xDot[j] - meanDot - xHat[j] * meanProduct)
                        }
                    } else {
                        yDot.update(repeating: 0, count: D)
                    }
                    if elementwiseAffine, let paramDot {
                        for j in 0..<D { yDot[j] += paramDot[j] * xHat[j] + paramDot[D + j] }
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
    ) throws {
        let D = groupSize, G = groups, F = inputSize, b = state.batch
        let inverseD = 1 / Scalar(D)
        let normalized = state.saved, inverseStd = state.saved + b * F
        for i in 0..<b {
            for t in 0..<s {
                for g in 0..<G {
                    let xHat = normalized + (i * G + g) * D, r = inverseStd[i * G + g]
                    let yBar = outputCotangents + (i * s + t) * F + g * D
                    if elementwiseAffine, let base = parameterCotangents {
                        let gainBar = base + t * parameterStride, biasBar = gainBar + D
                        for j in 0..<D {
                            gainBar[j] += yBar[j] * xHat[j]
                            biasBar[j] += yBar[j]
                        }
                    }
                    if let xBarBase = inputCotangents {
                        let xBar = xBarBase + (i * s + t) * F + g * D
                        var meanZ: Scalar = 0, meanProduct: Scalar = 0
                        for j in 0..<D {
                            let z = (elementwiseAffine ? state.parameters[j] : 1) * yBar[j]
                            meanZ += z
                            meanProduct += z * xHat[j]
                        }
                        meanZ *= inverseD
                        meanProduct *= inverseD
                        for j in 0..<D {
                            let z = (elementwiseAffine ? state.parameters[j] : 1) * yBar[j]
                            xBar[j] = r * (z - meanZ - xHat[j] * meanProduct)
                        }
                    }
                }
            }
        }
    }
}

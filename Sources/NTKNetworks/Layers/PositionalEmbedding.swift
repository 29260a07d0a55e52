import NTKLinearAlgebra

/// A learned absolute positional embedding (GPT-2 / BERT / ViT style): for an example
/// x [T, D], y[τ, :] = x[τ, :] + c · E[τ, :], with E a [maxLength, D] table (state_dict name
/// "weight", like `nn.Embedding(max_len, D)` indexed by arange(T)); rows ≥ T are unused.
///
/// Initialization: N(0, 1) as `nn.Embedding`, c = 1 under the standard parameterization;
/// under `.ntk(σ_w, σ_b)` E ~ N(0, 1) with c = σ_b (an additive, bias-like parameter).
///
/// Derivatives: ẏ = ẋ + c Ė_t[0..<T]; x̄ = ȳ; Ē_t[τ] += c Σ_i ȳ[i, t, τ].
/// - Complexity: O(b·s·T·D) for every pass; no GEMM needed, no allocation.
///
/// The passes are declared non-throwing (they cannot fail): with Swift 6.3 in release mode a
/// `@_specialize`d *throwing* VJP with no throwing call inside returned a spurious error
/// (reproduced in a benchmark; debug builds unaffected).
public struct PositionalEmbedding<Scalar: BLASScalar>: Layer {
    public let sequenceLength: Int
    public let maxLength: Int
    public let embedDimension: Int
    public let parameterization: Parameterization
    let multiplier: Scalar

    /// - Throws: `NetworkError.invalidLayer` if a size is not positive or `maxLength < sequenceLength`.
    public init(
        sequenceLength: Int, embedDimension: Int, maxLength: Int? = nil, parameterization: Parameterization = .standard
    ) throws {
        let maxLength = maxLength ?? sequenceLength
        for (field, value) in [("seq_len", sequenceLength), ("embed_dim", embedDimension), ("max_len", maxLength)] where value <= 0 {
            throw NetworkError.invalidLayer(layer: "positional_embedding", field: field, message: "got \(value), expected a positive size")
        }
        guard maxLength >= sequenceLength else {
            throw NetworkError.invalidLayer(
                layer: "positional_embedding", field: "max_len",
                message: "got \(maxLength), expected at least the sequence length \(sequenceLength)")
        }
        guard SizeLimit.product([maxLength, embedDimension]) != nil else {
            throw NetworkError.invalidLayer(
                layer: "positional_embedding", field: "max_len",
                message: "\(maxLength) × \(embedDimension) embedding weights overflow the integer range")
        }
        inputShape = [sequenceLength, embedDimension]
        outputShape = inputShape
        self.sequenceLength = sequenceLength
        self.maxLength = maxLength
        self.embedDimension = embedDimension
        self.parameterization = parameterization
        multiplier = Scalar(parameterization.multipliers(fanIn: embedDimension).bias)
    }

    public let inputShape: [Int]
    public let outputShape: [Int]
    public var parameterCount: Int { maxLength * embedDimension }
    public var parameterTensors: [ParameterTensor] {
        [ParameterTensor(name: "weight", shape: [maxLength, embedDimension], offset: 0)]
    }

    /// Rebuilt with the same sizes and parameterization (multiplier recomputed in `Other`).
    public func converted<Other: BLASScalar>(to: Other.Type) throws -> any Layer<Other> {
        try PositionalEmbedding<Other>(
            sequenceLength: sequenceLength, embedDimension: embedDimension, maxLength: maxLength,
            parameterization: parameterization)
    }

    public func initialize(parameters: UnsafeMutableBufferPointer<Scalar>, using generator: inout SeededGenerator) {
        generator.fillGaussian(parameters)
    }

    public func savedCount(batch: Int) -> Int { 0 }
    public func scratchCount(batch: Int, block: Int) -> Int { 0 }

    var usedCount: Int { sequenceLength * embedDimension }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(
        parameters: UnsafePointer<Scalar>, input: UnsafePointer<Scalar>, batch: Int,
        output: UnsafeMutablePointer<Scalar>, saved: UnsafeMutablePointer<Scalar>
    ) {
        let n = usedCount
        for i in 0..<batch {
            let x = input + i * n, y = output + i * n
            for j in 0..<n { y[j] = x[j] + multiplier * parameters[j] }
        }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func jvp(
        _ state: LayerState<Scalar>, parameterTangents: UnsafePointer<Scalar>?, parameterStride: Int,
        inputTangents: UnsafePointer<Scalar>?, block s: Int,
        outputTangents: UnsafeMutablePointer<Scalar>, scratch: UnsafeMutablePointer<Scalar>
    ) {
        let n = usedCount, b = state.batch
        if let inputTangents {
            outputTangents.update(from: inputTangents, count: b * s * n)
        } else {
            outputTangents.update(repeating: 0, count: b * s * n)
        }
        guard let tangents = parameterTangents else { return }
        for i in 0..<b {
            for t in 0..<s {
                let e = tangents + t * parameterStride, y = outputTangents + (i * s + t) * n
                for j in 0..<n { y[j] += multiplier * e[j] }
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
        let n = usedCount, b = state.batch
        if let cotangents = parameterCotangents {
            for i in 0..<b {
                for t in 0..<s {
                    let e = cotangents + t * parameterStride, y = outputCotangents + (i * s + t) * n
                    for j in 0..<n { e[j] += multiplier * y[j] }
                }
            }
        }
        if let inputCotangents { inputCotangents.update(from: outputCotangents, count: b * s * n) }
    }
}

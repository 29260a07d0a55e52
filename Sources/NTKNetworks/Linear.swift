import NTKLinearAlgebra

/// A dense layer y = c_w · x Wᵀ + c_b · b, like PyTorch's `nn.Linear` (W is [out, in]).
///
/// (c_w, c_b) = (1, 1) in the standard parameterization and (σ_w/√in, σ_b) in the NTK
/// parameterization (see `Parameterization`). Parameters in θ: W ([out, in], row-major)
/// then b ([out]) when `bias` is true.
///
/// Derivatives for a block of s vectors (x: [b, in]; tangents [b, s, ·]):
/// - JVP: ẏ = c_w (x Ẇ_tᵀ + ẋ Wᵀ) + c_b ḃ_t. The s weight tangents are packed into
///   [s·out, in] so that x·packᵀ is one GEMM giving [b, s·out] = [b, s, out]; ẋ viewed as
///   [(b·s), in] times Wᵀ is a second GEMM.
/// - VJP: W̄_t += c_w Σ_i ȳ_{i,t} x_iᵀ is one GEMM ȳᵀ (as [b, s·out]ᵀ) · x → [s·out, in];
///   b̄_t += c_b Σ_i ȳ_{i,t}; x̄ = c_w ȳ W, one GEMM on [(b·s), out].
/// - Complexity: forward 2·b·in·out flops; JVP and VJP 4·b·s·in·out flops each.
public struct Linear<Scalar: BLASScalar>: Layer {
    public let inFeatures: Int
    public let outFeatures: Int
    public let hasBias: Bool
    public let parameterization: Parameterization
    let weightMultiplier: Scalar
    let biasMultiplier: Scalar

    /// - Throws: `NetworkError.invalidLayer` if a size is not positive.
    public init(
        inFeatures: Int, outFeatures: Int, bias: Bool = true, parameterization: Parameterization = .standard
    ) throws {
        guard inFeatures > 0 else {
            throw NetworkError.invalidLayer(layer: "linear", field: "in_features", message: "got \(inFeatures), expected a positive size")
        }
        guard outFeatures > 0 else {
            throw NetworkError.invalidLayer(layer: "linear", field: "out_features", message: "got \(outFeatures), expected a positive size")
        }
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        self.hasBias = bias
        self.parameterization = parameterization
        let m = parameterization.multipliers(fanIn: inFeatures)
        weightMultiplier = Scalar(m.weight)
        biasMultiplier = Scalar(m.bias)
    }

    public var inputShape: [Int] { [inFeatures] }
    public var outputShape: [Int] { [outFeatures] }
    var weightCount: Int { inFeatures * outFeatures }
    public var parameterCount: Int { weightCount + (hasBias ? outFeatures : 0) }

    public var parameterTensors: [ParameterTensor] {
        var t = [ParameterTensor(name: "weight", shape: [outFeatures, inFeatures], offset: 0)]
        if hasBias { t.append(ParameterTensor(name: "bias", shape: [outFeatures], offset: weightCount)) }
        return t
    }

    public func initialize(parameters: UnsafeMutableBufferPointer<Scalar>, using generator: inout SeededGenerator) {
        parameterization.initialize(
            UnsafeMutableBufferPointer(rebasing: parameters[0..<weightCount]), fanIn: inFeatures, using: &generator)
        if hasBias {
            parameterization.initialize(
                UnsafeMutableBufferPointer(rebasing: parameters[weightCount..<parameterCount]),
                fanIn: inFeatures, using: &generator)
        }
    }

    public func savedCount(batch: Int) -> Int { 0 }
    public func scratchCount(batch: Int, block: Int) -> Int { block * weightCount }

    public func forward(
        parameters: UnsafePointer<Scalar>, input: UnsafePointer<Scalar>, batch: Int,
        output: UnsafeMutablePointer<Scalar>, saved: UnsafeMutablePointer<Scalar>
    ) throws {
        try Scalar.gemm(
            .none, .transpose, m: batch, n: outFeatures, k: inFeatures, alpha: weightMultiplier,
            a: input, lda: inFeatures, b: parameters, ldb: inFeatures, beta: 0, c: output, ldc: outFeatures)
        if hasBias {
            let bias = parameters + weightCount
            for i in 0..<batch {
                let row = output + i * outFeatures
                for o in 0..<outFeatures { row[o] += biasMultiplier * bias[o] }
            }
        }
    }

    public func jvp(
        _ state: LayerState<Scalar>, parameterTangents: UnsafePointer<Scalar>?, parameterStride: Int,
        inputTangents: UnsafePointer<Scalar>?, block s: Int,
        outputTangents: UnsafeMutablePointer<Scalar>, scratch: UnsafeMutablePointer<Scalar>
    ) throws {
        let b = state.batch
        var beta: Scalar = 0
        if let tangents = parameterTangents {
            // Pack Ẇ_1…Ẇ_s into [s·out, in]; one GEMM x · packᵀ → [b, s·out].
            for t in 0..<s {
                (scratch + t * weightCount).update(from: tangents + t * parameterStride, count: weightCount)
            }
            try Scalar.gemm(
                .none, .transpose, m: b, n: s * outFeatures, k: inFeatures, alpha: weightMultiplier,
                a: state.input, lda: inFeatures, b: scratch, ldb: inFeatures,
                beta: 0, c: outputTangents, ldc: s * outFeatures)
            beta = 1
            if hasBias {
                for t in 0..<s {
                    let biasTangent = tangents + t * parameterStride + weightCount
                    for i in 0..<b {
                        let row = outputTangents + (i * s + t) * outFeatures
                        for o in 0..<outFeatures { row[o] += biasMultiplier * biasTangent[o] }
                    }
                }
            }
        }
        if let inputTangents {
            try Scalar.gemm(
                .none, .transpose, m: b * s, n: outFeatures, k: inFeatures, alpha: weightMultiplier,
                a: inputTangents, lda: inFeatures, b: state.parameters, ldb: inFeatures,
                beta: beta, c: outputTangents, ldc: outFeatures)
        } else if beta == 0 {
            outputTangents.update(repeating: 0, count: b * s * outFeatures)
        }
    }

    public func vjp(
        _ state: LayerState<Scalar>, outputCotangents: UnsafePointer<Scalar>, block s: Int,
        parameterCotangents: UnsafeMutablePointer<Scalar>?, parameterStride: Int,
        inputCotangents: UnsafeMutablePointer<Scalar>?, scratch: UnsafeMutablePointer<Scalar>
    ) throws {
        let b = state.batch
        if let cotangents = parameterCotangents {
            // [s·out, in] = ȳᵀ (ȳ as [b, s·out]) · x, then scatter-add into the s slices.
            try Scalar.gemm(
                .transpose, .none, m: s * outFeatures, n: inFeatures, k: b, alpha: weightMultiplier,
                a: outputCotangents, lda: s * outFeatures, b: state.input, ldb: inFeatures,
                beta: 0, c: scratch, ldc: inFeatures)
            for t in 0..<s {
                let dst = cotangents + t * parameterStride
                let src = scratch + t * weightCount
                for j in 0..<weightCount { dst[j] += src[j] }
                if hasBias {
                    let biasCotangent = dst + weightCount
                    for i in 0..<b {
                        let row = outputCotangents + (i * s + t) * outFeatures
                        for o in 0..<outFeatures { biasCotangent[o] += biasMultiplier * row[o] }
                    }
                }
            }
        }
        if let inputCotangents {
            try Scalar.gemm(
                .none, .none, m: b * s, n: inFeatures, k: outFeatures, alpha: weightMultiplier,
                a: outputCotangents, lda: outFeatures, b: state.parameters, ldb: inFeatures,
                beta: 0, c: inputCotangents, ldc: inFeatures)
        }
    }
}

import NTKLinearAlgebra

/// A dense layer y = c_w · x Wᵀ + c_b · b, like PyTorch's `nn.Linear` (W is [out, in]),
/// applied to the last dimension of each example: an example of shape [R…, in] (e.g. a
/// sequence of R tokens) maps to [R…, out].
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
/// With R > 1 rows per example the Ẇ/W̄ GEMMs run per example on [R, s·out] with a
/// permutation to the [s, R, out] tangent layout.
/// - Complexity: forward 2·b·R·in·out flops; JVP and VJP 4·b·R·s·in·out flops each.
public struct Linear<Scalar: BLASScalar>: Layer {
    public let inFeatures: Int
    public let outFeatures: Int
    public let hasBias: Bool
    public let parameterization: Parameterization
    /// Leading dimensions of an example (empty for a flat [in] input).
    public let leadingShape: [Int]
    public let inputShape: [Int]
    public let outputShape: [Int]
    /// R: rows per example.
    let rows: Int
    let weightMultiplier: Scalar
    let biasMultiplier: Scalar

    /// - Throws: `NetworkError.invalidLayer` if a size is not positive.
    public init(
        inFeatures: Int, outFeatures: Int, bias: Bool = true, leadingShape: [Int] = [],
        parameterization: Parameterization = .standard
    ) throws {
        guard !inFeatures.multipliedReportingOverflow(by: outFeatures).overflow else {
            throw NetworkError.invalidLayer(layer: "linear", field: "out_features", message: "\(inFeatures) × \(outFeatures) weights overflow the integer range")
        }
        guard !(inFeatures * outFeatures).addingReportingOverflow(outFeatures).overflow else {
            throw NetworkError.invalidLayer(layer: "linear", field: "out_features", message: "\(inFeatures) × \(outFeatures) weights and \(outFeatures) biases overflow the integer range")
        }
        guard leadingShape.allSatisfy({ $0 > 0 }) else {
            throw NetworkError.invalidLayer(layer: "linear", field: "input_shape", message: "got leading dimensions \(leadingShape), expected positive sizes")
        }
        guard inFeatures > 0 else {
            throw NetworkError.invalidLayer(layer: "linear", field: "in_features", message: "got \(inFeatures), expected a positive size")
        }
        guard outFeatures > 0 else {
            throw NetworkError.invalidLayer(layer: "linear", field: "out_features", message: "got \(outFeatures), expected a positive size")
        }
        guard let rows = SizeLimit.product(leadingShape), SizeLimit.product([rows, max(inFeatures, outFeatures)]) != nil else {
            throw NetworkError.invalidLayer(layer: "linear", field: "input_shape", message: "leading dimensions \(leadingShape) × \(max(inFeatures, outFeatures)) features overflow the integer range")
        }
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        self.hasBias = bias
        self.parameterization = parameterization
        self.leadingShape = leadingShape
        self.inputShape = leadingShape + [inFeatures]
        self.outputShape = leadingShape + [outFeatures]
        self.rows = rows
        let m = parameterization.multipliers(fanIn: inFeatures)
        weightMultiplier = Scalar(m.weight)
        biasMultiplier = Scalar(m.bias)
    }

    var weightCount: Int { inFeatures * outFeatures }
    public var parameterCount: Int { weightCount + (hasBias ? outFeatures : 0) }

    public var parameterTensors: [ParameterTensor] {
        var t = [ParameterTensor(name: "weight", shape: [outFeatures, inFeatures], offset: 0)]
        if hasBias { t.append(ParameterTensor(name: "bias", shape: [outFeatures], offset: weightCount)) }
        return t
    }

    /// Rebuilt with the same sizes, bias flag, leading shape and parameterization (multipliers
    /// recomputed in `Other` from the Double parameterization).
    public func converted<Other: BLASScalar>(to: Other.Type) throws -> any Layer<Other> {
        try Linear<Other>(
            inFeatures: inFeatures, outFeatures: outFeatures, bias: hasBias, leadingShape: leadingShape,
            parameterization: parameterization)
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
    public func scratchCount(batch: Int, block: Int) -> Int {
        block * weightCount + (rows > 1 ? rows * block * outFeatures : 0)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(
        parameters: UnsafePointer<Scalar>, input: UnsafePointer<Scalar>, batch: Int,
        output: UnsafeMutablePointer<Scalar>, saved: UnsafeMutablePointer<Scalar>
    ) throws {
        try Scalar.gemm(
            .none, .transpose, m: batch * rows, n: outFeatures, k: inFeatures, alpha: weightMultiplier,
            a: input, lda: inFeatures, b: parameters, ldb: inFeatures, beta: 0, c: output, ldc: outFeatures)
        if hasBias {
            let bias = parameters + weightCount
            for i in 0..<(batch * rows) {
                let row = output + i * outFeatures
                for o in 0..<outFeatures { row[o] += biasMultiplier * bias[o] }
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
        let b = state.batch, R = rows, out = outFeatures
        var beta: Scalar = 0
        if let tangents = parameterTangents {
            // Pack Ẇ_1…Ẇ_s into [s·out, in]; x · packᵀ → [b, s·out] in one GEMM (R = 1), or
            // per example [R, s·out] permuted to [s, R, out].
            for t in 0..<s {
                (scratch + t * weightCount).update(from: tangents + t * parameterStride, count: weightCount)
            }
            if R == 1 {
                try Scalar.gemm(
                    .none, .transpose, m: b, n: s * out, k: inFeatures, alpha: weightMultiplier,
                    a: state.input, lda: inFeatures, b: scratch, ldb: inFeatures,
                    beta: 0, c: outputTangents, ldc: s * out)
            } else {
                let product = scratch + s * weightCount
                for i in 0..<b {
                    try Scalar.gemm(
                        .none, .transpose, m: R, n: s * out, k: inFeatures, alpha: weightMultiplier,
                        a: state.input + i * R * inFeatures, lda: inFeatures, b: scratch, ldb: inFeatures,
                        beta: 0, c: product, ldc: s * out)
                    for t in 0..<s {
                        for r in 0..<R {
                            (outputTangents + ((i * s + t) * R + r) * out).update(from: product + (r * s + t) * out, count: out)
                        }
                    }
                }
            }
            beta = 1
            if hasBias {
                for t in 0..<s {
                    let biasTangent = tangents + t * parameterStride + weightCount
                    for i in 0..<b {
                        let rowsOut = outputTangents + (i * s + t) * R * out
                        for r in 0..<R {
                            let row = rowsOut + r * out
                            for o in 0..<out { row[o] += biasMultiplier * biasTangent[o] }
                        }
                    }
                }
            }
        }
        if let inputTangents {
            try Scalar.gemm(
                .none, .transpose, m: b * s * R, n: out, k: inFeatures, alpha: weightMultiplier,
                a: inputTangents, lda: inFeatures, b: state.parameters, ldb: inFeatures,
                beta: beta, c: outputTangents, ldc: out)
        } else if beta == 0 {
            outputTangents.update(repeating: 0, count: b * s * R * out)
        }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func vjp(
        _ state: LayerState<Scalar>, outputCotangents: UnsafePointer<Scalar>, block s: Int,
        parameterCotangents: UnsafeMutablePointer<Scalar>?, parameterStride: Int,
        inputCotangents: UnsafeMutablePointer<Scalar>?, scratch: UnsafeMutablePointer<Scalar>
    ) throws {
        let b = state.batch, R = rows, out = outFeatures
        if let cotangents = parameterCotangents {
            // [s·out, in] = ȳᵀ (ȳ as [b, s·out]) · x (R = 1), or per example with ȳ_i permuted
            // from [s, R, out] to [R, s·out]; then scatter-add into the s slices.
            if R == 1 {
                try Scalar.gemm(
                    .transpose, .none, m: s * out, n: inFeatures, k: b, alpha: weightMultiplier,
                    a: outputCotangents, lda: s * out, b: state.input, ldb: inFeatures,
                    beta: 0, c: scratch, ldc: inFeatures)
            } else {
                let permuted = scratch + s * weightCount
                for i in 0..<b {
                    for t in 0..<s {
                        for r in 0..<R {
                            (permuted + (r * s + t) * out).update(from: outputCotangents + ((i * s + t) * R + r) * out, count: out)
                        }
                    }
                    try Scalar.gemm(
                        .transpose, .none, m: s * out, n: inFeatures, k: R, alpha: weightMultiplier,
                        a: permuted, lda: s * out, b: state.input + i * R * inFeatures, ldb: inFeatures,
                        beta: i == 0 ? 0 : 1, c: scratch, ldc: inFeatures)
                }
            }
            for t in 0..<s {
                let dst = cotangents + t * parameterStride
                let src = scratch + t * weightCount
                for j in 0..<weightCount { dst[j] += src[j] }
                if hasBias {
                    let biasCotangent = dst + weightCount
                    for i in 0..<b {
                        for r in 0..<R {
                            let row = outputCotangents + ((i * s + t) * R + r) * out
                            for o in 0..<out { biasCotangent[o] += biasMultiplier * row[o] }
                        }
                    }
                }
            }
        }
        if let inputCotangents {
            try Scalar.gemm(
                .none, .none, m: b * s * R, n: inFeatures, k: out, alpha: weightMultiplier,
                a: outputCotangents, lda: out, b: state.parameters, ldb: inFeatures,
                beta: 0, c: inputCotangents, ldc: inFeatures)
        }
    }
}

extension Linear: WeightLinearLayer {
    /// Over flat inputs: O = out, E = in, L = 1 (patches are the input itself). Token-wise
    /// (`leadingShape` non-empty) the output is position-major: no rule.
    public var weightLinearShape: WeightLinearShape? {
        guard leadingShape.isEmpty else { return nil }
        let m = parameterization.multipliers(fanIn: inFeatures)
        return WeightLinearShape(channels: outFeatures, patchLength: inFeatures, positions: 1,
                                 weightMultiplier: m.weight, biasMultiplier: m.bias, hasBias: hasBias)
    }

    public func patches(_ example: UnsafePointer<Scalar>, into patches: UnsafeMutablePointer<Scalar>) {
        patches.update(from: example, count: inFeatures)
    }
}

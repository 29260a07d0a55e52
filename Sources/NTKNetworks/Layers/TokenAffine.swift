import NTKLinearAlgebra

/// The token-wise affine map shared by `TokenLinear`, the projections of
/// `MultiHeadAttention` and the feature transform of `GraphConvolution`: for every example i
/// and row τ (token or node) of its [T, F] input, y[i, τ, :] = c_w · W x[i, τ, :] + c_b · b,
/// with W [G, F] (PyTorch `nn.Linear` layout) and optional bias b [G].
///
/// Derivatives for a block of s vectors (tangents [b, s, T, ·], i.e. rows (i, t, τ)):
/// - JVP input part: ẏ = c_w ẋ Wᵀ, one GEMM on [(b·s·T), F].
/// - JVP parameter part: the s weight tangents are packed into [s·G, F]; one GEMM
///   x [(b·T), F] · packᵀ → [(b·T), s·G], then a permutation (i, τ, t) → (i, t, τ) adds it
///   (plus c_b ḃ_t) into ẏ.
/// - VJP parameter part: ȳ is permuted to [(b·T), s·G]; one GEMM (·)ᵀ x → [s·G, F] is added
///   into the s weight cotangents; b̄_t += c_b Σ_{i,τ} ȳ[i, t, τ, :].
/// - VJP input part: x̄ = c_w ȳ W, one GEMM on [(b·s·T), G].
/// - Complexity: forward 2·b·T·F·G flops; each derivative part 2·b·s·T·F·G flops plus
///   O(b·s·T·G) for the permutation. Scratch `scratchCount(batch:block:)`; no allocation.
struct TokenAffine<Scalar: BLASScalar>: Sendable {
    let rows: Int
    let inFeatures: Int
    let outFeatures: Int
    let hasBias: Bool
    let weightMultiplier: Scalar
    let biasMultiplier: Scalar

    var weightCount: Int { inFeatures * outFeatures }
    var parameterCount: Int { weightCount + (hasBias ? outFeatures : 0) }

    func scratchCount(batch: Int, block s: Int) -> Int { s * weightCount + batch * rows * s * outFeatures }

    /// y [b·T, G] = c_w x Wᵀ + c_b b for `parameters` = W then b.
    func forward(
        parameters: UnsafePointer<Scalar>, input: UnsafePointer<Scalar>, batch: Int, output: UnsafeMutablePointer<Scalar>
    ) throws {
        let n = batch * rows, g = outFeatures
        try Scalar.gemm(
            .none, .transpose, m: n, n: g, k: inFeatures, alpha: weightMultiplier,
            a: input, lda: inFeatures, b: parameters, ldb: inFeatures, beta: 0, c: output, ldc: g)
        if hasBias {
            let bias = parameters + weightCount
            for r in 0..<n {
                let row = output + r * g
                for o in 0..<g { row[o] += biasMultiplier * bias[o] }
            }
        }
    }

    /// ẏ [b, s, T, G] = c_w (ẋ Wᵀ + x Ẇ_tᵀ) + c_b ḃ_t; nil tangents are zero.
    func jvp(
        parameters: UnsafePointer<Scalar>, input: UnsafePointer<Scalar>, batch b: Int,
        parameterTangents: UnsafePointer<Scalar>?, parameterStride: Int,
        inputTangents: UnsafePointer<Scalar>?, block s: Int,
        outputTangents: UnsafeMutablePointer<Scalar>, scratch: UnsafeMutablePointer<Scalar>
    ) throws {
        let g = outputTangents, G = outFeatures, T = rows
        if let inputTangents {
            try Scalar.gemm(
                .none, .transpose, m: b * s * T, n: G, k: inFeatures, alpha: weightMultiplier,
                a: inputTangents, lda: inFeatures, b: parameters, ldb: inFeatures, beta: 0, c: g, ldc: G)
        } else {
            g.update(repeating: 0, count: b * s * T * G)
        }
        guard let tangents = parameterTangents else { return }
        let packed = scratch, product = scratch + s * weightCount
        for t in 0..<s {
            (packed + t * weightCount).update(from: tangents + t * parameterStride, count: weightCount)
        }
        try Scalar.gemm(
            .none, .transpose, m: b * T, n: s * G, k: inFeatures, alpha: weightMultiplier,
            a: input, lda: inFeatures, b: packed, ldb: inFeatures, beta: 0, c: product, ldc: s * G)
        for i in 0..<b {
            for t in 0..<s {
                let biasTangent = tangents + t * parameterStride + weightCount
                for tau in 0..<T {
                    let src = product + ((i * T + tau) * s + t) * G
                    let dst = g + ((i * s + t) * T + tau) * G
                    if hasBias {
                        for o in 0..<G { dst[o] += src[o] + biasMultiplier * biasTangent[o] }
                    } else {
                        for o in 0..<G { dst[o] += src[o] }
                    }
                }
            }
        }
    }

    /// θ̄_t += (∂y/∂θ)ᵀ ȳ_t (accumulated, nil skips) and x̄ = c_w ȳ W (overwritten, nil skips).
    func vjp(
        parameters: UnsafePointer<Scalar>, input: UnsafePointer<Scalar>, batch b: Int,
        outputCotangents: UnsafePointer<Scalar>, block s: Int,
        parameterCotangents: UnsafeMutablePointer<Scalar>?, parameterStride: Int,
        inputCotangents: UnsafeMutablePointer<Scalar>?, scratch: UnsafeMutablePointer<Scalar>
    ) throws {
        let G = outFeatures, T = rows
        if let cotangents = parameterCotangents {
            let product = scratch, permuted = scratch + s * weightCount
            for i in 0..<b {
                for t in 0..<s {
                    let biasCotangent = cotangents + t * parameterStride + weightCount
                    for tau in 0..<T {
                        let src = outputCotangents + ((i * s + t) * T + tau) * G
                        (permuted + ((i * T + tau) * s + t) * G).update(from: src, count: G)
                        if hasBias {
                            for o in 0..<G { biasCotangent[o] += biasMultiplier * src[o] }
                        }
                    }
                }
            }
            try Scalar.gemm(
                .transpose, .none, m: s * G, n: inFeatures, k: b * T, alpha: weightMultiplier,
                a: permuted, lda: s * G, b: input, ldb: inFeatures, beta: 0, c: product, ldc: inFeatures)
            for t in 0..<s {
                let dst = cotangents + t * parameterStride, src = product + t * weightCount
                for j in 0..<weightCount { dst[j] += src[j] }
            }
        }
        if let inputCotangents {
            try Scalar.gemm(
                .none, .none, m: b * s * T, n: inFeatures, k: G, alpha: weightMultiplier,
                a: outputCotangents, lda: G, b: parameters, ldb: inFeatures, beta: 0, c: inputCotangents, ldc: inFeatures)
        }
    }
}

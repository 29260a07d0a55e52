import NTKLinearAlgebra

/// The matrix product of two activations, Y = A B over the last two axes with equal leading
/// (batch) axes: A [g…, m, q], B [g…, q, r] → Y [g…, m, r] (ONNX `MatMul` of two activations,
/// e.g. the scores Q Kᵀ and the mixing P V of attention). A `MergeLayer`: its input is `[A | B]`.
///
/// JVP: Ẏ = Ȧ B + A Ḃ; VJP: Ā = Ȳ Bᵀ, B̄ = Aᵀ Ȳ — each a GEMM per example, vector and batch index.
///
/// - Complexity: 2·G·m·q·r flops per example forward, twice that per vector in each derivative pass.
public struct MatMulMerge<Scalar: BLASScalar>: MergeLayer {
    public let inputShapes: [[Int]]
    public let inputShape: [Int]
    public let outputShape: [Int]
    let groups: Int, m: Int, q: Int, r: Int

    /// - Throws: `NetworkError.invalidLayer` unless both shapes have rank ≥ 2, equal leading
    ///   axes and matching inner sizes.
    public init(shapes a: [Int], _ b: [Int]) throws {
        guard a.count >= 2, a.count == b.count, a.dropLast(2).elementsEqual(b.dropLast(2)), a[a.count - 1] == b[b.count - 2] else {
            throw NetworkError.invalidLayer(
                layer: "matmul", field: "input_shapes",
                message: "got \(a) × \(b); expected [g…, m, q] × [g…, q, r] with equal leading axes")
        }
        inputShapes = [a, b]
        groups = a.dropLast(2).reduce(1, *)
        m = a[a.count - 2]
        q = a[a.count - 1]
        r = b[b.count - 1]
        inputShape = [groups * (m * q + q * r)]
        outputShape = Array(a.dropLast(1)) + [r]
    }


    public func converted<Other: BLASScalar>(to: Other.Type) throws -> any Layer<Other> {
        try MatMulMerge<Other>(shapes: inputShapes[0], inputShapes[1])
    }

    var sizeA: Int { groups * m * q }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(
        parameters: UnsafePointer<Scalar>, input: UnsafePointer<Scalar>, batch: Int,
        output: UnsafeMutablePointer<Scalar>, saved: UnsafeMutablePointer<Scalar>
    ) throws {
        let nIn = inputSize, nOut = outputSize
        for i in 0..<batch {
            let a = input + i * nIn, b = a + sizeA
            for g in 0..<groups {
                try Scalar.gemm(.none, .none, m: m, n: r, k: q, alpha: 1, a: a + g * m * q, lda: q,
                                b: b + g * q * r, ldb: r, beta: 0, c: output + i * nOut + g * m * r, ldc: r)
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
        let nIn = inputSize, nOut = outputSize
        guard let inputTangents else {
            outputTangents.update(repeating: 0, count: state.batch * s * nOut)
            return
        }
        for i in 0..<state.batch {
            let a = state.input + i * nIn, b = a + sizeA
            for t in 0..<s {
                let da = inputTangents + (i * s + t) * nIn, db = da + sizeA
                let y = outputTangents + (i * s + t) * nOut
                for g in 0..<groups {
                    try Scalar.gemm(.none, .none, m: m, n: r, k: q, alpha: 1, a: da + g * m * q, lda: q,
                                    b: b + g * q * r, ldb: r, beta: 0, c: y + g * m * r, ldc: r)
                    try Scalar.gemm(.none, .none, m: m, n: r, k: q, alpha: 1, a: a + g * m * q, lda: q,
                                    b: db + g * q * r, ldb: r, beta: 1, c: y + g * m * r, ldc: r)
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
        guard let inputCotangents else { return }
        let nIn = inputSize, nOut = outputSize
        for i in 0..<state.batch {
            let a = state.input + i * nIn, b = a + sizeA
            for t in 0..<s {
                let gy = outputCotangents + (i * s + t) * nOut
                let ga = inputCotangents + (i * s + t) * nIn, gb = ga + sizeA
                for g in 0..<groups {
                    try Scalar.gemm(.none, .transpose, m: m, n: q, k: r, alpha: 1, a: gy + g * m * r, lda: r,
                                    b: b + g * q * r, ldb: r, beta: 0, c: ga + g * m * q, ldc: q)
                    try Scalar.gemm(.transpose, .none, m: q, n: r, k: m, alpha: 1, a: a + g * m * q, lda: q,
                                    b: gy + g * m * r, ldb: r, beta: 0, c: gb + g * q * r, ldc: r)
                }
            }
        }
    }
}

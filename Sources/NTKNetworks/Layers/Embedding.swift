import NTKLinearAlgebra

/// A lookup table, like PyTorch's `nn.Embedding(num_embeddings, embedding_dim)`: an example
/// is L token ids stored as `Scalar` (shape [L], or any shape S with L = ∏S; integral values
/// in 0..<N) and its output is the rows y[l, :] = E[id_l, :] (shape [L, D], or S + [D]) of the
/// table E ("weight", [N, D]).
///
/// Initialization: N(0, 1) as PyTorch does, under both parameterizations, with no forward
/// multiplier (an embedding row is read, not summed over a fan-in).
///
/// Derivatives: the ids are not differentiable, so the input part of the JVP and the input
/// cotangent of the VJP are zero; ẏ_t[l, :] = Ė_t[id_l, :] and Ē_t[id_l, :] += ȳ_t[l, :].
/// - Complexity: O(b·s·L·D) per pass (a gather/scatter, no GEMM).
public struct Embedding<Scalar: BLASScalar>: Layer {
    /// N.
    public let numEmbeddings: Int
    /// D.
    public let embeddingDimension: Int
    /// L: ids per example.
    public let sequenceLength: Int
    public let inputShape: [Int]
    public let outputShape: [Int]

    /// - Parameter inputShape: [L] (one id per position) or any shape of ids.
    /// - Throws: `NetworkError.invalidLayer` naming `num_embeddings`, `embedding_dim` or `input_shape`.
    public init(numEmbeddings: Int, embeddingDimension: Int, inputShape: [Int]) throws {
        func fail(_ field: String, _ message: String) -> NetworkError {
            .invalidLayer(layer: "embedding", field: field, message: message)
        }
        guard numEmbeddings > 0 else { throw fail("num_embeddings", "got \(numEmbeddings), expected a positive count") }
        guard embeddingDimension > 0 else { throw fail("embedding_dim", "got \(embeddingDimension), expected a positive size") }
        guard !inputShape.isEmpty, inputShape.allSatisfy({ $0 > 0 }), let positions = SizeLimit.product(inputShape) else {
            throw fail("input_shape", "got \(inputShape), expected [L] (one token id per position) with positive sizes")
        }
        guard SizeLimit.product([numEmbeddings, embeddingDimension]) != nil,
            SizeLimit.product([positions, embeddingDimension]) != nil
        else {
            throw fail("embedding_dim", "\(numEmbeddings) × \(embeddingDimension) weights overflow the integer range")
        }
        self.numEmbeddings = numEmbeddings
        self.embeddingDimension = embeddingDimension
        self.sequenceLength = positions
        self.inputShape = inputShape
        self.outputShape = inputShape + [embeddingDimension]
    }

    public var parameterCount: Int { numEmbeddings * embeddingDimension }
    public var parameterTensors: [ParameterTensor] {
        [ParameterTensor(name: "weight", shape: [numEmbeddings, embeddingDimension], offset: 0)]
    }

    public func converted<Other: BLASScalar>(to: Other.Type) throws -> any Layer<Other> {
        try Embedding<Other>(numEmbeddings: numEmbeddings, embeddingDimension: embeddingDimension, inputShape: inputShape)
    }

    public func initialize(parameters: UnsafeMutableBufferPointer<Scalar>, using generator: inout SeededGenerator) {
        generator.fillGaussian(parameters)
    }

    public func savedCount(batch: Int) -> Int { 0 }
    public func scratchCount(batch: Int, block: Int) -> Int { 0 }

    /// The row of a checked id (the forward pass checked every id of the batch).
    @inline(__always)
    func row(_ id: Scalar) -> Int { Int(id) }

    /// - Throws: `NetworkError.invalidLayer` (field `input`) naming the first id that is not
    ///   an integer in 0..<N, with its example and position.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(
        parameters: UnsafePointer<Scalar>, input: UnsafePointer<Scalar>, batch: Int,
        output: UnsafeMutablePointer<Scalar>, saved: UnsafeMutablePointer<Scalar>
    ) throws {
        let L = sequenceLength, D = embeddingDimension, limit = Scalar(numEmbeddings)
        for i in 0..<batch {
            for l in 0..<L {
                let id = input[i * L + l]
                // `id < limit` bounds the conversion; `Int(id) < N` guards a Float N that rounded up.
                guard id >= 0, id < limit, id == id.rounded(.towardZero), Int(id) < numEmbeddings else {
                    throw NetworkError.invalidLayer(
                        layer: "embedding", field: "input",
                        message: "token id \(id) (example \(i), position \(l)) is not an integer in 0..<\(numEmbeddings) (num_embeddings \(numEmbeddings))")
                }
                (output + (i * L + l) * D).update(from: parameters + row(id) * D, count: D)
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
        let L = sequenceLength, D = embeddingDimension, b = state.batch
        guard let parameterTangents else {
            outputTangents.update(repeating: 0, count: b * s * L * D)
            return
        }
        for i in 0..<b {
            for t in 0..<s {
                let table = parameterTangents + t * parameterStride
                for l in 0..<L {
                    (outputTangents + ((i * s + t) * L + l) * D).update(from: table + row(state.input[i * L + l]) * D, count: D)
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
        let L = sequenceLength, D = embeddingDimension, b = state.batch
        if let parameterCotangents {
            for i in 0..<b {
                for t in 0..<s {
                    let table = parameterCotangents + t * parameterStride
                    for l in 0..<L {
                        let dst = table + row(state.input[i * L + l]) * D, src = outputCotangents + ((i * s + t) * L + l) * D
                        for j in 0..<D { dst[j] += src[j] }
                    }
                }
            }
        }
        inputCotangents?.update(repeating: 0, count: b * s * L)
    }
}

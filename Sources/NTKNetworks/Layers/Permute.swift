import NTKLinearAlgebra

/// A transpose of the example's axes, like `x.permute(0, 1 + p_0, 1 + p_1, …)` in PyTorch
/// (the batch axis stays first) or ONNX `Transpose` with `perm = [0, 1 + p_0, …]`: output axis
/// k is input axis p_k, so outputShape[k] = inputShape[p_k].
///
/// A permutation of the features, so every pass is a gather (the VJP a scatter) through a
/// precomputed index map out → in.
/// - Complexity: O(b·s·features) per pass; `features` stored indices.
public struct Permute<Scalar: BLASScalar>: ParameterFreeLayer {
    public let inputShape: [Int]
    public let outputShape: [Int]
    /// p: output axis k is input axis p[k].
    public let permutation: [Int]
    /// For each output index (row-major), the input index it reads.
    /// The permutation as a gather: the passes are `IndexSelect`'s.
    let select: IndexSelect<Scalar>

    /// - Throws: `NetworkError.invalidLayer` naming `dims` unless `permutation` is a
    ///   permutation of 0..<rank (negative entries count from the end, as in PyTorch).
    public init(inputShape: [Int], permutation: [Int]) throws {
        let rank = inputShape.count
        let p = permutation.map { $0 < 0 ? $0 + rank : $0 }
        guard p.count == rank, p.sorted() == Array(0..<rank) else {
            throw NetworkError.invalidLayer(
                layer: "permute", field: "dims", message: "got \(permutation), expected a permutation of the \(rank) axes of \(inputShape)")
        }
        guard SizeLimit.product(inputShape) != nil else {
            throw NetworkError.invalidLayer(layer: "permute", field: "input_shape", message: "got \(inputShape), whose product overflows the integer range")
        }
        var inputStrides = [Int](repeating: 1, count: rank)
        for k in stride(from: rank - 2, through: 0, by: -1) { inputStrides[k] = inputStrides[k + 1] * inputShape[k + 1] }
        let outputShape = p.map { inputShape[$0] }
        // Output element j (C order) reads the input at Σ_axis index·(input stride of that output axis).
        select = try IndexSelect(
            inputShape: inputShape, outputShape: outputShape,
            indices: Broadcast.indexMap(shape: outputShape, strides: p.map { inputStrides[$0] }))
        self.inputShape = inputShape
        self.outputShape = outputShape
        self.permutation = p
    }


    public func converted<Other: BLASScalar>(to: Other.Type) throws -> any Layer<Other> {
        try Permute<Other>(inputShape: inputShape, permutation: permutation)
    }

    /// out[e, j] = v[e, map[j]] for `count` consecutive examples.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(
        parameters: UnsafePointer<Scalar>, input: UnsafePointer<Scalar>, batch: Int,
        output: UnsafeMutablePointer<Scalar>, saved: UnsafeMutablePointer<Scalar>
    ) throws {
        try select.forward(parameters: parameters, input: input, batch: batch, output: output, saved: saved)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func jvp(
        _ state: LayerState<Scalar>, parameterTangents: UnsafePointer<Scalar>?, parameterStride: Int,
        inputTangents: UnsafePointer<Scalar>?, block s: Int,
        outputTangents: UnsafeMutablePointer<Scalar>, scratch: UnsafeMutablePointer<Scalar>
    ) throws {
        try select.jvp(state, parameterTangents: parameterTangents, parameterStride: parameterStride, inputTangents: inputTangents,
                   block: s, outputTangents: outputTangents, scratch: scratch)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func vjp(
        _ state: LayerState<Scalar>, outputCotangents: UnsafePointer<Scalar>, block s: Int,
        parameterCotangents: UnsafeMutablePointer<Scalar>?, parameterStride: Int,
        inputCotangents: UnsafeMutablePointer<Scalar>?, scratch: UnsafeMutablePointer<Scalar>
    ) throws {
        try select.vjp(state, outputCotangents: outputCotangents, block: s, parameterCotangents: parameterCotangents,
                   parameterStride: parameterStride, inputCotangents: inputCotangents, scratch: scratch)
    }
}

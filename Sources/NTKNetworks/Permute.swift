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
    let sourceIndex: [Int]

    /// - Throws: `NetworkError.invalidLayer` naming `dims` unless `permutation` is a
    ///   permutation of 0..<rank (negative entries count from the end, as in PyTorch).
    public init(inputShape: [Int], permutation: [Int]) throws {
        let rank = inputShape.count
        let p = permutation.map { $0 < 0 ? $0 + rank : $0 }
        guard p.count == rank, p.sorted() == Array(0..<rank) else {
            throw NetworkError.invalidLayer(
                layer: "permute", field: "dims", message: "got \(permutation), expected a permutation of the \(rank) axes of \(inputShape)")
        }
        guard let count = SizeLimit.product(inputShape) else {
            throw NetworkError.invalidLayer(layer: "permute", field: "input_shape", message: "got \(inputShape), whose product overflows the integer range")
        }
        var inputStrides = [Int](repeating: 1, count: rank)
        for k in stride(from: rank - 2, through: 0, by: -1) { inputStrides[k] = inputStrides[k + 1] * inputShape[k + 1] }
        let outputShape = p.map { inputShape[$0] }
        let strides = p.map { inputStrides[$0] }  // input stride of each output axis
        var map = [Int](repeating: 0, count: count)
        var index = [Int](repeating: 0, count: rank)
        var source = 0
        for j in 0..<count {
            map[j] = source
            var axis = rank - 1
            while axis >= 0 {
                index[axis] += 1
                source += strides[axis]
                if index[axis] < outputShape[axis] { break }
                source -= strides[axis] * outputShape[axis]
                index[axis] = 0
                axis -= 1
            }
        }
        self.inputShape = inputShape
        self.outputShape = outputShape
        self.permutation = p
        self.sourceIndex = map
    }


    public func converted<Other: BLASScalar>(to: Other.Type) throws -> any Layer<Other> {
        try Permute<Other>(inputShape: inputShape, permutation: permutation)
    }

    /// out[e, j] = v[e, map[j]] for `count` consecutive examples.
    @inline(__always)
    func gather(_ v: UnsafePointer<Scalar>, into out: UnsafeMutablePointer<Scalar>, count: Int) {
        let F = outputSize
        sourceIndex.withUnsafeBufferPointer { map in
            for e in 0..<count {
                let src = v + e * F, dst = out + e * F
                for j in 0..<F { dst[j] = src[map[j]] }
            }
        }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(
        parameters: UnsafePointer<Scalar>, input: UnsafePointer<Scalar>, batch: Int,
        output: UnsafeMutablePointer<Scalar>, saved: UnsafeMutablePointer<Scalar>
    ) {
        gather(input, into: output, count: batch)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func jvp(
        _ state: LayerState<Scalar>, parameterTangents: UnsafePointer<Scalar>?, parameterStride: Int,
        inputTangents: UnsafePointer<Scalar>?, block s: Int,
        outputTangents: UnsafeMutablePointer<Scalar>, scratch: UnsafeMutablePointer<Scalar>
    ) {
        guard let inputTangents else {
            outputTangents.update(repeating: 0, count: state.batch * s * outputSize)
            return
        }
        gather(inputTangents, into: outputTangents, count: state.batch * s)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func vjp(
        _ state: LayerState<Scalar>, outputCotangents: UnsafePointer<Scalar>, block s: Int,
        parameterCotangents: UnsafeMutablePointer<Scalar>?, parameterStride: Int,
        inputCotangents: UnsafeMutablePointer<Scalar>?, scratch: UnsafeMutablePointer<Scalar>
    ) {
        guard let inputCotangents else { return }
        let F = outputSize
        sourceIndex.withUnsafeBufferPointer { map in
            for e in 0..<(state.batch * s) {
                let src = outputCotangents + e * F, dst = inputCotangents + e * F
                for j in 0..<F { dst[map[j]] = src[j] }
            }
        }
    }
}

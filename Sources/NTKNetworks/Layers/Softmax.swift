import NTKLinearAlgebra

/// Softmax along one axis of the example, like PyTorch's `nn.Softmax(dim)`:
/// y = exp(x − max x)/Σ exp(x − max x) over the axis (the shift by the maximum keeps every
/// exponent ≤ 0, so large inputs do not overflow).
///
/// With the example viewed as [outer, n, inner] (n the axis length), each of the outer·inner
/// vectors along the axis is independent. Derivatives (from the saved output y, ⟨·,·⟩ along
/// the axis): ẏ = y ⊙ (ẋ − ⟨y, ẋ⟩), x̄ = y ⊙ (ȳ − ⟨y, ȳ⟩) (the Jacobian diag(y) − y yᵀ is symmetric).
/// - Complexity: O(b·s·features) per pass.
public struct Softmax<Scalar: BLASScalar>: ParameterFreeLayer {
    public let inputShape: [Int]
    /// The axis of the example shape (0-based, non-negative; batch not counted).
    public let axis: Int
    let outer: Int
    let length: Int
    let inner: Int

    /// - Parameter axis: an axis of `inputShape` (the batch is not an axis); negative counts
    ///   from the end (−1 = the last).
    /// - Throws: `NetworkError.invalidLayer` naming `dim` if the axis is out of range.
    public init(inputShape: [Int], axis: Int) throws {
        let rank = inputShape.count
        guard rank > 0, -rank <= axis, axis < rank else {
            throw NetworkError.invalidLayer(
                layer: "softmax", field: "dim",
                message: "got axis \(axis), expected an axis of the example shape \(inputShape) (−\(rank)..<\(rank))")
        }
        let a = axis < 0 ? axis + rank : axis
        self.inputShape = inputShape
        self.axis = a
        outer = inputShape[..<a].reduce(1, *)
        length = inputShape[a]
        inner = inputShape[(a + 1)...].reduce(1, *)
    }

    public var outputShape: [Int] { inputShape }

    public func converted<Other: BLASScalar>(to: Other.Type) throws -> any Layer<Other> {
        try Softmax<Other>(inputShape: inputShape, axis: axis)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(
        parameters: UnsafePointer<Scalar>, input: UnsafePointer<Scalar>, batch: Int,
        output: UnsafeMutablePointer<Scalar>, saved: UnsafeMutablePointer<Scalar>
    ) {
        let n = length, m = inner
        for line in 0..<(batch * outer) {
            for k in 0..<m {
                let x = input + line * n * m + k, y = output + line * n * m + k
                var largest = -Scalar.infinity
                for j in 0..<n { largest = max(largest, x[j * m]) }
                var sum: Scalar = 0
                for j in 0..<n {
                    let e = Scalar.exp(x[j * m] - largest)
                    y[j * m] = e
                    sum += e
                }
                let inverse = 1 / sum
                for j in 0..<n { y[j * m] *= inverse }
            }
        }
    }

    /// out = y ⊙ (v − ⟨y, v⟩) along the axis, for one example (y its output, v one tangent or
    /// cotangent).
    @inline(__always)
    func project(
        _ y: UnsafePointer<Scalar>, _ v: UnsafePointer<Scalar>, into out: UnsafeMutablePointer<Scalar>
    ) {
        let n = length, m = inner
        for line in 0..<outer {
            for k in 0..<m {
                let base = line * n * m + k
                var dot: Scalar = 0
                for j in 0..<n { dot += y[base + j * m] * v[base + j * m] }
                for j in 0..<n { out[base + j * m] = y[base + j * m] * (v[base + j * m] - dot) }
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
        let F = inputSize, b = state.batch
        guard let inputTangents else {
            outputTangents.update(repeating: 0, count: b * s * F)
            return
        }
        for i in 0..<b {
            for t in 0..<s {
                project(state.output + i * F, inputTangents + (i * s + t) * F, into: outputTangents + (i * s + t) * F)
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
        guard let inputCotangents else { return }
        let F = inputSize, b = state.batch
        for i in 0..<b {
            for t in 0..<s {
                project(state.output + i * F, outputCotangents + (i * s + t) * F, into: inputCotangents + (i * s + t) * F)
            }
        }
    }
}

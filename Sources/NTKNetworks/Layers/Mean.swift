import NTKLinearAlgebra

/// The mean over a set of the example's axes, like `x.mean(dim=(1 + a_0, …), keepdim=…)` in
/// PyTorch or ONNX `ReduceMean` (and `GlobalAveragePool`: axes [1, 2] of [C, H, W] with
/// keepdims). Reduced axes are dropped, or kept with size 1 when `keepDimensions`.
///
/// Linear with no parameters: ẏ = mean(ẋ), x̄ = ȳ/n broadcast back over the reduced axes
/// (n the number of averaged elements), through a precomputed map input index → output index.
/// - Complexity: O(b·s·features) per pass; `features` stored indices.
public struct Mean<Scalar: BLASScalar>: ParameterFreeLayer {
    public let inputShape: [Int]
    public let outputShape: [Int]
    /// The reduced axes of the example shape, sorted, non-negative.
    public let axes: [Int]
    public let keepDimensions: Bool
    /// For each input index (row-major), the output index it is averaged into.
    let targetIndex: [Int]
    let inverseCount: Scalar

    /// - Parameter axes: distinct axes of the example shape (the batch is not an axis;
    ///   negative counts from the end), at least one.
    /// - Throws: `NetworkError.invalidLayer` naming `dim`.
    public init(inputShape: [Int], axes: [Int], keepDimensions: Bool = false) throws {
        let rank = inputShape.count
        let a = axes.map { $0 < 0 ? $0 + rank : $0 }.sorted()
        guard !a.isEmpty, a.allSatisfy({ (0..<rank).contains($0) }), Set(a).count == a.count else {
            throw NetworkError.invalidLayer(
                layer: "mean", field: "dim", message: "got \(axes), expected distinct axes of the example shape \(inputShape) (−\(rank)..<\(rank))")
        }
        guard let count = SizeLimit.product(inputShape) else {
            throw NetworkError.invalidLayer(layer: "mean", field: "input_shape", message: "got \(inputShape), whose product overflows the integer range")
        }
        let reduced = Set(a)
        // Output strides of each input axis (0 on reduced axes).
        var strides = [Int](repeating: 0, count: rank)
        var step = 1
        for k in (0..<rank).reversed() where !reduced.contains(k) {
            strides[k] = step
            step *= inputShape[k]
        }
        var map = [Int](repeating: 0, count: count)
        var index = [Int](repeating: 0, count: rank)
        var target = 0
        for j in 0..<count {
            map[j] = target
            var axis = rank - 1
            while axis >= 0 {
                index[axis] += 1
                target += strides[axis]
                if index[axis] < inputShape[axis] { break }
                target -= strides[axis] * inputShape[axis]
                index[axis] = 0
                axis -= 1
            }
        }
        self.inputShape = inputShape
        self.axes = a
        self.keepDimensions = keepDimensions
        self.outputShape = keepDimensions
            ? inputShape.enumerated().map { reduced.contains($0.offset) ? 1 : $0.element }
            : inputShape.enumerated().filter { !reduced.contains($0.offset) }.map(\.element)
        self.targetIndex = map
        self.inverseCount = 1 / Scalar(a.map { inputShape[$0] }.reduce(1, *))
    }


    public func converted<Other: BLASScalar>(to: Other.Type) throws -> any Layer<Other> {
        try Mean<Other>(inputShape: inputShape, axes: axes, keepDimensions: keepDimensions)
    }

    /// out[e] = mean over the reduced axes of v[e], for `count` consecutive examples.
    @inline(__always)
    func reduce(_ v: UnsafePointer<Scalar>, into out: UnsafeMutablePointer<Scalar>, count: Int) {
        let F = inputSize, G = outputSize
        out.update(repeating: 0, count: count * G)
        targetIndex.withUnsafeBufferPointer { map in
            for e in 0..<count {
                let src = v + e * F, dst = out + e * G
                for j in 0..<F { dst[map[j]] += src[j] }
                for k in 0..<G { dst[k] *= inverseCount }
            }
        }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(
        parameters: UnsafePointer<Scalar>, input: UnsafePointer<Scalar>, batch: Int,
        output: UnsafeMutablePointer<Scalar>, saved: UnsafeMutablePointer<Scalar>
    ) {
        reduce(input, into: output, count: batch)
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
        reduce(inputTangents, into: outputTangents, count: state.batch * s)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func vjp(
        _ state: LayerState<Scalar>, outputCotangents: UnsafePointer<Scalar>, block s: Int,
        parameterCotangents: UnsafeMutablePointer<Scalar>?, parameterStride: Int,
        inputCotangents: UnsafeMutablePointer<Scalar>?, scratch: UnsafeMutablePointer<Scalar>
    ) {
        guard let inputCotangents else { return }
        let F = inputSize, G = outputSize
        targetIndex.withUnsafeBufferPointer { map in
            for e in 0..<(state.batch * s) {
                let src = outputCotangents + e * G, dst = inputCotangents + e * F
                for j in 0..<F { dst[j] = inverseCount * src[map[j]] }
            }
        }
    }
}

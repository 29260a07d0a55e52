import NTKLinearAlgebra

/// A constant tensor of a layer (not a parameter, not a buffer): a shape and its row-major
/// values in `Double`, e.g. the scale of an ONNX `Mul` by an initializer.
public struct ConstantTensor: Sendable, Hashable {
    public var shape: [Int]
    public var values: [Double]

    /// - Throws: `NetworkError.sizeMismatch` if `values.count` is not the product of `shape`
    ///   (1 for the scalar shape []).
    public init(shape: [Int], values: [Double]) throws {
        guard shape.allSatisfy({ $0 >= 0 }), let count = SizeLimit.product(shape), values.count == count else {
            throw NetworkError.sizeMismatch(name: "constant tensor of shape \(shape)", got: values.count, expected: "the product of the shape")
        }
        self.shape = shape
        self.values = values
    }

    /// A scalar (shape []).
    public init(scalar value: Double) {
        shape = []
        values = [value]
    }

    /// The values broadcast to `target` by NumPy's rules (shapes aligned at the trailing axis;
    /// each of this tensor's axes has its target's size or 1), row-major in `target`.
    ///
    /// - Returns: nil if the shape does not broadcast to `target` (a longer shape, or an axis
    ///   that is neither 1 nor the target's size).
    public func broadcast(to target: [Int]) -> [Double]? {
        guard shape.count <= target.count else { return nil }
        let offset = target.count - shape.count
        // Source strides for each target axis (0 on broadcast axes).
        var strides = [Int](repeating: 0, count: target.count)
        var step = 1
        for k in (0..<shape.count).reversed() {
            let size = shape[k], targetSize = target[offset + k]
            guard size == targetSize || size == 1 else { return nil }
            strides[offset + k] = size == 1 ? 0 : step
            step *= size
        }
        let count = target.reduce(1, *)
        var result = [Double](repeating: 0, count: count)
        var index = [Int](repeating: 0, count: target.count)
        var source = 0
        for j in 0..<count {
            result[j] = values[source]
            // Advance the multi-index (last axis fastest) and the source offset with it.
            var axis = target.count - 1
            while axis >= 0 {
                index[axis] += 1
                source += strides[axis]
                if index[axis] < target[axis] { break }
                source -= strides[axis] * target[axis]
                index[axis] = 0
                axis -= 1
            }
        }
        return result
    }
}

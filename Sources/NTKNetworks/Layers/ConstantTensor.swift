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
        guard let (shape, strides) = try? Broadcast.shape([self.shape, target], layer: "constant"), shape == target else {
            return nil
        }
        return Broadcast.indexMap(shape: target, strides: strides[0]).map { values[$0] }
    }
}

import NTKLinearAlgebra

/// A new example shape with the same elements in the same (C) order, like
/// `x.reshape(batch, *shape)` in PyTorch or ONNX `Reshape` (batch axis kept). Every pass is a copy.
public struct Reshape<Scalar: BLASScalar>: ElementCopyLayer {
    public let inputShape: [Int]
    public let outputShape: [Int]

    /// - Parameter shape: the new example shape; at most one entry may be −1 (inferred).
    /// - Throws: `NetworkError.invalidLayer` naming `shape` if the element counts differ.
    public init(inputShape: [Int], shape: [Int]) throws {
        func fail(_ message: String) -> NetworkError { .invalidLayer(layer: "reshape", field: "shape", message: message) }
        guard let count = SizeLimit.product(inputShape) else {
            throw NetworkError.invalidLayer(layer: "reshape", field: "input_shape", message: "got \(inputShape), whose product overflows the integer range")
        }
        var resolved = shape
        let inferred = shape.indices.filter { shape[$0] == -1 }
        guard inferred.count <= 1, shape.allSatisfy({ $0 > 0 || $0 == -1 }) else {
            throw fail("got \(shape), expected positive sizes and at most one −1")
        }
        if let k = inferred.first {
            let known = shape.filter { $0 != -1 }.reduce(1, *)
            guard count % known == 0 else { throw fail("got \(shape): \(count) elements of \(inputShape) are not a multiple of \(known)") }
            resolved[k] = count / known
        }
        guard SizeLimit.product(resolved) == count else {
            throw fail("got \(shape) (\(SizeLimit.product(resolved).map(String.init) ?? "overflowing") elements), expected \(count) elements as the input \(inputShape)")
        }
        self.inputShape = inputShape
        self.outputShape = resolved
    }


    public func converted<Other: BLASScalar>(to: Other.Type) throws -> any Layer<Other> {
        try Reshape<Other>(inputShape: inputShape, shape: outputShape)
    }
}


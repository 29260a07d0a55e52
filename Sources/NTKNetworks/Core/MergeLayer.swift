import NTKLinearAlgebra

/// A parameter-free node of a layer graph that takes several activations (`Add`, `Concat`, a
/// matrix product of two activations, …).
///
/// A merge layer is an ordinary `Layer` whose input is the *concatenation* of its inputs: per
/// example, `[x_0 | x_1 | … ]` (each `x_j` flattened in C order), so `inputShape` is
/// `[Σ_j |x_j|]`; tangents and cotangents follow the same layout per (example, vector). The
/// graph (`Sequential` with wiring) gathers the source activations into that layout before the
/// forward pass and scatters (adds) the input cotangent back to the sources after the VJP. The
/// copy costs b·Σ|x_j| per pass, small next to the GEMMs of the parameterized nodes.
public protocol MergeLayer<Scalar>: ParameterFreeLayer {
    /// The shapes of the inputs, in the order of the node's sources.
    var inputShapes: [[Int]] { get }
}

/// NumPy broadcasting of per-example shapes: the result shape and, per input, the stride of
/// each result axis in that input (0 where the input is broadcast).
enum Broadcast {
    /// - Throws: `NetworkError.invalidLayer` naming `layer` if the shapes do not broadcast.
    static func shape(_ shapes: [[Int]], layer: String) throws -> (shape: [Int], strides: [[Int]]) {
        let rank = shapes.map(\.count).max() ?? 0
        var result = [Int](repeating: 1, count: rank)
        for shape in shapes {
            let padded = [Int](repeating: 1, count: rank - shape.count) + shape
            for a in 0..<rank where padded[a] != 1 {
                guard result[a] == 1 || result[a] == padded[a] else {
                    throw NetworkError.invalidLayer(
                        layer: layer, field: "input_shapes",
                        message: "shapes \(shapes) do not broadcast (axis \(a): \(result[a]) vs \(padded[a])); expected equal sizes or 1")
                }
                result[a] = padded[a]
            }
        }
        let strides = shapes.map { shape -> [Int] in
            let padded = [Int](repeating: 1, count: rank - shape.count) + shape
            var strides = [Int](repeating: 0, count: rank)
            var step = 1
            for a in stride(from: rank - 1, through: 0, by: -1) {
                strides[a] = padded[a] == 1 ? 0 : step
                step *= padded[a]
            }
            return strides
        }
        return (result, strides)
    }

    /// For every element of `shape` (C order), its index in an input with `strides`.
    static func indexMap(shape: [Int], strides: [Int]) -> [Int] {
        let count = shape.reduce(1, *)
        var map = [Int](repeating: 0, count: count)
        var index = [Int](repeating: 0, count: shape.count)
        for e in 0..<count {
            var offset = 0
            for a in 0..<shape.count { offset += index[a] * strides[a] }
            map[e] = offset
            var a = shape.count - 1
            while a >= 0 {
                index[a] += 1
                if index[a] < shape[a] { break }
                index[a] = 0
                a -= 1
            }
        }
        return map
    }
}

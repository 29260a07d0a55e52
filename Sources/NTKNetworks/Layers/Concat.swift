import NTKLinearAlgebra

/// Concatenation of several activations along one axis of the per-example shape (ONNX
/// `Concat`, `torch.cat`; axis 0 is the first per-example axis, e.g. channels of [C, H, W]).
/// A `MergeLayer`: its input is `[x_0 | x_1 | …]`. Linear and parameter-free, so the JVP is
/// the same copy applied to the tangents and the VJP the inverse copy.
///
/// - Complexity: O(|y|) per example and vector.
public struct Concat<Scalar: BLASScalar>: MergeLayer {
    public let axis: Int
    public let inputShapes: [[Int]]
    public let inputShape: [Int]
    public let outputShape: [Int]
    /// Product of the axes before `axis`; per input, its chunk (axis size × inner size) and
    /// the chunk's offset in one outer slice of the output, and its offset in the input.
    let outer: Int
    let chunks: [Int], outputOffsets: [Int], inputOffsets: [Int]
    let rowLength: Int

    /// - Throws: `NetworkError.invalidLayer` if the shapes differ off `axis` or `axis` is out of range.
    public init(axis: Int, shapes: [[Int]]) throws {
        guard let first = shapes.first, !first.isEmpty, (0..<first.count).contains(axis) else {
            throw NetworkError.invalidLayer(
                layer: "concat", field: "axis",
                message: "axis \(axis) with input shapes \(shapes); expected at least one input and 0 ≤ axis < rank")
        }
        for shape in shapes {
            guard shape.count == first.count,
                  shape.indices.allSatisfy({ $0 == axis || shape[$0] == first[$0] }) else {
                throw NetworkError.invalidLayer(
                    layer: "concat", field: "input_shapes",
                    message: "shapes \(shapes) differ off axis \(axis); expected equal sizes on every other axis")
            }
        }
        self.axis = axis
        inputShapes = shapes
        outer = first[..<axis].reduce(1, *)
        let inner = first[(axis + 1)...].reduce(1, *)
        chunks = shapes.map { $0[axis] * inner }
        var out = [0], inp = [0]
        for c in chunks {
            out.append(out[out.count - 1] + c)
            inp.append(inp[inp.count - 1] + outer * c)
        }
        rowLength = out[out.count - 1]
        outputOffsets = Array(out.dropLast())
        inputOffsets = Array(inp.dropLast())
        var shape = first
        shape[axis] = shapes.reduce(0) { $0 + $1[axis] }
        outputShape = shape
        inputShape = [inp[inp.count - 1]]
    }


    public func converted<Other: BLASScalar>(to: Other.Type) throws -> any Layer<Other> {
        try Concat<Other>(axis: axis, shapes: inputShapes)
    }

    /// Copies `rows` gathered inputs `[x_0 | x_1 | …]` into concatenated outputs.
    @inline(__always)
    func copy(_ x: UnsafePointer<Scalar>, _ y: UnsafeMutablePointer<Scalar>, rows: Int) {
        let nIn = inputSize, nOut = outputSize
        for r in 0..<rows {
            let xr = x + r * nIn, yr = y + r * nOut
            for (j, c) in chunks.enumerated() {
                for o in 0..<outer {
                    (yr + o * rowLength + outputOffsets[j]).update(from: xr + inputOffsets[j] + o * c, count: c)
                }
            }
        }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(
        parameters: UnsafePointer<Scalar>, input: UnsafePointer<Scalar>, batch: Int,
        output: UnsafeMutablePointer<Scalar>, saved: UnsafeMutablePointer<Scalar>
    ) throws {
        copy(input, output, rows: batch)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func jvp(
        _ state: LayerState<Scalar>, parameterTangents: UnsafePointer<Scalar>?, parameterStride: Int,
        inputTangents: UnsafePointer<Scalar>?, block s: Int,
        outputTangents: UnsafeMutablePointer<Scalar>, scratch: UnsafeMutablePointer<Scalar>
    ) throws {
        if let inputTangents {
            copy(inputTangents, outputTangents, rows: state.batch * s)
        } else {
            outputTangents.update(repeating: 0, count: state.batch * s * outputSize)
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
        for r in 0..<(state.batch * s) {
            let xr = inputCotangents + r * nIn, yr = outputCotangents + r * nOut
            for (j, c) in chunks.enumerated() {
                for o in 0..<outer {
                    (xr + inputOffsets[j] + o * c).update(from: yr + o * rowLength + outputOffsets[j], count: c)
                }
            }
        }
    }
}

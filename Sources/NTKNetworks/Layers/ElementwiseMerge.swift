import NTKLinearAlgebra

/// y = a ∘ b for two activations with NumPy broadcasting (ONNX `Add`, `Sub`, `Mul`, `Div` of
/// two activations; a skip connection is `add`). A `MergeLayer`: its input is `[a | b]`.
///
/// JVP: add ȧ + ḃ, sub ȧ − ḃ, mul ȧ b + a ḃ, div ȧ/b − a ḃ/b². VJP: the transposes, with
/// broadcast axes summed. No parameters, no saved state (the gathered input is the graph's).
///
/// - Complexity: O(|y|) per example and vector.
public struct ElementwiseMerge<Scalar: BLASScalar>: MergeLayer {
    public enum Operation: String, Sendable, CaseIterable {
        case add, sub, mul, div
    }

    public let operation: Operation
    public let inputShapes: [[Int]]
    public let inputShape: [Int]
    public let outputShape: [Int]
    let sizes: (a: Int, b: Int)
    /// Per output element, its index in a and in b.
    let mapA: [Int], mapB: [Int]

    /// - Throws: `NetworkError.invalidLayer` if the two shapes do not broadcast.
    public init(_ operation: Operation, shapes a: [Int], _ b: [Int]) throws {
        let (shape, strides) = try Broadcast.shape([a, b], layer: operation.rawValue)
        self.operation = operation
        inputShapes = [a, b]
        sizes = (a.reduce(1, *), b.reduce(1, *))
        inputShape = [sizes.a + sizes.b]
        outputShape = shape
        mapA = Broadcast.indexMap(shape: shape, strides: strides[0])
        mapB = Broadcast.indexMap(shape: shape, strides: strides[1])
    }


    public func converted<Other: BLASScalar>(to: Other.Type) throws -> any Layer<Other> {
        try ElementwiseMerge<Other>(ElementwiseMerge<Other>.Operation(rawValue: operation.rawValue)!,
                                    shapes: inputShapes[0], inputShapes[1])
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(
        parameters: UnsafePointer<Scalar>, input: UnsafePointer<Scalar>, batch: Int,
        output: UnsafeMutablePointer<Scalar>, saved: UnsafeMutablePointer<Scalar>
    ) throws {
        let nIn = inputSize, nOut = outputSize
        for i in 0..<batch {
            let a = input + i * nIn, b = a + sizes.a, y = output + i * nOut
            switch operation {
            case .add: for e in 0..<nOut { y[e] = a[mapA[e]] + b[mapB[e]] }
            case .sub: for e in 0..<nOut { y[e] = a[mapA[e]] - b[mapB[e]] }
            case .mul: for e in 0..<nOut { y[e] = a[mapA[e]] * b[mapB[e]] }
            case .div: for e in 0..<nOut { y[e] = a[mapA[e]] / b[mapB[e]] }
            }
        }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func jvp(
        _ state: LayerState<Scalar>, parameterTangents: UnsafePointer<Scalar>?, parameterStride: Int,
        inputTangents: UnsafePointer<Scalar>?, block s: Int,
        outputTangents: UnsafeMutablePointer<Scalar>, scratch: UnsafeMutablePointer<Scalar>
    ) throws {
        let nIn = inputSize, nOut = outputSize
        guard let inputTangents else {
            outputTangents.update(repeating: 0, count: state.batch * s * nOut)
            return
        }
        for i in 0..<state.batch {
            let a = state.input + i * nIn, b = a + sizes.a
            for t in 0..<s {
                let da = inputTangents + (i * s + t) * nIn, db = da + sizes.a
                let y = outputTangents + (i * s + t) * nOut
                switch operation {
                case .add: for e in 0..<nOut { y[e] = da[mapA[e]] + db[mapB[e]] }
                case .sub: for e in 0..<nOut { y[e] = da[mapA[e]] - db[mapB[e]] }
                case .mul: for e in 0..<nOut { y[e] = da[mapA[e]] * b[mapB[e]] + a[mapA[e]] * db[mapB[e]] }
                case .div:
                    for e in 0..<nOut {
                        let bb = b[mapB[e]]
                        y[e] = (da[mapA[e]] - a[mapA[e]] * db[mapB[e]] / bb) / bb
                    }
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
    ) throws {
        guard let inputCotangents else { return }
        let nIn = inputSize, nOut = outputSize
        inputCotangents.update(repeating: 0, count: state.batch * s * nIn)
        for i in 0..<state.batch {
            let a = state.input + i * nIn, b = a + sizes.a
            for t in 0..<s {
                let g = outputCotangents + (i * s + t) * nOut
                let ga = inputCotangents + (i * s + t) * nIn, gb = ga + sizes.a
                switch operation {
                case .add: for e in 0..<nOut { ga[mapA[e]] += g[e]; gb[mapB[e]] += g[e] }
                case .sub: for e in 0..<nOut { ga[mapA[e]] += g[e]; gb[mapB[e]] -= g[e] }
                case .mul: for e in 0..<nOut { ga[mapA[e]] += g[e] * b[mapB[e]]; gb[mapB[e]] += g[e] * a[mapA[e]] }
                case .div:
                    for e in 0..<nOut {
                        let bb = b[mapB[e]], q = g[e] / bb
                        ga[mapA[e]] += q
                        gb[mapB[e]] -= q * a[mapA[e]] / bb
                    }
                }
            }
        }
    }
}

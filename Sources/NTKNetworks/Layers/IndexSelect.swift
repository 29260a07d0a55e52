import NTKLinearAlgebra

/// y[e] = x[index[e]] per example: any data movement fixed at build time — a slice, a gather
/// with constant indices, a split, an expand (an index read several times), a squeeze or
/// unsqueeze (ONNX `Slice`, `Gather`, `Split`, `Expand`, … on activations). Linear and
/// parameter-free: the JVP is the same gather of the tangents, the VJP the scatter-add of the
/// cotangents.
///
/// - Complexity: O(|y|) per example and vector; the index map holds |y| integers.
public struct IndexSelect<Scalar: BLASScalar>: ParameterFreeLayer {
    public let inputShape: [Int]
    public let outputShape: [Int]
    /// Per output element (C order), the input element it reads.
    public let indices: [Int]

    /// - Throws: `NetworkError.invalidLayer` if the map's length is not |output| or an index is
    ///   outside the input.
    public init(inputShape: [Int], outputShape: [Int], indices: [Int]) throws {
        guard let inCount = SizeLimit.product(inputShape), let outCount = SizeLimit.product(outputShape),
              indices.count == outCount else {
            throw NetworkError.invalidLayer(
                layer: "index_select", field: "indices",
                message: "got \(indices.count) indices for output shape \(outputShape); expected one per output element")
        }
        if let bad = indices.first(where: { !(0..<inCount).contains($0) }) {
            throw NetworkError.invalidLayer(
                layer: "index_select", field: "indices", message: "index \(bad) is outside the input of shape \(inputShape)")
        }
        self.inputShape = inputShape
        self.outputShape = outputShape
        self.indices = indices
    }


    public func converted<Other: BLASScalar>(to: Other.Type) throws -> any Layer<Other> {
        try IndexSelect<Other>(inputShape: inputShape, outputShape: outputShape, indices: indices)
    }

    @inline(__always)
    func select(_ x: UnsafePointer<Scalar>, _ y: UnsafeMutablePointer<Scalar>, rows: Int) {
        let nIn = inputSize, nOut = outputSize
        indices.withUnsafeBufferPointer { map in
            for r in 0..<rows {
                let xr = x + r * nIn, yr = y + r * nOut
                for e in 0..<nOut { yr[e] = xr[map[e]] }
            }
        }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(
        parameters: UnsafePointer<Scalar>, input: UnsafePointer<Scalar>, batch: Int,
        output: UnsafeMutablePointer<Scalar>, saved: UnsafeMutablePointer<Scalar>
    ) throws {
        select(input, output, rows: batch)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func jvp(
        _ state: LayerState<Scalar>, parameterTangents: UnsafePointer<Scalar>?, parameterStride: Int,
        inputTangents: UnsafePointer<Scalar>?, block s: Int,
        outputTangents: UnsafeMutablePointer<Scalar>, scratch: UnsafeMutablePointer<Scalar>
    ) throws {
        if let inputTangents {
            select(inputTangents, outputTangents, rows: state.batch * s)
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
        let nIn = inputSize, nOut = outputSize, rows = state.batch * s
        inputCotangents.update(repeating: 0, count: rows * nIn)
        indices.withUnsafeBufferPointer { map in
            for r in 0..<rows {
                let xr = inputCotangents + r * nIn, yr = outputCotangents + r * nOut
                for e in 0..<nOut { xr[map[e]] += yr[e] }
            }
        }
    }
}

/// y = x + p with a trainable tensor p broadcast (NumPy rules) to the input's shape: a bias
/// or a learned positional table added to activations (ONNX `Add` of an activation and an
/// initializer that is not part of a `Gemm`/`Conv`). Its one tensor is named `tensorName`.
///
/// JVP: ẏ = ẋ + broadcast(ṗ); VJP: x̄ = ȳ, p̄ += Σ over broadcast axes of ȳ.
///
/// - Complexity: O(|x|) per example and vector.
public struct ParameterAdd<Scalar: BLASScalar>: Layer {
    public let inputShape: [Int]
    public let parameterShape: [Int]
    public let tensorName: String
    /// Per input element, the index of the parameter element added to it.
    let map: [Int]

    /// - Throws: `NetworkError.invalidLayer` unless `parameterShape` broadcasts to `inputShape`
    ///   without changing it.
    public init(inputShape: [Int], parameterShape: [Int], tensorName: String = "weight") throws {
        let (shape, strides) = try Broadcast.shape([inputShape, parameterShape], layer: "parameter_add")
        guard shape == inputShape else {
            throw NetworkError.invalidLayer(
                layer: "parameter_add", field: "parameter_shape",
                message: "\(parameterShape) broadcast to the input \(inputShape) gives \(shape); expected the input's shape")
        }
        self.inputShape = inputShape
        self.parameterShape = parameterShape
        self.tensorName = tensorName
        map = Broadcast.indexMap(shape: shape, strides: strides[1])
    }

    public var outputShape: [Int] { inputShape }
    public var parameterCount: Int { parameterShape.reduce(1, *) }
    public var parameterTensors: [ParameterTensor] { [ParameterTensor(name: tensorName, shape: parameterShape, offset: 0)] }

    /// Zeros, as PyTorch initializes biases it adds this way only when told to; imported models bring their values.
    public func initialize(parameters: UnsafeMutableBufferPointer<Scalar>, using generator: inout SeededGenerator) {
        for j in parameters.indices { parameters[j] = 0 }
    }

    public func savedCount(batch: Int) -> Int { 0 }
    public func scratchCount(batch: Int, block: Int) -> Int { 0 }

    public func converted<Other: BLASScalar>(to: Other.Type) throws -> any Layer<Other> {
        try ParameterAdd<Other>(inputShape: inputShape, parameterShape: parameterShape, tensorName: tensorName)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(
        parameters: UnsafePointer<Scalar>, input: UnsafePointer<Scalar>, batch: Int,
        output: UnsafeMutablePointer<Scalar>, saved: UnsafeMutablePointer<Scalar>
    ) throws {
        let n = inputSize
        map.withUnsafeBufferPointer { map in
            for i in 0..<batch {
                let x = input + i * n, y = output + i * n
                for e in 0..<n { y[e] = x[e] + parameters[map[e]] }
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
        let n = inputSize, rows = state.batch * s
        if let inputTangents {
            outputTangents.update(from: inputTangents, count: rows * n)
        } else {
            outputTangents.update(repeating: 0, count: rows * n)
        }
        guard let parameterTangents else { return }
        map.withUnsafeBufferPointer { map in
            for i in 0..<state.batch {
                for t in 0..<s {
                    let y = outputTangents + (i * s + t) * n, p = parameterTangents + t * parameterStride
                    for e in 0..<n { y[e] += p[map[e]] }
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
        let n = inputSize
        inputCotangents?.update(from: outputCotangents, count: state.batch * s * n)
        guard let parameterCotangents else { return }
        map.withUnsafeBufferPointer { map in
            for i in 0..<state.batch {
                for t in 0..<s {
                    let y = outputCotangents + (i * s + t) * n, p = parameterCotangents + t * parameterStride
                    for e in 0..<n { p[map[e]] += y[e] }
                }
            }
        }
    }
}

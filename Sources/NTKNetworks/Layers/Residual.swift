import NTKLinearAlgebra

/// A skip connection around any chain: y = x + body(x) (body output shape = input shape).
/// Its tensors are the body's with the prefix "layers." — the `state_dict` of a PyTorch
/// module `Residual` whose attribute `layers` is an `nn.Sequential` (so inside a model they
/// read "3.layers.0.weight").
///
/// JVP: ẏ = ẋ + body'(ẋ, θ̇); VJP: x̄ = ȳ + body'ᵀ(ȳ), θ̄ from the body.
/// Saved: the body's output, then the body's saved state.
public struct Residual<Scalar: BLASScalar>: Layer {
    public let body: Sequential<Scalar>

    /// - Throws: `NetworkError.invalidLayer` if the body changes the shape.
    public init(body: Sequential<Scalar>) throws {
        guard body.outputShape == body.inputShape else {
            throw NetworkError.invalidLayer(
                layer: "residual", field: "layers",
                message: "the body maps shape \(body.inputShape) to \(body.outputShape); expected the same shape for y = x + body(x)")
        }
        self.body = body
    }

    public var inputShape: [Int] { body.inputShape }
    public var outputShape: [Int] { body.outputShape }
    public var parameterCount: Int { body.parameterCount }

    public var parameterTensors: [ParameterTensor] {
        body.parameterTensors.map { ParameterTensor(name: "layers.\($0.name)", shape: $0.shape, offset: $0.offset) }
    }

    /// The body converted layer by layer.
    public func converted<Other: BLASScalar>(to: Other.Type) throws -> any Layer<Other> {
        try Residual<Other>(body: body.convertedChain(to: Other.self))
    }

    public func initialize(parameters: UnsafeMutableBufferPointer<Scalar>, using generator: inout SeededGenerator) {
        body.initialize(parameters: parameters, using: &generator)
    }

    public func savedCount(batch: Int) -> Int { batch * outputSize + body.savedCount(batch: batch) }
    public func scratchCount(batch: Int, block: Int) -> Int { body.scratchCount(batch: batch, block: block) }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(
        parameters: UnsafePointer<Scalar>, input: UnsafePointer<Scalar>, batch: Int,
        output: UnsafeMutablePointer<Scalar>, saved: UnsafeMutablePointer<Scalar>
    ) throws {
        let count = batch * outputSize
        try body.forward(parameters: parameters, input: input, batch: batch, output: saved, saved: saved + count)
        for j in 0..<count { output[j] = input[j] + saved[j] }
    }

    func bodyState(_ state: LayerState<Scalar>) -> LayerState<Scalar> {
        let count = state.batch * outputSize
        return LayerState(
            parameters: state.parameters, input: state.input, output: state.saved, saved: state.saved + count,
            batch: state.batch)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func jvp(
        _ state: LayerState<Scalar>, parameterTangents: UnsafePointer<Scalar>?, parameterStride: Int,
        inputTangents: UnsafePointer<Scalar>?, block s: Int,
        outputTangents: UnsafeMutablePointer<Scalar>, scratch: UnsafeMutablePointer<Scalar>
    ) throws {
        try body.jvp(
            bodyState(state), parameterTangents: parameterTangents, parameterStride: parameterStride,
            inputTangents: inputTangents, block: s, outputTangents: outputTangents, scratch: scratch)
        if let inputTangents {
            for j in 0..<(state.batch * s * outputSize) { outputTangents[j] += inputTangents[j] }
        }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func vjp(
        _ state: LayerState<Scalar>, outputCotangents: UnsafePointer<Scalar>, block s: Int,
        parameterCotangents: UnsafeMutablePointer<Scalar>?, parameterStride: Int,
        inputCotangents: UnsafeMutablePointer<Scalar>?, scratch: UnsafeMutablePointer<Scalar>
    ) throws {
        try body.vjp(
            bodyState(state), outputCotangents: outputCotangents, block: s, parameterCotangents: parameterCotangents,
            parameterStride: parameterStride, inputCotangents: inputCotangents, scratch: scratch)
        if let inputCotangents {
            for j in 0..<(state.batch * s * inputSize) { inputCotangents[j] += outputCotangents[j] }
        }
    }
}

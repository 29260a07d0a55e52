import NTKLinearAlgebra

/// A network f(θ, x): a `Sequential` of layers plus its flat parameter vector θ ∈ R^P.
///
/// Batched passes (b examples, s-vector blocks; layouts in `Layer`):
/// - `forward(inputs:batch:into:)` fills a `ForwardCache` (inputs, outputs [b, k], activations).
/// - `jvp` maps parameter tangents (s × P) and/or input tangents ([b, s, inputSize]) to output
///   tangents [b, s, k] = J_θ θ̇ + J_x ẋ.
/// - `vjp` maps output cotangents [b, s, k] to parameter cotangents (s × P, accumulated) and
///   optionally input cotangents ([b, s, inputSize], overwritten).
/// The derivative passes allocate nothing: all memory lives in the cache and the workspace
/// (measured: Benchmarks `pass-allocations` under valgrind reports the same heap-allocation
/// total for 1 and 21 iterations of forward + JVP + VJP on MLP, CNN, ResNet and LayerNorm models).
/// A cache is valid for the parameter values it was computed with.
///
/// - Complexity: a JVP or VJP costs about 2·s forward passes (GEMM-shaped).
public struct Network<Scalar: BLASScalar>: Sendable {
    /// Flat parameters θ; layer slices as in `body.parameterOffsets`.
    public var parameters: [Scalar]
    /// The layer chain.
    public let body: Sequential<Scalar>

    /// Builds a network and initializes θ from `seed` with each layer's parameterization.
    public init(inputShape: [Int], layers: [any Layer<Scalar>], seed: UInt64 = 0) throws {
        try self.init(body: Sequential(inputShape: inputShape, layers: layers), seed: seed)
    }

    /// Wraps a chain and initializes θ from `seed`.
    public init(body: Sequential<Scalar>, seed: UInt64 = 0) throws {
        guard body.inputShape.allSatisfy({ $0 > 0 }) else {
            throw NetworkError.invalidLayer(layer: "network", field: "input_shape", message: "got \(body.inputShape), expected positive sizes")
        }
        do {
            try SizeLimit.checkAllocation(
                "the model's parameter vector", count: body.parameterCount, bytesPerElement: MemoryLayout<Scalar>.size,
                elementName: "\(Scalar.precisionName) values")
        } catch { throw NetworkError.tooLarge(error) }
        self.body = body
        self.parameters = [Scalar](repeating: 0, count: body.parameterCount)
        initializeParameters(seed: seed)
    }

    /// Wraps a chain with given parameters.
    /// - Throws: `NetworkError.sizeMismatch` if the count is not `body.parameterCount`.
    public init(body: Sequential<Scalar>, parameters: [Scalar]) throws {
        guard parameters.count == body.parameterCount else {
            throw NetworkError.sizeMismatch(name: "parameters", got: parameters.count, expected: "\(body.parameterCount)")
        }
        self.body = body
        self.parameters = parameters
    }

    /// Re-initializes θ from `seed` (deterministic).
    public mutating func initializeParameters(seed: UInt64) {
        var generator = SeededGenerator(seed: seed)
        let body = self.body
        parameters.withUnsafeMutableBufferPointer { body.initialize(parameters: $0, using: &generator) }
    }

    public var layers: [any Layer<Scalar>] { body.layers }
    public var parameterCount: Int { body.parameterCount }
    public var inputShape: [Int] { body.inputShape }
    public var inputSize: Int { body.inputSize }
    public var outputShape: [Int] { body.outputShape }
    /// k: outputs per example.
    public var outputCount: Int { body.outputSize }
    /// Named tensors with PyTorch `state_dict` names ("0.weight", …).
    public var parameterTensors: [ParameterTensor] { body.parameterTensors }

    // MARK: Forward

    /// A cache with buffers for up to `capacity` examples.
    public func makeForwardCache(capacity: Int) -> ForwardCache<Scalar> {
        ForwardCache(
            capacity: max(capacity, 0), inputSize: inputSize, outputCount: outputCount,
            parameterCount: parameterCount, savedCount: body.savedCount(batch: max(capacity, 0)))
    }

    /// Scratch for `jvp`/`vjp` with up to `batch` examples and `block` vectors.
    public func makeBlockWorkspace(batch: Int, block: Int) -> BlockWorkspace<Scalar> {
        let b = max(batch, 0), s = max(block, 0)
        return BlockWorkspace(batch: b, block: s, count: body.scratchCount(batch: b, block: s))
    }

    /// Runs the forward pass over `batch` examples and returns a new cache holding it.
    public func forwardCache(inputs: UnsafeBufferPointer<Scalar>, batch: Int) throws -> ForwardCache<Scalar> {
        let cache = makeForwardCache(capacity: batch)
        try forward(inputs: inputs, batch: batch, into: cache)
        return cache
    }

    /// Runs the forward pass into an existing cache (no allocation).
    ///
    /// - Throws: `NetworkError` if `inputs` is not [batch, inputSize], the batch exceeds the
    ///   cache, the cache belongs to another network shape, or inputs or parameters are not finite.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(inputs: UnsafeBufferPointer<Scalar>, batch: Int, into cache: ForwardCache<Scalar>) throws {
        guard batch > 0 else {
            throw NetworkError.sizeMismatch(name: "batch", got: batch, expected: "a positive number of examples")
        }
        guard inputs.count == batch * inputSize, let base = inputs.baseAddress else {
            throw NetworkError.sizeMismatch(name: "inputs", got: inputs.count, expected: "batch × inputSize = \(batch) × \(inputSize)")
        }
        try checkCache(cache, batch: batch)
        guard inputs.allSatisfy({ $0.isFinite }) else { throw NetworkError.nonFinite(name: "inputs") }
        guard parameters.allSatisfy({ $0.isFinite }) else { throw NetworkError.nonFinite(name: "parameters") }
        cache.input.update(from: base, count: inputs.count)
        try parameters.withUnsafeBufferPointer { p in
            try body.forward(
                parameters: p.baseAddress ?? UnsafePointer(cache.saved), input: cache.input, batch: batch,
                output: cache.output, saved: cache.saved)
        }
        cache.batch = batch
    }

    /// Convenience forward: [b, inputSize] → [b, k].
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(_ inputs: Matrix<Scalar>) throws -> Matrix<Scalar> {
        guard inputs.columns == inputSize else {
            throw NetworkError.sizeMismatch(name: "inputs columns", got: inputs.columns, expected: "inputSize \(inputSize)")
        }
        let cache = try inputs.storage.withUnsafeBufferPointer { try forwardCache(inputs: $0, batch: inputs.rows) }
        return cache.outputs
    }

    func checkCache(_ cache: ForwardCache<Scalar>, batch: Int) throws {
        guard cache.inputSize == inputSize, cache.outputCount == outputCount, cache.parameterCount == parameterCount else {
            throw NetworkError.sizeMismatch(
                name: "forward cache", got: cache.parameterCount,
                expected: "a cache made by this network (P = \(parameterCount), input \(inputSize), outputs \(outputCount))")
        }
        guard batch <= cache.capacity, body.savedCount(batch: batch) <= cache.savedCapacity else {
            throw NetworkError.capacityExceeded(name: "forward cache batch", requested: batch, capacity: cache.capacity)
        }
    }

    func checkDerivative(cache: ForwardCache<Scalar>, block s: Int, workspace: BlockWorkspace<Scalar>) throws {
        guard cache.batch > 0 else {
            throw NetworkError.sizeMismatch(name: "forward cache", got: 0, expected: "a cache filled by a forward pass")
        }
        try checkCache(cache, batch: cache.batch)
        guard s > 0 else { throw NetworkError.sizeMismatch(name: "block", got: s, expected: "a positive block width") }
        let needed = body.scratchCount(batch: cache.batch, block: s)
        guard needed <= workspace.count else {
            throw NetworkError.capacityExceeded(name: "block workspace (batch \(cache.batch), block \(s))", requested: needed, capacity: workspace.count)
        }
    }

    @inline(__always)
    func withState<R>(_ cache: ForwardCache<Scalar>, _ body: (LayerState<Scalar>) throws -> R) rethrows -> R {
        try parameters.withUnsafeBufferPointer { p in
            try body(LayerState(
                parameters: p.baseAddress ?? UnsafePointer(cache.saved), input: cache.input, output: cache.output,
                saved: cache.saved, batch: cache.batch))
        }
    }

    // MARK: Derivatives

    /// Output tangents [b, s, k] = J_θ · θ̇ for `s` parameter tangents (s × P row-major).
    /// Allocation-free.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func jvp(
        cache: ForwardCache<Scalar>, parameterTangents: UnsafePointer<Scalar>, block s: Int,
        workspace: BlockWorkspace<Scalar>, outputTangents: UnsafeMutablePointer<Scalar>
    ) throws {
        try jvp(cache: cache, parameterTangents: parameterTangents, inputTangents: nil, block: s,
                workspace: workspace, outputTangents: outputTangents)
    }

    /// Output tangents [b, s, k] = J_θ · θ̇ + J_x · ẋ, with θ̇ (s × P) and ẋ ([b, s, inputSize])
    /// each optional (nil = zero). Allocation-free.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func jvp(
        cache: ForwardCache<Scalar>, parameterTangents: UnsafePointer<Scalar>?, inputTangents: UnsafePointer<Scalar>?,
        block s: Int, workspace: BlockWorkspace<Scalar>, outputTangents: UnsafeMutablePointer<Scalar>
    ) throws {
        try checkDerivative(cache: cache, block: s, workspace: workspace)
        let P = parameterCount
        try withState(cache) { state in
            try body.jvp(
                state, parameterTangents: parameterTangents, parameterStride: P, inputTangents: inputTangents,
                block: s, outputTangents: outputTangents, scratch: workspace.scratch)
        }
    }

    /// parameterCotangents (s × P) += J_θᵀ · ȳ for output cotangents ȳ [b, s, k]. Allocation-free.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func vjp(
        cache: ForwardCache<Scalar>, outputCotangents: UnsafePointer<Scalar>, block s: Int,
        workspace: BlockWorkspace<Scalar>, parameterCotangents: UnsafeMutablePointer<Scalar>
    ) throws {
        try vjp(cache: cache, outputCotangents: outputCotangents, block: s, workspace: workspace,
                parameterCotangents: parameterCotangents, inputCotangents: nil)
    }

    /// parameterCotangents (s × P, nil = skip) += J_θᵀ ȳ and inputCotangents ([b, s, inputSize],
    /// nil = skip) = J_xᵀ ȳ. Allocation-free.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func vjp(
        cache: ForwardCache<Scalar>, outputCotangents: UnsafePointer<Scalar>, block s: Int,
        workspace: BlockWorkspace<Scalar>, parameterCotangents: UnsafeMutablePointer<Scalar>?,
        inputCotangents: UnsafeMutablePointer<Scalar>?
    ) throws {
        try checkDerivative(cache: cache, block: s, workspace: workspace)
        let P = parameterCount
        try withState(cache) { state in
            try body.vjp(
                state, outputCotangents: outputCotangents, block: s, parameterCotangents: parameterCotangents,
                parameterStride: P, inputCotangents: inputCotangents, scratch: workspace.scratch)
        }
    }
}

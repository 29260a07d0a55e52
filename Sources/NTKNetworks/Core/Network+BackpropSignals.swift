import NTKLinearAlgebra

/// Backprop signals and per-layer, parameter-only derivative passes: the pieces of the
/// structured NTK product.
///
/// For a top-level layer l with parameters θ_l, input a_l and output y_l, and
/// δ_{ic,l} = ∂f_c(x_i)/∂y_{i,l}, the chain rule gives ∂f_c(x_i)/∂θ_l = δ_{ic,l}ᵀ ∂y_{i,l}/∂θ_l.
/// So a VJP of the whole network with cotangents v is Σ_l VJP_l(u_l) with
/// u_l[i] = Σ_c v_{ic} δ_{ic,l} (layer l alone, parameters only), and a JVP is read off layer
/// by layer as ⟨δ_{ic,l}, JVP_l(θ̇)⟩. The δ's cost one VJP with k identity cotangents per
/// batch (`backpropSignals(cache:workspace:into:)`). Composite layers (`Residual`,
/// nested `Sequential`) are single top-level layers: their own passes run inside.
extension Network {
    /// Indices of the top-level layers that own parameters.
    public var parameterizedLayerIndices: [Int] { layers.indices.filter { layers[$0].parameterCount > 0 } }

    /// Buffers for the signals of up to `capacity` examples.
    public func makeBackpropSignals(capacity: Int) -> BackpropSignals<Scalar> {
        BackpropSignals(capacity: max(capacity, 0), outputCount: outputCount, layers: layers)
    }

    /// Bytes `makeBackpropSignals(capacity: batch)` allocates: batch·k·(Σ_l out_l + k) scalars.
    public func backpropSignalBytes(batch: Int) -> Int {
        let perExample = parameterizedLayerIndices.reduce(outputCount) { $0 + layers[$1].outputSize }
        return max(batch, 0) * outputCount * perExample * MemoryLayout<Scalar>.stride
    }

    /// Scratch for one top-level layer's `parameterVJP`/`parameterJVP` with up to `batch`
    /// examples and `block` vectors (the largest need of any top-level layer).
    public func makeLayerWorkspace(batch: Int, block: Int) -> BlockWorkspace<Scalar> {
        let b = max(batch, 0), s = max(block, 0)
        let count = layers.reduce(0) { max($0, $1.scratchCount(batch: b, block: s)) }
        return BlockWorkspace(batch: b, block: s, count: count)
    }

    /// The input activations a_l, `[batch, inputSize_l]`, of top-level layer `layer` in a
    /// filled cache (a view valid while the cache lives).
    /// - Throws: `NetworkError.sizeMismatch` for an empty cache or a layer index out of range.
    public func layerInput(_ layer: Int, in cache: ForwardCache<Scalar>) throws -> UnsafeBufferPointer<Scalar> {
        try checkFilled(cache)
        guard layers.indices.contains(layer) else {
            throw NetworkError.sizeMismatch(name: "layer index", got: layer, expected: "0..<\(layers.count)")
        }
        let b = cache.batch
        let start = body.wiring == nil
            ? (layer == 0 ? UnsafePointer(cache.input) : UnsafePointer(cache.saved + b * body.activationOffsets[layer - 1]))
            : withState(cache) { body.graphInput(of: layer, in: $0) }
        return UnsafeBufferPointer(start: start, count: b * layers[layer].inputSize)
    }

    /// Fills `signals` with δ_{ic,l} for every parameterized top-level layer l: one backward
    /// pass of the chain with k identity cotangents per example, recording the cotangent at
    /// each such layer's output. No parameter cotangents are formed; nothing below the first
    /// parameterized layer runs. Allocation-free.
    ///
    /// - Parameter workspace: from `makeBlockWorkspace(batch:block:)` with block ≥ k.
    /// - Complexity: one VJP of width k (≈ 2·k forward passes, input-cotangent GEMMs only).
    /// - Throws: `NetworkError` if the cache is empty or not this network's, or a buffer is too small.
    public func backpropSignals(
        cache: ForwardCache<Scalar>, workspace: BlockWorkspace<Scalar>, into signals: BackpropSignals<Scalar>
    ) throws {
        let k = outputCount
        try checkDerivative(cache: cache, block: k, workspace: workspace)
        let b = cache.batch
        guard b <= signals.capacity, signals.outputCount == k, signals.slots.count == layers.count else {
            throw NetworkError.capacityExceeded(name: "backprop signals (outputs \(k))", requested: b, capacity: signals.capacity)
        }
        let n = layers.count, first = body.firstParameterized
        signals.batch = b
        if first == n { return }
        let identity = signals.identity
        identity.update(repeating: 0, count: b * k * k)
        for i in 0..<b {
            for c in 0..<k { identity[(i * k + c) * k + c] = 1 }
        }
        if body.wiring != nil {
            // A graph: one k-wide reverse pass, δ of each parameterized layer copied as the pass reaches it.
            try withState(cache) { state in
                try body.graphVJP(
                    state, outputCotangents: identity, block: k, parameterCotangents: nil, parameterStride: 0,
                    inputCotangents: nil, scratch: workspace.scratch
                ) { l, cotangent in
                    if let slot = signals.slots[l] {
                        signals.mutableSignals(slot: slot).update(from: cotangent, count: b * k * layers[l].outputSize)
                    }
                }
            }
            return
        }
        if let slot = signals.slots[n - 1] { signals.mutableSignals(slot: slot).update(from: identity, count: b * k * k) }
        let scratch = workspace.scratch
        let buffers = (scratch, scratch + b * k * body.maxIntermediate)
        let layerScratch = scratch + 2 * b * k * body.maxIntermediate
        try withState(cache) { state in
            var layerSaved = state.saved + body.savedCount(batch: b)
            var cotangent = UnsafePointer(identity)
            for l in stride(from: n - 1, to: first, by: -1) {
                layerSaved -= layers[l].savedCount(batch: b)
                // The input cotangent of layer l is the output cotangent (δ) of layer l − 1.
                let destination = signals.slots[l - 1].map { signals.mutableSignals(slot: $0) }
                    ?? (l % 2 == 0 ? buffers.0 : buffers.1)
                try layers[l].vjp(
                    body.state(of: l, in: state, layerSaved: layerSaved), outputCotangents: cotangent, block: k,
                    parameterCotangents: nil, parameterStride: 0, inputCotangents: destination, scratch: layerScratch)
                cotangent = UnsafePointer(destination)
            }
        }
    }

    /// θ̄_l += (∂y_l/∂θ_l)ᵀ ȳ_l for top-level layer `layer` alone (no input cotangent).
    ///
    /// - Parameters:
    ///   - outputCotangents: [b, s, out_l].
    ///   - parameterCotangents: base of layer l's slice in an s-row block with row stride
    ///     `parameterStride` (≥ the layer's parameter count), accumulated into.
    ///   - workspace: from `makeLayerWorkspace(batch:block:)`.
    /// - Throws: `NetworkError` on an empty or foreign cache, a bad index, block or workspace.
    public func parameterVJP(
        layer: Int, cache: ForwardCache<Scalar>, outputCotangents: UnsafePointer<Scalar>, block s: Int,
        workspace: BlockWorkspace<Scalar>, parameterCotangents: UnsafeMutablePointer<Scalar>, parameterStride: Int
    ) throws {
        try checkLayerCall(layer: layer, cache: cache, block: s, workspace: workspace, stride: parameterStride)
        try withState(cache) { state in
            try layers[layer].vjp(
                layerState(layer, state), outputCotangents: outputCotangents, block: s,
                parameterCotangents: parameterCotangents, parameterStride: parameterStride, inputCotangents: nil,
                scratch: workspace.scratch)
        }
    }

    /// ẏ_l = (∂y_l/∂θ_l) θ̇_l for top-level layer `layer` alone (zero input tangent):
    /// `outputTangents` [b, s, out_l] is overwritten. `parameterTangents` is the base of layer
    /// l's slice in an s-row block with row stride `parameterStride`.
    /// - Throws: as `parameterVJP`.
    public func parameterJVP(
        layer: Int, cache: ForwardCache<Scalar>, parameterTangents: UnsafePointer<Scalar>, parameterStride: Int,
        block s: Int, workspace: BlockWorkspace<Scalar>, outputTangents: UnsafeMutablePointer<Scalar>
    ) throws {
        try checkLayerCall(layer: layer, cache: cache, block: s, workspace: workspace, stride: parameterStride)
        try withState(cache) { state in
            try layers[layer].jvp(
                layerState(layer, state), parameterTangents: parameterTangents, parameterStride: parameterStride,
                inputTangents: nil, block: s, outputTangents: outputTangents, scratch: workspace.scratch)
        }
    }

    func checkFilled(_ cache: ForwardCache<Scalar>) throws {
        guard cache.batch > 0 else {
            throw NetworkError.sizeMismatch(name: "forward cache", got: 0, expected: "a cache filled by a forward pass")
        }
        try checkCache(cache, batch: cache.batch)
    }

    func checkLayerCall(layer: Int, cache: ForwardCache<Scalar>, block s: Int, workspace: BlockWorkspace<Scalar>, stride: Int) throws {
        try checkFilled(cache)
        guard layers.indices.contains(layer) else {
            throw NetworkError.sizeMismatch(name: "layer index", got: layer, expected: "0..<\(layers.count)")
        }
        guard s > 0 else { throw NetworkError.sizeMismatch(name: "block", got: s, expected: "a positive block width") }
        guard stride >= layers[layer].parameterCount else {
            throw NetworkError.sizeMismatch(
                name: "parameter stride", got: stride, expected: "at least layer \(layer)'s \(layers[layer].parameterCount) parameters")
        }
        let needed = layers[layer].scratchCount(batch: cache.batch, block: s)
        guard needed <= workspace.count else {
            throw NetworkError.capacityExceeded(
                name: "layer workspace (layer \(layer), batch \(cache.batch), block \(s))", requested: needed, capacity: workspace.count)
        }
    }

    /// The forward state of top-level layer l within the network's state.
    func layerState(_ l: Int, _ state: LayerState<Scalar>) -> LayerState<Scalar> {
        var saved = state.saved + state.batch * body.intermediateCount
        for j in 0..<l { saved += layers[j].savedCount(batch: state.batch) }
        return body.state(of: l, in: state, layerSaved: saved)
    }
}

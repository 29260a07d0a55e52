import NTKLinearAlgebra

/// A chain of layers f = f_{n−1} ∘ … ∘ f_0, itself a `Layer` (so it nests, e.g. as the body of
/// a `Residual`) — or, built with `inputs`, a directed acyclic graph of layers in topological
/// order whose multi-input nodes are `MergeLayer`s (skip connections that add or concatenate,
/// products of activations); the chain is the graph whose layer k reads layer k − 1. The graph's
/// passes are in `Sequential+Graph.swift`; every parameterized layer of a graph is still a
/// top-level layer, so the structured NTK's per-layer rules apply to it unchanged. Layer k owns the parameter slice [offset_k, offset_k + P_k) of the chain's
/// slice; its tensors are named with the PyTorch `nn.Sequential` index prefix ("k.weight").
///
/// Saved state: the intermediate activations a_1 … a_{n−1} ([b, features] each; the input and
/// output belong to the caller), then each layer's own saved state. Scratch: two ping-pong
/// buffers of [b, s, max intermediate features] for tangents/cotangents, then the largest
/// scratch any layer needs.
///
/// - Complexity: the sum of the layers' costs; no allocation in any pass.
public struct Sequential<Scalar: BLASScalar>: Layer {
    public let layers: [any Layer<Scalar>]
    public let inputShape: [Int]
    public let outputShape: [Int]
    /// Offset of layer k's parameter slice within this chain's slice (n + 1 entries).
    public let parameterOffsets: [Int]
    /// Per-example offsets of a_k (k = 1 … n−1) in the saved region (n entries, the last the total).
    let activationOffsets: [Int]
    let maxIntermediate: Int
    /// Index of the first layer with parameters (n if none).
    let firstParameterized: Int
    /// Per-example elements of the saved region before the layers' own state: the
    /// activations a_1 … a_{n−1}, then (graphs only) the gathered inputs of merge layers.
    let intermediateCount: Int
    /// How a graph's layers take their inputs; nil for a chain.
    public let wiring: LayerWiring?

    /// Chains `layers`; each layer's input shape must equal the previous layer's output shape.
    ///
    /// - Throws: `NetworkError.invalidLayer` naming the first layer index whose input shape
    ///   does not match, or if `layers` is empty.
    public init(inputShape: [Int], layers: [any Layer<Scalar>]) throws {
        try self.init(inputShape: inputShape, layers: layers, inputs: nil)
    }

    /// A layer graph: layer k reads the nodes `inputs[k]`, where node 0 is the graph's input and
    /// node j + 1 the output of layer j (so `inputs[k] ⊆ 0…k`: the layers are in topological
    /// order); the last layer's output is the graph's output. A layer with one input is any
    /// `Layer`; a `MergeLayer` reads several (e.g. `[[0], [1], [0, 2]]` is y = x + f₁(f₀(x)) with an
    /// `ElementwiseMerge(.add)` last). `inputs == nil`, or every `inputs[k] == [k]` without merge
    /// layers, is the chain.
    ///
    /// - Throws: `NetworkError.invalidLayer` naming the layer whose inputs are out of order, of
    ///   the wrong count or shape.
    public init(inputShape: [Int], layers: [any Layer<Scalar>], inputs: [[Int]]?) throws {
        guard !layers.isEmpty else {
            throw NetworkError.invalidLayer(layer: "sequential", field: "layers", message: "got an empty list, expected at least one layer")
        }
        let isChain = inputs.map { inputs in
            inputs.enumerated().allSatisfy { $1 == [$0] } && !layers.contains { $0 is any MergeLayer }
        } ?? true
        let wiring = isChain ? nil : try LayerWiring(inputShape: inputShape, layers: layers, inputs: inputs ?? [])
        var shape = inputShape
        var offsets = [0], actOffsets = [0]
        var maxIntermediate = 0
        for (k, layer) in layers.enumerated() {
            guard wiring != nil || layer.inputShape == shape else {
                throw NetworkError.invalidLayer(
                    layer: "\(k)", field: "input_shape",
                    message: "the layer expects input shape \(layer.inputShape), but the previous output shape is \(shape)")
            }
            guard let parameterEnd = SizeLimit.sum([offsets[k], layer.parameterCount]) else {
                throw NetworkError.tooLarge(SizeLimitError(
                    quantity: "the parameter count up to layer \(k)", value: "\(offsets[k]) + \(layer.parameterCount), which overflows",
                    limit: "the 64-bit integer range"))
            }
            offsets.append(parameterEnd)
            shape = layer.outputShape
            guard let outputSize = SizeLimit.product(shape) else {
                throw NetworkError.invalidLayer(
                    layer: "\(k)", field: "output_shape", message: "output shape \(shape) overflows the integer range")
            }
            if k < layers.count - 1 {
                guard let activationEnd = SizeLimit.sum([actOffsets[k], outputSize]) else {
                    throw NetworkError.tooLarge(SizeLimitError(
                        quantity: "the activations per example up to layer \(k)", value: "\(actOffsets[k]) + \(outputSize), which overflows",
                        limit: "the 64-bit integer range"))
                }
                actOffsets.append(activationEnd)
                maxIntermediate = max(maxIntermediate, layer.outputSize)
            }
        }
        self.layers = layers
        self.inputShape = inputShape
        self.outputShape = shape
        self.parameterOffsets = offsets
        self.activationOffsets = actOffsets
        self.maxIntermediate = maxIntermediate
        self.firstParameterized = layers.firstIndex { $0.parameterCount > 0 } ?? layers.count
        self.wiring = wiring
        self.intermediateCount = actOffsets[actOffsets.count - 1] + (wiring?.gatheredCount ?? 0)
    }

    public var parameterCount: Int { parameterOffsets[layers.count] }

    public var parameterTensors: [ParameterTensor] {
        var tensors: [ParameterTensor] = []
        for (k, layer) in layers.enumerated() {
            for t in layer.parameterTensors {
                tensors.append(ParameterTensor(name: "\(k).\(t.name)", shape: t.shape, offset: parameterOffsets[k] + t.offset))
            }
        }
        return tensors
    }

    /// The chain converted layer by layer (see `convertedChain(to:)`).
    public func converted<Other: BLASScalar>(to: Other.Type) throws -> any Layer<Other> {
        try convertedChain(to: Other.self)
    }

    /// The chain in precision `Other`, each layer converted with `Layer.converted(to:)` (same
    /// input shape, layer order, offsets and tensor names).
    func convertedChain<Other: BLASScalar>(to: Other.Type) throws -> Sequential<Other> {
        try mapLayers(to: Other.self) { _, layer in try layer.converted(to: Other.self) }
    }

    /// The same chain or graph (same input shape, structure and wiring) rebuilt from transformed layers:
    /// layer k becomes `transform(k, layers[k])`, which must keep its input and output shapes
    /// (e.g. the layer in another precision, or with new buffer values).
    ///
    /// This is the one place a chain is rebuilt from an existing one, so whatever structure a
    /// chain carries besides its layers is carried over here.
    ///
    /// - Throws: what `transform` throws; `NetworkError.invalidLayer` if a transformed layer
    ///   changes a shape.
    public func mapLayers(_ transform: (Int, any Layer<Scalar>) throws -> any Layer<Scalar>) throws -> Sequential<Scalar> {
        try mapLayers(to: Scalar.self, transform)
    }

    /// `mapLayers(_:)` into another precision (`convertedChain(to:)`).
    public func mapLayers<Other: BLASScalar>(
        to _: Other.Type, _ transform: (Int, any Layer<Scalar>) throws -> any Layer<Other>
    ) throws -> Sequential<Other> {
        var mapped: [any Layer<Other>] = []
        mapped.reserveCapacity(layers.count)
        for (k, layer) in layers.enumerated() {
            let new = try transform(k, layer)
            guard new.inputShape == layer.inputShape, new.outputShape == layer.outputShape else {
                throw NetworkError.invalidLayer(
                    layer: "\(k)", field: "output_shape",
                    message: "the transformed layer maps \(new.inputShape) to \(new.outputShape); expected \(layer.inputShape) to \(layer.outputShape)")
            }
            mapped.append(new)
        }
        return try Sequential<Other>(inputShape: inputShape, layers: mapped, inputs: wiring?.sources)
    }

    public func initialize(parameters: UnsafeMutableBufferPointer<Scalar>, using generator: inout SeededGenerator) {
        for (k, layer) in layers.enumerated() {
            layer.initialize(
                parameters: UnsafeMutableBufferPointer(rebasing: parameters[parameterOffsets[k]..<parameterOffsets[k + 1]]),
                using: &generator)
        }
    }

    public func savedCount(batch: Int) -> Int {
        var total = batch * intermediateCount
        for layer in layers { total += layer.savedCount(batch: batch) }
        return total
    }

    public func scratchCount(batch: Int, block: Int) -> Int {
        var layerScratch = 0
        for layer in layers { layerScratch = max(layerScratch, layer.scratchCount(batch: batch, block: block)) }
        if let wiring { return batch * block * (wiring.tangentCount + wiring.maxInput) + layerScratch }
        return 2 * batch * block * maxIntermediate + layerScratch
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(
        parameters: UnsafePointer<Scalar>, input: UnsafePointer<Scalar>, batch: Int,
        output: UnsafeMutablePointer<Scalar>, saved: UnsafeMutablePointer<Scalar>
    ) throws {
        if wiring != nil {
            try graphForward(parameters: parameters, input: input, batch: batch, output: output, saved: saved)
            return
        }
        let n = layers.count
        var layerSaved = saved + batch * intermediateCount
        var x = input
        for k in 0..<n {
            let y = k == n - 1 ? output : saved + batch * activationOffsets[k]
            try layers[k].forward(
                parameters: parameters + parameterOffsets[k], input: x, batch: batch, output: y, saved: layerSaved)
            layerSaved += layers[k].savedCount(batch: batch)
            x = UnsafePointer(y)
        }
    }

    /// The forward state of layer k given this chain's state and the start of layer k's saved region.
    @inline(__always)
    func state(of k: Int, in state: LayerState<Scalar>, layerSaved: UnsafePointer<Scalar>) -> LayerState<Scalar> {
        let b = state.batch, n = layers.count
        return LayerState(
            parameters: state.parameters + parameterOffsets[k],
            input: wiring == nil ? (k == 0 ? state.input : state.saved + b * activationOffsets[k - 1]) : graphInput(of: k, in: state),
            output: k == n - 1 ? state.output : state.saved + b * activationOffsets[k],
            saved: layerSaved, batch: b)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func jvp(
        _ state: LayerState<Scalar>, parameterTangents: UnsafePointer<Scalar>?, parameterStride: Int,
        inputTangents: UnsafePointer<Scalar>?, block s: Int,
        outputTangents: UnsafeMutablePointer<Scalar>, scratch: UnsafeMutablePointer<Scalar>
    ) throws {
        if wiring != nil {
            try graphJVP(state, parameterTangents: parameterTangents, parameterStride: parameterStride,
                         inputTangents: inputTangents, block: s, outputTangents: outputTangents, scratch: scratch)
            return
        }
        let b = state.batch, n = layers.count
        // With a zero input tangent, the tangent stays zero until the first parameterized layer.
        let start = inputTangents == nil ? firstParameterized : 0
        if start == n || (inputTangents == nil && parameterTangents == nil) {
            outputTangents.update(repeating: 0, count: b * s * outputSize)
            return
        }
        let buffers = (scratch, scratch + b * s * maxIntermediate)
        let layerScratch = scratch + 2 * b * s * maxIntermediate
        var layerSaved = state.saved + b * intermediateCount
        for k in 0..<start { layerSaved += layers[k].savedCount(batch: b) }
        var tangentIn = inputTangents
        for k in start..<n {
            let tangentOut = k == n - 1 ? outputTangents : (k % 2 == 0 ? buffers.0 : buffers.1)
            try layers[k].jvp(
                self.state(of: k, in: state, layerSaved: layerSaved),
                parameterTangents: parameterTangents.map { $0 + parameterOffsets[k] }, parameterStride: parameterStride,
                inputTangents: tangentIn, block: s, outputTangents: tangentOut, scratch: layerScratch)
            layerSaved += layers[k].savedCount(batch: b)
            tangentIn = UnsafePointer(tangentOut)
        }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func vjp(
        _ state: LayerState<Scalar>, outputCotangents: UnsafePointer<Scalar>, block s: Int,
        parameterCotangents: UnsafeMutablePointer<Scalar>?, parameterStride: Int,
        inputCotangents: UnsafeMutablePointer<Scalar>?, scratch: UnsafeMutablePointer<Scalar>
    ) throws {
        if wiring != nil {
            try graphVJP(state, outputCotangents: outputCotangents, block: s, parameterCotangents: parameterCotangents,
                         parameterStride: parameterStride, inputCotangents: inputCotangents, scratch: scratch)
            return
        }
        let b = state.batch, n = layers.count
        // Without an input cotangent, nothing below the first parameterized layer is needed.
        let stop = inputCotangents == nil ? firstParameterized : 0
        if stop == n { return }
        let buffers = (scratch, scratch + b * s * maxIntermediate)
        let layerScratch = scratch + 2 * b * s * maxIntermediate
        var layerSaved = state.saved + savedCount(batch: b)
        var cotangentOut = outputCotangents
        for k in stride(from: n - 1, through: stop, by: -1) {
            layerSaved -= layers[k].savedCount(batch: b)
            let cotangentIn: UnsafeMutablePointer<Scalar>? =
                k == 0 ? inputCotangents : (k == stop ? nil : (k % 2 == 0 ? buffers.0 : buffers.1))
            try layers[k].vjp(
                self.state(of: k, in: state, layerSaved: layerSaved), outputCotangents: cotangentOut, block: s,
                parameterCotangents: parameterCotangents.map { $0 + parameterOffsets[k] }, parameterStride: parameterStride,
                inputCotangents: cotangentIn, scratch: layerScratch)
            if let cotangentIn { cotangentOut = UnsafePointer(cotangentIn) }
        }
    }
}

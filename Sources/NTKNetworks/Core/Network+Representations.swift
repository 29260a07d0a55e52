import NTKLinearAlgebra

extension Network {
    /// The encoder x ↦ h(x) formed by the first `layerCount` layers of this chain, with their
    /// parameters (the leading slice θ[0 ..< body.parameterOffsets[layerCount]], copied): its
    /// output is the hidden representation that the remaining layers (the decoder) read.
    ///
    /// Used to follow hidden representations during training (e.g. the distance ‖h(x₁) − h(x₂)‖
    /// of a pair of inputs, van Rossem & Saxe 2024, arXiv:2402.09142).
    ///
    /// - Throws: `NetworkError.invalidLayer` if `layerCount` is not in 1 ... `layers.count`, or
    ///   if the body is a layer graph (`wiring != nil`: a prefix of a graph need not end in one
    ///   node; a residual block built as a `Residual` layer is one layer of a chain and is fine).
    /// - Complexity: O(P) to copy the parameter slice.
    public func prefix(layers layerCount: Int) throws -> Network {
        guard body.wiring == nil else {
            throw NetworkError.invalidLayer(
                layer: "network", field: "prefix", message: "the body is a layer graph; expected a chain of layers")
        }
        guard layerCount >= 1, layerCount <= layers.count else {
            throw NetworkError.invalidLayer(
                layer: "network", field: "prefix", message: "got \(layerCount) layers, expected 1 ... \(layers.count)")
        }
        let encoder = try Sequential<Scalar>(inputShape: inputShape, layers: Array(layers.prefix(layerCount)))
        return try Network(body: encoder, parameters: Array(parameters[0..<body.parameterOffsets[layerCount]]))
    }

    /// Hidden representations h(x_i) at the output of layer `layerCount − 1` (the first
    /// `layerCount` layers applied), one row per row of `inputs`, flattened row-major
    /// (`prefix(layers:)`'s output shape).
    ///
    /// - Throws: as `prefix(layers:)` and `forward(_:)`.
    /// - Complexity: one forward pass of the prefix over the inputs.
    public func representations(_ inputs: Matrix<Scalar>, afterLayers layerCount: Int) throws -> Matrix<Scalar> {
        try prefix(layers: layerCount).forward(inputs)
    }

    /// This network with every parameter multiplied by `factor`: the initialization scale
    /// θ₀ → α·θ₀ of rich-versus-lazy studies (Chizat, Oyallon & Bach 2019, arXiv:1812.07956;
    /// van Rossem & Saxe 2024). Under `standard` parameterization (uniform weights and biases,
    /// LayerNorm gain 1) every weight, bias and normalization gain is scaled alike; α < 1 is a
    /// small (rich) and α > 1 a large (lazy) initialization.
    ///
    /// - Throws: `NetworkError.invalidLayer` unless `factor` is finite and positive.
    /// - Complexity: O(P).
    public func scalingParameters(by factor: Double) throws -> Network {
        guard factor.isFinite, factor > 0 else {
            throw NetworkError.invalidLayer(
                layer: "network", field: "initialization_scale", message: "got \(factor), expected a finite positive factor")
        }
        let f = Scalar(factor)
        return try Network(body: body, parameters: parameters.map { $0 * f })
    }
}

import NTKLinearAlgebra

extension Network {
    /// Every buffer of the model (non-trainable constants such as BatchNorm's running
    /// statistics) with its PyTorch `state_dict` name ("1.running_mean"); not part of θ.
    public var bufferTensors: [BufferTensor] { body.bufferTensors }

    /// `state_dict` names a weights file may hold that the model accepts and ignores
    /// ("1.num_batches_tracked").
    public var ignoredStateNames: [String] { body.ignoredStateNames }

    /// Replaces the named buffers (θ unchanged); see `BufferedLayer.replacingBuffers(_:)`.
    ///
    /// Forward caches made before stay valid in shape but hold activations of the old buffers.
    /// - Throws: `NetworkError.invalidLayer` whose `field` is the buffer's full name.
    public mutating func replaceBuffers(_ values: [String: [Double]]) throws {
        self = try Network(body: body.replacingBuffers(values), parameters: parameters)
    }
}

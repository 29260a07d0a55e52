import NTKLinearAlgebra

extension Loss {
    /// The loss of `network` on a batch and its parameter gradient ∂L/∂θ = J_θᵀ ∂L/∂f (one
    /// forward pass and one VJP with block s = 1, over all rows of `inputs` at once).
    ///
    /// A convenience that allocates its buffers; the `Trainer` runs the same computation on
    /// preallocated ones.
    ///
    /// - Throws: `TrainingError` for bad shapes or targets, `NetworkError` from the network.
    /// - Complexity: about three forward passes on the batch.
    public func gradient<Scalar: BLASScalar>(
        of network: Network<Scalar>, inputs: Matrix<Scalar>, targets: Matrix<Scalar>
    ) throws -> (value: Double, gradient: [Scalar]) {
        try checkData(inputs: inputs, targets: targets, network: network)
        let b = inputs.rows, k = network.outputCount
        let cache = try inputs.storage.withUnsafeBufferPointer { try network.forwardCache(inputs: $0, batch: b) }
        let workspace = network.makeBlockWorkspace(batch: b, block: 1)
        var cotangent = [Scalar](repeating: 0, count: b * k)
        let value = try targets.storage.withUnsafeBufferPointer { y in
            try cotangent.withUnsafeMutableBufferPointer { g in
                try evaluate(outputs: cache.outputBuffer, targets: y, batch: b, outputCount: k, cotangent: g)
            }
        }
        var gradient = [Scalar](repeating: 0, count: network.parameterCount)
        try cotangent.withUnsafeBufferPointer { g in
            try gradient.withUnsafeMutableBufferPointer { theta in
                try network.vjp(
                    cache: cache, outputCotangents: g.baseAddress!, block: 1, workspace: workspace,
                    parameterCotangents: theta.baseAddress!)
            }
        }
        return (value, gradient)
    }

    /// Checks shapes and finiteness of a data set against a network and this loss.
    func checkData<Scalar: BLASScalar>(inputs: Matrix<Scalar>, targets: Matrix<Scalar>, network: Network<Scalar>) throws {
        guard network.parameterCount > 0 else {
            throw TrainingError.shapeMismatch(name: "network parameters", got: "0 elements", expected: "a network with trainable parameters")
        }
        guard inputs.rows > 0 else {
            throw TrainingError.shapeMismatch(name: "inputs", got: "[\(inputs.rows), \(inputs.columns)]", expected: "at least one example")
        }
        guard inputs.columns == network.inputSize else {
            throw TrainingError.shapeMismatch(
                name: "inputs", got: "[\(inputs.rows), \(inputs.columns)]",
                expected: "[n, \(network.inputSize)] (the network's input size)")
        }
        guard targets.rows == inputs.rows, targets.columns == network.outputCount else {
            throw TrainingError.shapeMismatch(
                name: "targets", got: "[\(targets.rows), \(targets.columns)]",
                expected: "[\(inputs.rows), \(network.outputCount)] (one row per input, the network's output count)")
        }
        guard inputs.isFinite else { throw TrainingError.nonFinite(name: "inputs") }
        try targets.storage.withUnsafeBufferPointer {
            try validate(targets: $0, batch: targets.rows, outputCount: targets.columns)
        }
    }
}

import NTKLinearAlgebra

extension Network {
    /// The dense parameter Jacobian J = ∂f/∂θ of the outputs over a data set: an (n·k) × P
    /// matrix with rows sample-major (row i·k + c is ∇_θ f_c(x_i)ᵀ), so that the empirical NTK
    /// is J Jᵀ in the flattening used by the collective-variables reference code.
    ///
    /// Per example: one forward pass (batch 1) and one VJP with the k identity cotangents as a
    /// block, written straight into J's rows. For validation on small problems (memory n·k·P).
    /// - Complexity: n forward passes and n block VJPs of width k, O(n·k·P) memory.
    public func jacobian(_ inputs: Matrix<Scalar>) throws -> Matrix<Scalar> {
        let k = outputCount, P = parameterCount
        var j = Matrix<Scalar>(rows: inputs.rows * k, columns: P)
        try forEachExampleJacobian(inputs) { i, rows in
            for e in 0..<(k * P) { j.storage[i * k * P + e] = rows[e] }
        }
        return j
    }

    /// ‖∇_θ f_c(x_i)‖² for every example i and output c (n·k values, sample-major): the
    /// diagonal of the empirical NTK; their sum is tr K = ‖J‖²_F, computed exactly without
    /// probes. Memory O(k·P).
    /// - Complexity: n forward passes and n block VJPs of width k.
    public func jacobianRowSquaredNorms(_ inputs: Matrix<Scalar>) throws -> [Double] {
        let k = outputCount, P = parameterCount
        var norms = [Double](repeating: 0, count: inputs.rows * k)
        try forEachExampleJacobian(inputs) { i, rows in
            for c in 0..<k {
                var sum = 0.0
                let row = rows + c * P
                for p in 0..<P { sum += Double(row[p]) * Double(row[p]) }
                norms[i * k + c] = sum
            }
        }
        return norms
    }

    /// Calls `body(i, rows)` with the k × P Jacobian block of example i (valid during the call).
    func forEachExampleJacobian(
        _ inputs: Matrix<Scalar>, _ body: (Int, UnsafePointer<Scalar>) throws -> Void
    ) throws {
        guard inputs.columns == inputSize else {
            throw NetworkError.sizeMismatch(name: "inputs columns", got: inputs.columns, expected: "inputSize \(inputSize)")
        }
        let k = outputCount, P = parameterCount
        guard P > 0 else { return }  // J has no columns: nothing to compute.
        let cache = makeForwardCache(capacity: 1)
        let workspace = makeBlockWorkspace(batch: 1, block: k)
        var identity = [Scalar](repeating: 0, count: k * k)  // [1, k, k]: cotangent t is e_t
        for c in 0..<k { identity[c * k + c] = 1 }
        var rows = [Scalar](repeating: 0, count: k * P)
        for i in 0..<inputs.rows {
            try inputs.storage.withUnsafeBufferPointer { x in
                try forward(inputs: UnsafeBufferPointer(rebasing: x[(i * inputSize)..<((i + 1) * inputSize)]), batch: 1, into: cache)
            }
            for p in rows.indices { rows[p] = 0 }
            try vjp(cache: cache, outputCotangents: identity, block: k, workspace: workspace, parameterCotangents: &rows)
            try rows.withUnsafeBufferPointer { buffer in
                guard let base = buffer.baseAddress else { return }  // k·P > 0 here
                try body(i, base)
            }
        }
    }
}

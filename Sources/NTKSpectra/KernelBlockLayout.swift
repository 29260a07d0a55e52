import NTKLinearAlgebra
import NTKNetworks

/// The layout conversions shared by the NTK operators: a Double block V (s vectors of the
/// kernel's dimension, rows) to the network's output cotangents [count, width, k] of one
/// batch, and the batch's output tangents back into U. For the `full` kernel width = s and
/// vector t carries v_t's entries (i·k + c); for the `traced` kernel width = s·k and vector
/// (t, c0) puts v_t on output c0 only, so that summing output c0 of (t, c0) over c0 applies
/// K̄ = Σ_c K_cc.
enum KernelBlockLayout {
    /// The forward pass over examples start..<start+count of `inputs` into `cache`.
    static func forward<Scalar: BLASScalar>(
        _ network: Network<Scalar>, _ inputs: Matrix<Scalar>, start: Int, count: Int, into cache: ForwardCache<Scalar>
    ) throws {
        try inputs.storage.withUnsafeBufferPointer { p in
            let slice = UnsafeBufferPointer(rebasing: p[(start * inputs.columns)..<((start + count) * inputs.columns)])
            try network.forward(inputs: slice, batch: count, into: cache)
        }
    }

    /// The checks every NTK operator makes of its data: inputs shaped for the network,
    /// at least one example, finite values, a positive batch size.
    /// A network without parameters has the zero NTK (J has no columns): nothing to measure,
    /// and every per-parameter quantity would divide by P = 0.
    static func checkHasParameters<Scalar: BLASScalar>(_ network: Network<Scalar>) throws {
        guard network.parameterCount > 0 else {
            throw NTKError.invalidOption(
                "model", "at least one layer with parameters (linear, conv2d, layernorm, …); this network has none, so its NTK is zero")
        }
    }

    static func checkInputs<Scalar: BLASScalar>(network: Network<Scalar>, inputs: Matrix<Scalar>, batchSize: Int) throws {
        guard inputs.columns == network.inputSize else {
            throw NTKError.shapeMismatch(
                "inputs have \(inputs.columns) features per example, the network expects \(network.inputSize) (shape \(network.inputShape))")
        }
        guard inputs.rows > 0 else { throw NTKError.invalidOption("inputs", "at least one example") }
        try checkHasParameters(network)
        guard inputs.isFinite else { throw NTKError.nonFinite("inputs contain NaN or Inf") }
        guard batchSize >= 1 else { throw NTKError.invalidOption("batch-size", "a positive batch size, got \(batchSize)") }
    }

    /// Cotangents [count, width, k] of a batch from the Double block V (rows × dimension), as
    /// `EmpiricalNTK` builds them. Returns whether any is nonzero.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    static func fillCotangents<Scalar: BLASScalar>(
        _ v: UnsafePointer<Double>, rows s: Int, dimension dim: Int, kind: KernelKind, outputs k: Int,
        first: Int, count: Int, width: Int, into cot: UnsafeMutablePointer<Scalar>
    ) -> Bool {
        var nonzero = false
        switch kind {
        case .full:
            for i in 0..<count {
                for t in 0..<s {
                    let src = t * dim + (first + i) * k, dst = (i * width + t) * k
                    for c in 0..<k {
                        let x = v[src + c]
                        if x != 0 { nonzero = true }
                        cot[dst + c] = Scalar(x)
                    }
                }
            }
        case .traced:
            for i in 0..<count {
                for t in 0..<s {
                    let x = v[t * dim + first + i]
                    if x != 0 { nonzero = true }
                    let value = Scalar(x)
                    for c0 in 0..<k {
                        let dst = (i * width + t * k + c0) * k
                        for c in 0..<k { cot[dst + c] = c == c0 ? value : 0 }
                    }
                }
            }
        }
        return nonzero
    }

    /// Writes a batch's products [count, width, k] into U (rows × dimension); traced sums the
    /// (t, c0) vector's output c0 over c0.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    static func gatherProducts<Scalar: BLASScalar>(
        _ prod: UnsafePointer<Scalar>, rows s: Int, dimension dim: Int, kind: KernelKind, outputs k: Int,
        first: Int, count: Int, width: Int, into up: UnsafeMutablePointer<Double>
    ) {
        switch kind {
        case .full:
            for i in 0..<count {
                for t in 0..<s {
                    let src = (i * width + t) * k, dst = t * dim + (first + i) * k
                    for c in 0..<k { up[dst + c] = Double(prod[src + c]) }
                }
            }
        case .traced:
            for i in 0..<count {
                for t in 0..<s {
                    var sum = 0.0
                    for c0 in 0..<k { sum += Double(prod[(i * width + t * k + c0) * k + c0]) }
                    up[t * dim + first + i] = sum
                }
            }
        }
    }
}

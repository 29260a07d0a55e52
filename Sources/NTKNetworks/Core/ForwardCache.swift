import NTKLinearAlgebra

/// What the derivative passes of a `Network` need from a forward pass over one batch: a copy
/// of the inputs, the outputs, and every layer's activations and saved state, in buffers
/// preallocated for up to `capacity` examples and reused by `Network.forward(inputs:batch:into:)`.
///
/// A cache is valid only for the parameter values it was computed with: after the network's
/// parameters change, run the forward pass into it again before calling `jvp`/`vjp`.
///
/// Thread safety: `jvp`/`vjp` only read a cache, so several threads may share one; a forward
/// pass writes it and must not run concurrently with any other use of the same cache.
public final class ForwardCache<Scalar: BLASScalar>: @unchecked Sendable {
    /// Maximum batch size the buffers hold.
    public let capacity: Int
    /// Examples of the last forward pass (0 before the first).
    public internal(set) var batch: Int = 0
    public let inputSize: Int
    public let outputCount: Int
    /// Parameter count of the network the cache was made for.
    public let parameterCount: Int
    let savedCapacity: Int
    let input: UnsafeMutablePointer<Scalar>
    let output: UnsafeMutablePointer<Scalar>
    let saved: UnsafeMutablePointer<Scalar>

    init(capacity: Int, inputSize: Int, outputCount: Int, parameterCount: Int, savedCount: Int) {
        self.capacity = capacity
        self.inputSize = inputSize
        self.outputCount = outputCount
        self.parameterCount = parameterCount
        self.savedCapacity = savedCount
        input = allocateZeroed(max(1, capacity * inputSize))
        output = allocateZeroed(max(1, capacity * outputCount))
        saved = allocateZeroed(max(1, savedCount))
    }

    deinit {
        UnsafeMutableRawPointer(input).deallocate()
        UnsafeMutableRawPointer(output).deallocate()
        UnsafeMutableRawPointer(saved).deallocate()
    }

    /// Bytes held by the cache's buffers (inputs, outputs, activations and saved state at
    /// full capacity), for memory budgets.
    public var byteCount: Int {
        (max(1, capacity * inputSize) + max(1, capacity * outputCount) + max(1, savedCapacity))
            * MemoryLayout<Scalar>.stride
    }

    /// The outputs [batch, k] of the last forward pass (a view valid while the cache lives).
    public var outputBuffer: UnsafeBufferPointer<Scalar> { UnsafeBufferPointer(start: output, count: batch * outputCount) }
    /// The inputs [batch, inputSize] of the last forward pass (a view valid while the cache lives).
    public var inputBuffer: UnsafeBufferPointer<Scalar> { UnsafeBufferPointer(start: input, count: batch * inputSize) }

    /// The outputs [batch, k] of the last forward pass (a copy).
    public var outputs: Matrix<Scalar> {
        // The storage count is batch·k by construction.
        (try? Matrix(rows: batch, columns: outputCount, storage: Array(outputBuffer)))
            ?? Matrix(rows: 0, columns: outputCount)
    }
}

/// `count` zeroed scalars (all-zero bytes are +0 in IEEE 754), set with one non-generic memset
/// instead of a per-element generic initialization; release with the raw pointer's `deallocate`.
func allocateZeroed<Scalar: BLASScalar>(_ count: Int) -> UnsafeMutablePointer<Scalar> {
    let bytes = count * MemoryLayout<Scalar>.stride
    let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: max(MemoryLayout<Scalar>.alignment, 64))
    raw.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
    return raw.bindMemory(to: Scalar.self, capacity: count)
}

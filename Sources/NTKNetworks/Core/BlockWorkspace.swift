import NTKLinearAlgebra

/// Scratch memory for `Network.jvp` / `Network.vjp` with up to `batchCapacity` examples and
/// `blockCapacity` vectors per block, allocated once and reused across calls.
///
/// Thread safety: a workspace is written by every derivative call; give each concurrent
/// caller its own.
public final class BlockWorkspace<Scalar: BLASScalar>: @unchecked Sendable {
    public let batchCapacity: Int
    public let blockCapacity: Int
    /// Number of scalars allocated.
    public let count: Int
    let scratch: UnsafeMutablePointer<Scalar>

    /// Bytes held by the workspace.
    public var byteCount: Int { max(1, count) * MemoryLayout<Scalar>.stride }

    init(batch: Int, block: Int, count: Int) {
        batchCapacity = batch
        blockCapacity = block
        self.count = count
        scratch = allocateZeroed(max(1, count))
    }

    deinit { UnsafeMutableRawPointer(scratch).deallocate() }
}

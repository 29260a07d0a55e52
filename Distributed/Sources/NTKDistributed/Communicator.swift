import Foundation
import _NTKMPIShims

/// MPI's world communicator (Open MPI through the `_NTKMPIShims` C wrappers).
///
/// `world()` initializes MPI once per process (MPI_THREAD_FUNNELED: OpenBLAS may run threads,
/// but every MPI call comes from the thread that initialized MPI — checked on each call) and
/// sets MPI_ERRORS_RETURN, so a failing call throws `DistributedError.mpi` naming the call and
/// MPI's message instead of aborting. `finalize()` once before exit (an exit without it makes
/// mpirun report the job as failed).
///
/// Counts are converted to C `int` with checks; allreduces longer than `Int32.max` elements
/// are split into chunks. Every call adds to `statistics`.
public final class Communicator: Collectives, @unchecked Sendable {
    public let rank: Int
    public let size: Int
    public private(set) var statistics = CollectiveStatistics()
    /// The thread level MPI granted (MPI_THREAD_SINGLE = 0 … MULTIPLE = 3).
    public let threadLevel: Int
    private let thread: pthread_t
    private var finalized = false

    nonisolated(unsafe) private static var shared: Communicator?

    /// The world communicator, initializing MPI on first use (from the main thread).
    public static func world() throws -> Communicator {
        if let shared { return shared }
        var provided: Int32 = 0
        try check(ntk_mpi_init(&provided), "MPI_Init_thread")
        var rank: Int32 = 0, size: Int32 = 0
        try check(ntk_mpi_rank(&rank), "MPI_Comm_rank")
        try check(ntk_mpi_size(&size), "MPI_Comm_size")
        let world = Communicator(rank: Int(rank), size: Int(size), threadLevel: Int(provided))
        shared = world
        return world
    }

    private init(rank: Int, size: Int, threadLevel: Int) {
        self.rank = rank
        self.size = size
        self.threadLevel = threadLevel
        thread = pthread_self()
    }

    /// The MPI library's version string.
    public static var libraryVersion: String {
        var buffer = [CChar](repeating: 0, count: 512)
        ntk_mpi_library_version(&buffer, Int32(buffer.count))
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func check(_ code: Int32, _ call: String) throws {
        guard code != 0 else { return }
        var buffer = [CChar](repeating: 0, count: 512)
        ntk_mpi_error_string(code, &buffer, Int32(buffer.count))
        let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        throw DistributedError.mpi(call: call, code: code, message: text)
    }

    private func enter(_ call: String) throws {
        guard !finalized else { throw DistributedError.notInitialized("\(call) after MPI_Finalize") }
        guard pthread_equal(thread, pthread_self()) != 0 else {
            throw DistributedError.notInitialized("\(call) from a thread other than the one that initialized MPI")
        }
    }

    static func cInt(_ value: Int, _ what: String) throws -> Int32 {
        guard let v = Int32(exactly: value) else { throw DistributedError.countOverflow(what: what, value: value) }
        return v
    }

    private func timed(_ body: () throws -> Void) rethrows -> Double {
        let start = ntk_mpi_wtime()
        try body()
        return ntk_mpi_wtime() - start
    }

    private static let chunk = Int(Int32.max)

    private func reduce<T>(_ buffer: UnsafeMutableBufferPointer<T>, _ op: ReductionOperation, _ name: String,
                           _ call: (UnsafeMutablePointer<T>, Int32, ntk_mpi_op) -> Int32) throws {
        try enter(name)
        let mpiOp: ntk_mpi_op = switch op {
        case .sum: NTK_MPI_SUM
        case .max: NTK_MPI_MAX
        case .min: NTK_MPI_MIN
        }
        statistics.allreduceSeconds += try timed {
            var first = 0
            while first < buffer.count {
                let count = min(Self.chunk, buffer.count - first)
                try Self.check(call(buffer.baseAddress! + first, Int32(count), mpiOp), name)
                first += count
            }
        }
        statistics.allreduceCount += 1
        statistics.allreduceBytes += buffer.count * MemoryLayout<T>.stride
    }

    public func allreduce(_ buffer: UnsafeMutableBufferPointer<Double>, _ op: ReductionOperation) throws {
        try reduce(buffer, op, "MPI_Allreduce(double)") { ntk_mpi_allreduce_double($0, $1, $2) }
    }
    public func allreduce(_ buffer: UnsafeMutableBufferPointer<Float>, _ op: ReductionOperation) throws {
        try reduce(buffer, op, "MPI_Allreduce(float)") { ntk_mpi_allreduce_float($0, $1, $2) }
    }
    public func allreduce(_ buffer: UnsafeMutableBufferPointer<Int64>, _ op: ReductionOperation) throws {
        try reduce(buffer, op, "MPI_Allreduce(int64)") { ntk_mpi_allreduce_int64($0, $1, $2) }
    }

    public func allgather(_ local: UnsafeBufferPointer<Double>, into gathered: UnsafeMutableBufferPointer<Double>,
                          counts: [Int], offsets: [Int]) throws {
        try enter("MPI_Allgatherv")
        guard counts.count == size, offsets.count == size, counts[rank] == local.count,
              zip(counts, offsets).allSatisfy({ $0 >= 0 && $1 >= 0 && $1 + $0 <= gathered.count })
        else {
            throw DistributedError.shapeMismatch(
                "allgather of \(local.count) elements on rank \(rank) into \(gathered.count) with counts \(counts), offsets \(offsets)")
        }
        let c = try counts.map { try Self.cInt($0, "allgather count") }
        let d = try offsets.map { try Self.cInt($0, "allgather offset") }
        let n = try Self.cInt(local.count, "allgather count")
        // MPI wants non-null buffers even for empty blocks.
        var dummy = 0.0
        statistics.allgatherSeconds += try timed {
            try Self.check(
                ntk_mpi_allgatherv_double(local.baseAddress ?? withUnsafePointer(to: &dummy) { $0 }, n,
                                          gathered.baseAddress ?? withUnsafeMutablePointer(to: &dummy) { $0 }, c, d),
                "MPI_Allgatherv")
        }
        statistics.allgatherCount += 1
        statistics.allgatherBytes += gathered.count * 8
    }

    public func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int) throws {
        try enter("MPI_Bcast")
        guard (0..<size).contains(root) else { throw DistributedError.shapeMismatch("broadcast root \(root) of \(size) ranks") }
        guard bytes.count > 0 else { return }
        let count = try Self.cInt(bytes.count, "broadcast bytes")
        statistics.broadcastSeconds += try timed {
            try Self.check(ntk_mpi_bcast_bytes(bytes.baseAddress!, count, Int32(root)), "MPI_Bcast")
        }
        statistics.broadcastCount += 1
        statistics.broadcastBytes += bytes.count
    }

    public func barrier() throws {
        try enter("MPI_Barrier")
        try Self.check(ntk_mpi_barrier(), "MPI_Barrier")
    }

    /// MPI_Finalize (once; later calls do nothing).
    public func finalize() throws {
        guard !finalized else { return }
        try enter("MPI_Finalize")
        finalized = true
        try Self.check(ntk_mpi_finalize(), "MPI_Finalize")
    }

    /// Ends every rank with `code` (MPI_Abort): only when ranks can no longer agree.
    public func abort(code: Int32) -> Never {
        _ = ntk_mpi_abort(code)
        exit(code)
    }
}

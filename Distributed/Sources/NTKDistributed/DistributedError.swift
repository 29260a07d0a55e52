/// Errors of the distributed layer, each naming what failed and, where known, on which rank.
public enum DistributedError: Error, Equatable, Sendable, CustomStringConvertible {
    /// An MPI call returned an error code: (call, code, MPI's text for it).
    case mpi(call: String, code: Int32, message: String)
    /// MPI was used before `Communicator.world()` or after `finalize()`.
    case notInitialized(String)
    /// A count or rank does not fit the C `int` of the MPI interface.
    case countOverflow(what: String, value: Int)
    case invalidSharding(String)
    /// A buffer or vector has the wrong size for the collective or the shard.
    case shapeMismatch(String)
    /// A rank failed; every rank throws this after the agreement (`Communicator.agree`), so
    /// the failure of one rank ends all of them instead of leaving the others waiting in a collective.
    case rankFailed(rank: Int, message: String)
    /// Ranks that must run in lockstep disagree (different options, data or block sizes).
    case diverged(String)

    public var description: String {
        switch self {
        case let .mpi(call, code, message): return "\(call) failed (MPI error \(code): \(message))"
        case let .notInitialized(what): return "MPI is not initialized (\(what))"
        case let .countOverflow(what, value): return "\(what) = \(value) does not fit an MPI count (C int)"
        case let .invalidSharding(why): return "invalid sharding: \(why)"
        case let .shapeMismatch(why): return "shape mismatch: \(why)"
        case let .rankFailed(rank, message): return "rank \(rank): \(message)"
        case let .diverged(why): return "ranks diverged: \(why)"
        }
    }
}

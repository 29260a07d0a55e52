import Foundation

/// Reduction operations of `Collectives.allreduce`.
public enum ReductionOperation: Sendable, Hashable {
    case sum, max, min
}

/// What the collectives of one process cost: counts, bytes moved by this rank (payload
/// only) and wall-clock seconds inside the calls (including waiting for the other ranks).
public struct CollectiveStatistics: Sendable, Hashable {
    public var allreduceCount = 0
    public var allreduceBytes = 0
    public var allreduceSeconds = 0.0
    public var allgatherCount = 0
    public var allgatherBytes = 0
    public var allgatherSeconds = 0.0
    public var broadcastCount = 0
    public var broadcastBytes = 0
    public var broadcastSeconds = 0.0
    public init() {}
}

/// The collective operations the data-parallel estimators need, over a group of `size`
/// processes of which this is `rank`. `Communicator` is MPI's world; `SingleProcess` is the
/// group of one (tests, and the same code path without mpirun). Every call is collective: all
/// ranks make the same calls in the same order with matching sizes, from one thread.
public protocol Collectives: AnyObject {
    var rank: Int { get }
    var size: Int { get }
    var statistics: CollectiveStatistics { get }
    /// In place: every rank's `buffer` becomes the elementwise reduction over ranks.
    func allreduce(_ buffer: UnsafeMutableBufferPointer<Double>, _ op: ReductionOperation) throws
    func allreduce(_ buffer: UnsafeMutableBufferPointer<Float>, _ op: ReductionOperation) throws
    func allreduce(_ buffer: UnsafeMutableBufferPointer<Int64>, _ op: ReductionOperation) throws
    /// Rank r's `local` lands at `offsets[r]` of `gathered` (counts[r] elements), on every rank.
    func allgather(_ local: UnsafeBufferPointer<Double>, into gathered: UnsafeMutableBufferPointer<Double>,
                   counts: [Int], offsets: [Int]) throws
    /// `bytes` from `root` to every rank (same count everywhere).
    func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int) throws
    func barrier() throws
}

extension Collectives {
    /// Σ over ranks of a Float or Double buffer, in place (the network's precision: G of the
    /// data-parallel product).
    public func allreduceSum<Scalar>(_ values: inout [Scalar]) throws {
        if Scalar.self == Double.self {
            try values.withUnsafeMutableBytes { raw in
                try allreduce(raw.bindMemory(to: Double.self), .sum)
            }
        } else if Scalar.self == Float.self {
            try values.withUnsafeMutableBytes { raw in
                try allreduce(raw.bindMemory(to: Float.self), .sum)
            }
        } else {
            throw DistributedError.shapeMismatch("allreduce of \(Scalar.self): only Float and Double are supported")
        }
    }

    /// Σ over ranks of one number.
    public func sum(_ value: Double) throws -> Double {
        var x = [value]
        try x.withUnsafeMutableBufferPointer { try allreduce($0, .sum) }
        return x[0]
    }

    /// Runs `body` on every rank and agrees on the outcome with one allreduce of one integer:
    /// if any rank threw, the lowest failing rank broadcasts its message and EVERY rank throws
    /// `DistributedError.rankFailed(rank:message:)` — so an error on one rank (a bad file, a
    /// non-finite product) ends all of them at the same point instead of leaving the others
    /// waiting in the next collective. `body` must not itself make collective calls that a
    /// failing rank could skip. `describe` turns a local error into the message.
    public func agree<T>(describing describe: (any Error) -> String = { String(describing: $0) },
                         _ body: () throws -> T) throws -> T {
        var result: T? = nil
        // The failure's origin: this rank, or the rank an already agreed failure names.
        var origin = rank, message = ""
        do { result = try body() } catch let error as DistributedError {
            if case let .rankFailed(failed, text) = error { (origin, message) = (failed, text) } else { message = error.description }
        } catch {
            message = describe(error)
        }
        // Encode the failing rank as size − rank so that MAX finds the lowest one (0: none).
        var flag: [Int64] = [result == nil ? Int64(size - rank) : 0]
        try flag.withUnsafeMutableBufferPointer { try allreduce($0, .max) }
        guard flag[0] != 0 else { return result! }
        let failed = size - Int(flag[0])
        var from: [Int64] = [Int64(origin)]
        try from.withUnsafeMutableBytes { try broadcast($0, root: failed) }
        throw DistributedError.rankFailed(rank: Int(from[0]), message: try broadcast(message, root: failed))
    }

    /// `values` from `root` to every rank, in broadcasts of at most 2^27 doubles (1 GiB: MPI
    /// counts are C ints).
    public func broadcast(_ values: UnsafeMutableBufferPointer<Double>, root: Int) throws {
        let chunk = 1 << 27
        var first = 0
        while first < values.count {
            let count = Swift.min(chunk, values.count - first)
            try broadcast(UnsafeMutableRawBufferPointer(UnsafeMutableBufferPointer(rebasing: values[first..<(first + count)])),
                          root: root)
            first += count
        }
    }

    /// A string from `root` (its length first, then its UTF-8 bytes).
    public func broadcast(_ text: String, root: Int) throws -> String {
        var bytes = Array(text.utf8)
        var length: [Int64] = [Int64(bytes.count)]
        try length.withUnsafeMutableBytes { try broadcast($0, root: root) }
        if rank != root { bytes = [UInt8](repeating: 0, count: Int(length[0])) }
        try bytes.withUnsafeMutableBytes { try broadcast($0, root: root) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Checks that every rank holds the same `values` (min = max per entry over ranks); throws
    /// `DistributedError.diverged` naming the first that differs. Ranks that must run in
    /// lockstep (sizes, options, seeds) check this before their first data-sized collective.
    public func checkSame(_ values: [(name: String, value: Int64)]) throws {
        guard !values.isEmpty else { return }
        var maxima = values.map(\.value), minima = values.map { -$0.value }
        var both = maxima + minima
        try both.withUnsafeMutableBufferPointer { try allreduce($0, .max) }
        maxima = Array(both[..<values.count])
        minima = both[values.count...].map { -$0 }
        for (i, v) in values.enumerated() where maxima[i] != minima[i] {
            throw DistributedError.diverged("\(v.name) differs between ranks (from \(minima[i]) to \(maxima[i]))")
        }
    }
}

/// The group of one process: every collective is the identity. The distributed operator on it
/// is the single-process operator with the same layout (tests; runs without mpirun).
public final class SingleProcess: Collectives {
    public let rank = 0
    public let size = 1
    public private(set) var statistics = CollectiveStatistics()

    public init() {}

    public func allreduce(_ buffer: UnsafeMutableBufferPointer<Double>, _ op: ReductionOperation) throws {
        statistics.allreduceCount += 1
        statistics.allreduceBytes += buffer.count * 8
    }
    public func allreduce(_ buffer: UnsafeMutableBufferPointer<Float>, _ op: ReductionOperation) throws {
        statistics.allreduceCount += 1
        statistics.allreduceBytes += buffer.count * 4
    }
    public func allreduce(_ buffer: UnsafeMutableBufferPointer<Int64>, _ op: ReductionOperation) throws {
        statistics.allreduceCount += 1
        statistics.allreduceBytes += buffer.count * 8
    }
    public func allgather(_ local: UnsafeBufferPointer<Double>, into gathered: UnsafeMutableBufferPointer<Double>,
                          counts: [Int], offsets: [Int]) throws {
        guard counts == [local.count], let offset = offsets.first, offset + local.count <= gathered.count else {
            throw DistributedError.shapeMismatch("allgather of \(local.count) into \(gathered.count) at \(offsets)")
        }
        statistics.allgatherCount += 1
        statistics.allgatherBytes += local.count * 8
        if local.count > 0 { (gathered.baseAddress! + offset).update(from: local.baseAddress!, count: local.count) }
    }
    public func broadcast(_ bytes: UnsafeMutableRawBufferPointer, root: Int) throws {
        statistics.broadcastCount += 1
        statistics.broadcastBytes += bytes.count
    }
    public func barrier() throws {}
}

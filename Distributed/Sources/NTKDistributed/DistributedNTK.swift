import Foundation
import NTKEstimation
import NTKLinearAlgebra
import NTKNetworks
import NTKSpectra

/// The empirical NTK of a network over n examples sharded across the ranks of `collectives`
/// (contiguous shards, `Sharding`), as a symmetric operator whose vectors are REPLICATED: every
/// rank passes the same full N-vectors to `apply` and receives the same full products, so any
/// estimator (Lanczos, SLQ, `SpectralEstimator`) runs unchanged and in lockstep on every rank,
/// with identical probes from the same seed.
///
/// One block product U = K V (s vectors), the JVP∘VJP path split at G:
/// 1. rank r: G_r = J_rᵀ V_r over its examples (`EmpiricalNTK.pullback`), G_r is width × P;
/// 2. one allreduce (in the network's precision) sums G = Σ_r G_r;
/// 3. rank r: U_r = J_r G (`EmpiricalNTK.pushforward`), its rows of U;
/// 4. one allgatherv assembles U on every rank.
/// Before step 1 the ranks check that s is the same everywhere (`checkSame`, a 16-byte
/// allreduce), before step 2 they agree that every local pass succeeded (`Collectives.agree`,
/// 8 bytes); a status entry per rank rides with step 4.
/// So an error on one rank (a non-finite product) is thrown on all ranks, and a divergence
/// of the lockstep is reported instead of hanging.
///
/// The result equals the single-process `EmpiricalNTK` up to the order of summation of G
/// (per-rank partial sums added by the allreduce instead of one running sum).
///
/// - Complexity: per block product, the single-process flops divided by R, plus an allreduce
///   of width·P scalars (width = s, or s·k for `traced`), an allgather of s·N doubles and
///   O(s·N) copies. Memory per rank: the shard's caches, G, and the replicated s × N block
///   (and the estimator's replicated Lanczos basis, O(m·s·N)) — the fully sharded Lanczos
///   (local dot products plus an allreduce of s×s numbers) is future work.
public final class DistributedNTK<Scalar: BLASScalar>: NTKKernelOperator, @unchecked Sendable {
    public let collectives: any Collectives
    public let sharding: Sharding
    public let kind: KernelKind
    public let outputs: Int
    public let parameterCount: Int
    /// This rank's operator over its shard (nil when it owns no example, n < R).
    public let local: EmpiricalNTK<Scalar>?
    /// Kernel entries per example: k (`full`) or 1 (`traced`).
    public let perExample: Int
    public var dimension: Int { sharding.examples * perExample }
    public var examples: Int { sharding.examples }

    private var ownCost = NTKCost()
    private var parameterBlock: [Scalar] = []
    private var localInput = Matrix<Double>(rows: 0, columns: 0)
    private var localOutput = Matrix<Double>(rows: 0, columns: 0)
    private var gathered: [Double] = []
    private let counts: [Int]
    private let offsets: [Int]

    /// - Parameters:
    ///   - network: the same network (parameters) on every rank.
    ///   - shard: this rank's examples, `sharding.range(collectives.rank)` of the whole set (rows × inputSize).
    ///   - examples: n of the whole set (the same on every rank).
    /// Collective: the ranks agree on n, P, k, the kernel kind and the precision, and that every
    /// shard was accepted (a bad shard on one rank throws `DistributedError.rankFailed` on all).
    public init(network: Network<Scalar>, shard: Matrix<Scalar>, examples: Int, collectives: any Collectives,
                kind: KernelKind = .full, batchSize: Int = 256, cacheBudgetBytes: Int = 1 << 30) throws {
        self.collectives = collectives
        self.kind = kind
        outputs = network.outputCount
        parameterCount = network.parameterCount
        perExample = kind == .full ? network.outputCount : 1
        try collectives.checkSame([
            ("examples (n)", Int64(examples)), ("parameter count", Int64(network.parameterCount)),
            ("outputs", Int64(network.outputCount)), ("kernel", kind == .full ? 0 : 1),
            ("precision (bytes)", Int64(MemoryLayout<Scalar>.size)),
        ])
        let sharding = try Sharding(examples: examples, ranks: collectives.size)
        self.sharding = sharding
        let mine = sharding.range(collectives.rank)
        local = try collectives.agree { () throws -> EmpiricalNTK<Scalar>? in
            guard shard.rows == mine.count else {
                throw DistributedError.shapeMismatch(
                    "rank \(collectives.rank) owns examples \(mine) (\(mine.count)) but was given \(shard.rows)")
            }
            guard !mine.isEmpty else { return nil }
            return try EmpiricalNTK(network: network, inputs: shard, kind: kind, batchSize: batchSize,
                                    cacheBudgetBytes: cacheBudgetBytes)
        }
        counts = sharding.counts(perExample: perExample)
        offsets = sharding.offsets(perExample: perExample)
    }

    /// Work done: this rank's VJP/JVP/forward calls; products, block applications and data
    /// passes of the whole (distributed) operator, the same on every rank.
    public var cost: NTKCost {
        var c = local?.cost ?? NTKCost()
        c.matvecs = ownCost.matvecs
        c.blockApplications = ownCost.blockApplications
        c.dataPasses = ownCost.dataPasses
        c.seconds = ownCost.seconds
        return c
    }

    public func apply(_ input: Matrix<Double>, into output: inout Matrix<Double>) throws {
        let start = DispatchTime.now().uptimeNanoseconds
        let s = input.rows, n = dimension
        let mine = sharding.entries(collectives.rank, perExample: perExample)
        let width = kind == .full ? s : s * outputs
        try collectives.checkSame([("block width s", Int64(s))])
        try collectives.agree {
            guard input.columns == n, output.rows == s, output.columns == n else {
                throw NTKError.shapeMismatch("block product needs \(s)×\(n) in and out")
            }
            if localInput.rows != s || localInput.columns != mine.count {
                localInput = Matrix(rows: s, columns: mine.count)
                localOutput = Matrix(rows: s, columns: mine.count)
            }
            input.storage.withUnsafeBufferPointer { v in
                localInput.storage.withUnsafeMutableBufferPointer { l in
                    for t in 0..<s where !mine.isEmpty {
                        (l.baseAddress! + t * mine.count).update(from: v.baseAddress! + t * n + mine.lowerBound,
                                                                  count: mine.count)
                    }
                }
            }
            if let local {
                try local.pullback(localInput, into: &parameterBlock)
            } else if parameterBlock.count != width * parameterCount {
                parameterBlock = [Scalar](repeating: 0, count: width * parameterCount)
            } else {
                // No examples: contribute zero (the buffer holds the previous product's sum).
                parameterBlock.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
            }
        }
        try collectives.allreduceSum(&parameterBlock)
        // Pass 2 on this rank's rows; its status rides at the end of the gathered block.
        var failure: (any Error)? = nil
        do { try local?.pushforward(parameterBlock, into: &localOutput) } catch { failure = error }
        try gather(status: failure, rows: s, into: &output)
        ownCost.matvecs += s
        ownCost.blockApplications += 1
        ownCost.dataPasses += 2
        ownCost.seconds += Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
    }

    /// Allgathers the local rows (s × local entries, `localOutput`) into the s × N `output`,
    /// each rank's block followed by one status entry (0: ok); a failed rank is reported on all.
    private func gather(status failure: (any Error)?, rows s: Int, into output: inout Matrix<Double>) throws {
        let n = dimension, r = collectives.size
        let blockCounts = counts.map { $0 * s + 1 }
        var blockOffsets = [Int](repeating: 0, count: r)
        for i in 1..<max(r, 1) { blockOffsets[i] = blockOffsets[i - 1] + blockCounts[i - 1] }
        let total = blockOffsets[r - 1] + blockCounts[r - 1]
        if gathered.count != total { gathered = [Double](repeating: 0, count: total) }
        var send = localOutput.storage
        send.append(failure == nil ? 0 : 1)
        try send.withUnsafeBufferPointer { l in
            try gathered.withUnsafeMutableBufferPointer { g in
                try collectives.allgather(l, into: g, counts: blockCounts, offsets: blockOffsets)
            }
        }
        if let bad = (0..<r).first(where: { gathered[blockOffsets[$0] + blockCounts[$0] - 1] != 0 }) {
            let text = failure.map { String(describing: $0) } ?? ""
            throw DistributedError.rankFailed(rank: bad, message: try collectives.broadcast(text, root: bad))
        }
        gathered.withUnsafeBufferPointer { g in
            output.storage.withUnsafeMutableBufferPointer { u in
                for q in 0..<r where counts[q] > 0 {
                    for t in 0..<s {
                        (u.baseAddress! + t * n + offsets[q]).update(
                            from: g.baseAddress! + blockOffsets[q] + t * counts[q], count: counts[q])
                    }
                }
            }
        }
    }

    /// The exact diagonal, gathered on every rank (N doubles): per-example gradient norms of each shard.
    public func exactDiagonal() throws -> [Double] {
        let local = try collectives.agree { try self.local?.exactDiagonal() ?? [] }
        var full = [Double](repeating: 0, count: dimension)
        try local.withUnsafeBufferPointer { l in
            try full.withUnsafeMutableBufferPointer { f in
                try collectives.allgather(l, into: f, counts: counts, offsets: offsets)
            }
        }
        return full
    }

    /// tr K = Σ_r ‖J_r‖²_F: each rank's sum of per-example gradient norms, one allreduce.
    public func exactTrace() throws -> Double {
        let local = try collectives.agree { try self.local?.exactTrace() ?? 0 }
        return try collectives.sum(local)
    }
}

import NTKLinearAlgebra
import NTKNetworks

/// The batching core shared by every NTK operator (`EmpiricalNTK`, `StructuredNTK`) and the
/// structured exact kernel: the n examples split into batches of `batchSize` (the last one
/// shorter), and the forward caches of those batches — either all kept (computed once per
/// parameter state and read by every product) or one scratch cache recomputed per use.
///
/// What to keep is the caller's decision, made from a memory budget before anything is
/// computed (`EmpiricalNTK` compares `EmpiricalNTK.cacheBytes` × batches with its budget;
/// `StructuredNTK` follows its `StructuredCachePlan`); this type only carries it out and counts
/// the forward passes it runs.
/// - Complexity: `refresh` one forward pass over the batch; `cache` none when all are kept,
///   else one forward pass; memory `batchCount` caches when all are kept, else one.
final class ForwardBatches<Scalar: BLASScalar>: @unchecked Sendable {
    let network: Network<Scalar>
    /// n × inputSize, in the network's precision.
    let inputs: Matrix<Scalar>
    /// Examples per batch (≤ n).
    let batchSize: Int
    /// Whether the caches of all batches are kept between uses.
    let keepsAll: Bool
    /// Forward passes run so far (fills and recomputations).
    private(set) var forwardCalls = 0

    private var kept: [ForwardCache<Scalar>] = []
    private var scratch: ForwardCache<Scalar>?

    /// Batches of `min(batchSize, n)` examples; with `keepAll` every batch gets its own cache
    /// (allocated here, filled by `refresh` or `refreshAll`), else one scratch cache is made on
    /// first use. `batchSize` must be positive (the operators check their inputs first).
    init(network: Network<Scalar>, inputs: Matrix<Scalar>, batchSize: Int, keepAll: Bool) {
        self.network = network
        self.inputs = inputs
        self.batchSize = min(max(batchSize, 1), max(inputs.rows, 1))
        self.keepsAll = keepAll
        if keepAll {
            kept = (0..<count).map { _ in network.makeForwardCache(capacity: self.batchSize) }
        }
    }

    /// Number of batches.
    var count: Int { (inputs.rows + batchSize - 1) / batchSize }

    /// Batch b as (first example, number of examples).
    func range(_ b: Int) -> (start: Int, count: Int) {
        let start = b * batchSize
        return (start, min(batchSize, inputs.rows - start))
    }

    /// Runs the forward pass of batch b into its kept cache (or the scratch cache) and returns it.
    func refresh(_ b: Int) throws -> ForwardCache<Scalar> {
        let cache = keepsAll ? kept[b] : scratchCache()
        let (start, count) = range(b)
        try KernelBlockLayout.forward(network, inputs, start: start, count: count, into: cache)
        forwardCalls += 1
        return cache
    }

    /// Recomputes every kept cache (after the network's parameters changed); nothing to do when
    /// caches are recomputed per use.
    func refreshAll() throws {
        guard keepsAll else { return }
        for b in 0..<count { _ = try refresh(b) }
    }

    /// The forward cache of batch b: the kept one, or recomputed into the scratch cache.
    func cache(_ b: Int) throws -> ForwardCache<Scalar> {
        keepsAll ? kept[b] : try refresh(b)
    }

    private func scratchCache() -> ForwardCache<Scalar> {
        if let scratch { return scratch }
        let cache = network.makeForwardCache(capacity: batchSize)
        scratch = cache
        return cache
    }
}

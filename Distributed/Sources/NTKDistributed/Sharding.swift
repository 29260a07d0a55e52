/// Contiguous shards of n examples over R ranks, as even as possible: the first n mod R ranks
/// own ⌈n/R⌉ examples, the others ⌊n/R⌋ (so with n < R the last R − n ranks own none).
/// Rank r owns examples `range(r)`; an N-vector of the kernel (N = n·m, m entries per example:
/// k for the `full` kernel, 1 for `traced`) is sharded the same way, rank r owning entries
/// `entries(r, perExample: m)`. The layout depends only on (n, R), never on the data, so every
/// rank computes every rank's shard without communicating.
public struct Sharding: Sendable, Hashable {
    public let examples: Int
    public let ranks: Int

    /// - Throws: `DistributedError.invalidSharding` unless n ≥ 0 and R ≥ 1.
    public init(examples: Int, ranks: Int) throws(DistributedError) {
        guard examples >= 0 else { throw .invalidSharding("examples must be non-negative, got \(examples)") }
        guard ranks >= 1 else { throw .invalidSharding("ranks must be at least 1, got \(ranks)") }
        self.examples = examples
        self.ranks = ranks
    }

    /// Examples of rank r: ⌊n/R⌋, plus one for the first n mod R ranks.
    public func count(_ rank: Int) -> Int {
        precondition((0..<ranks).contains(rank), "rank \(rank) outside 0..<\(ranks)")
        return examples / ranks + (rank < examples % ranks ? 1 : 0)
    }

    /// The first example of rank r: r·⌊n/R⌋ + min(r, n mod R).
    public func start(_ rank: Int) -> Int {
        precondition((0...ranks).contains(rank), "rank \(rank) outside 0...\(ranks)")
        return rank * (examples / ranks) + min(rank, examples % ranks)
    }

    /// The examples rank r owns (empty when n < R and r ≥ n).
    public func range(_ rank: Int) -> Range<Int> { start(rank)..<(start(rank) + count(rank)) }

    /// The rank owning example i (the inverse of `range`).
    public func owner(of example: Int) -> Int {
        precondition((0..<examples).contains(example), "example \(example) outside 0..<\(examples)")
        let big = examples / ranks + 1, extra = examples % ranks
        // The first `extra` ranks own `big` examples each, the rest big − 1.
        if example < extra * big { return example / big }
        return extra + (example - extra * big) / (big - 1)
    }

    /// Entries of an N-vector (N = n·perExample) that rank r owns.
    public func entries(_ rank: Int, perExample: Int) -> Range<Int> {
        let r = range(rank)
        return (r.lowerBound * perExample)..<(r.upperBound * perExample)
    }

    /// Entry counts and offsets of every rank (the counts and displacements of an allgatherv).
    public func counts(perExample: Int) -> [Int] { (0..<ranks).map { count($0) * perExample } }
    public func offsets(perExample: Int) -> [Int] { (0..<ranks).map { start($0) * perExample } }
}

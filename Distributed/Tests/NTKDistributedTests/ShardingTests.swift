import Testing
@testable import NTKDistributed

@Suite("Sharding arithmetic")
struct ShardingTests {
    /// Shards tile 0..<n in rank order, sizes differ by at most one, larger ones first.
    @Test(arguments: [(0, 1), (1, 1), (7, 1), (10, 3), (11, 4), (12, 4), (3, 5), (1, 8), (0, 4), (1024, 2), (1025, 7)])
    func contiguousAndBalanced(examples n: Int, ranks r: Int) throws {
        let sharding = try Sharding(examples: n, ranks: r)
        var next = 0
        for rank in 0..<r {
            let range = sharding.range(rank)
            #expect(range.lowerBound == next)
            #expect(range.count == sharding.count(rank))
            #expect(range.count == n / r || range.count == n / r + 1)
            if rank > 0 { #expect(sharding.count(rank) <= sharding.count(rank - 1)) }
            for i in range { #expect(sharding.owner(of: i) == rank) }
            next = range.upperBound
        }
        #expect(next == n)
        #expect(sharding.start(r) == n)
    }

    @Test func unevenShards() throws {
        let s = try Sharding(examples: 10, ranks: 4)
        #expect((0..<4).map(s.range) == [0..<3, 3..<6, 6..<8, 8..<10])
        #expect(s.counts(perExample: 3) == [9, 9, 6, 6])
        #expect(s.offsets(perExample: 3) == [0, 9, 18, 24])
        #expect(s.entries(2, perExample: 3) == 18..<24)
    }

    /// n < R: the last R − n ranks own nothing, with offsets at n (empty blocks of an allgatherv).
    @Test func fewerExamplesThanRanks() throws {
        let s = try Sharding(examples: 2, ranks: 5)
        #expect((0..<5).map(s.count) == [1, 1, 0, 0, 0])
        #expect((0..<5).map(s.range) == [0..<1, 1..<2, 2..<2, 2..<2, 2..<2])
        #expect(s.counts(perExample: 4) == [4, 4, 0, 0, 0])
        #expect(s.offsets(perExample: 4) == [0, 4, 8, 8, 8])
        #expect(s.owner(of: 1) == 1)
        let none = try Sharding(examples: 0, ranks: 3)
        #expect((0..<3).allSatisfy { none.range($0).isEmpty })
    }

    @Test func rejectsInvalidSizes() {
        #expect(throws: DistributedError.invalidSharding("ranks must be at least 1, got 0")) {
            _ = try Sharding(examples: 4, ranks: 0)
        }
        #expect(throws: DistributedError.invalidSharding("examples must be non-negative, got -1")) {
            _ = try Sharding(examples: -1, ranks: 2)
        }
    }
}

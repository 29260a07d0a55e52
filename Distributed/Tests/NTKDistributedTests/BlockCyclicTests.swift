import NTKLinearAlgebra
import Testing
@testable import NTKDistributed

@Suite struct BlockCyclicTests {
    /// owner/localIndex/globalIndex/count against a brute-force deal of blocks, for uneven
    /// lengths, partial last blocks, more processes than blocks and an empty range.
    @Test(arguments: [(0, 3, 2), (1, 4, 3), (7, 2, 3), (10, 3, 4), (111, 64, 2), (64, 64, 2), (65, 64, 2),
                      (100, 7, 5), (5, 8, 3)])
    func dealsBlocksCyclically(length: Int, block: Int, processes: Int) throws {
        let layout = try BlockCyclic(length: length, blockSize: block, processes: processes)
        var owned = [[Int]](repeating: [], count: processes)
        for g in 0..<length { owned[(g / block) % processes].append(g) }
        for p in 0..<processes {
            #expect(layout.count(p) == owned[p].count)
            #expect(layout.indices(p) == owned[p])
            for (l, g) in owned[p].enumerated() {
                #expect(layout.owner(of: g) == p)
                #expect(layout.localIndex(of: g) == l)
                #expect(layout.globalIndex(local: l, process: p) == g)
            }
        }
        #expect(owned.map(\.count).reduce(0, +) == length)
    }

    @Test func rejectsBadLayouts() {
        #expect(throws: DistributedError.self) { try BlockCyclic(length: -1, blockSize: 2, processes: 1) }
        #expect(throws: DistributedError.self) { try BlockCyclic(length: 4, blockSize: 0, processes: 1) }
        #expect(throws: DistributedError.self) { try BlockCyclic(length: 4, blockSize: 2, processes: 0) }
    }

    @Test func gridIsAsSquareAsTheRanksAllow() throws {
        let shapes = try [1, 2, 3, 4, 6, 8, 9, 12, 64].map { r -> [Int] in let g = try ProcessGrid(ranks: r); return [g.rows, g.columns] }
        #expect(shapes == [[1, 1], [1, 2], [1, 3], [2, 2], [2, 3], [2, 4], [3, 3], [3, 4], [8, 8]])
        let g = try ProcessGrid(ranks: 6)
        #expect((0..<6).map { g.position(of: $0).row * 10 + g.position(of: $0).column } == [0, 1, 2, 10, 11, 12])
    }

    /// Every process's local block, placed back by the layout, reassembles K = J Jᵀ exactly
    /// (each entry is the same dot product), for grids 1×2, 2×2, 2×3 and a block size that leaves
    /// partial blocks and empty processes.
    @Test(arguments: [(1, 2, 4), (2, 2, 3), (2, 3, 2), (3, 1, 16)])
    func localBlocksReassembleTheKernel(gridRows: Int, gridColumns: Int, block: Int) throws {
        var rng = SeededGenerator(seed: 11)
        let n = 13, width = 5
        let j = (0..<(n * width)).map { _ in Double(rng.next() % 1000) / 100 - 5 }
        let rows = try BlockCyclic(length: n, blockSize: block, processes: gridRows)
        let columns = try BlockCyclic(length: n, blockSize: block, processes: gridColumns)
        var k = [Double](repeating: .nan, count: n * n)
        for pr in 0..<gridRows {
            for pc in 0..<gridColumns {
                let local = try DistributedExactNTK.localBlock(of: j, width: width, rows: rows, columns: columns, row: pr, column: pc)
                let lld = max(1, rows.count(pr))
                for (li, gi) in rows.indices(pr).enumerated() {
                    for (lj, gj) in columns.indices(pc).enumerated() {
                        #expect(k[gi * n + gj].isNaN, "entry (\(gi), \(gj)) owned twice")
                        k[gi * n + gj] = local[li + lj * lld]
                    }
                }
            }
        }
        for a in 0..<n {
            for b in 0..<n {
                let dot = (0..<width).reduce(0.0) { $0 + j[a * width + $1] * j[b * width + $1] }
                #expect(abs(k[a * n + b] - dot) <= 1e-12 * max(1, abs(dot)), "K[\(a), \(b)]")
            }
        }
    }
}

/// One dimension of ScaLAPACK's block-cyclic distribution: an `length`-long index range cut into
/// blocks of `blockSize`, block b on process b mod `processes` (the first block on process 0,
/// ScaLAPACK's RSRC = CSRC = 0). A matrix distributed over a P_r × P_c grid uses one of these
/// for its rows and one for its columns; process (p_r, p_c) owns entry (i, j) iff
/// rows.owner(of: i) == p_r and columns.owner(of: j) == p_c, stored at local (rows.localIndex(i),
/// columns.localIndex(j)) of its column-major local array.
///
/// Everything is computed from (length, blockSize, processes) alone: no communication.
/// See the ScaLAPACK Users' Guide, §4.3 ("The Two-Dimensional Block-Cyclic Distribution").
public struct BlockCyclic: Sendable, Hashable {
    public let length: Int
    public let blockSize: Int
    public let processes: Int

    /// - Throws: `DistributedError.invalidSharding` unless length ≥ 0, blockSize ≥ 1, processes ≥ 1.
    public init(length: Int, blockSize: Int, processes: Int) throws(DistributedError) {
        guard length >= 0, blockSize >= 1, processes >= 1 else {
            throw .invalidSharding("block-cyclic needs length ≥ 0, block ≥ 1, processes ≥ 1; got \(length), \(blockSize), \(processes)")
        }
        self.length = length
        self.blockSize = blockSize
        self.processes = processes
    }

    /// Indices process p owns (ScaLAPACK's NUMROC): whole blocks ⌊nblocks/P⌋ each, one more for
    /// the first nblocks mod P processes, and the last, partial block to its owner.
    public func count(_ process: Int) -> Int {
        precondition((0..<processes).contains(process), "process \(process) outside 0..<\(processes)")
        let fullBlocks = length / blockSize
        var count = (fullBlocks / processes) * blockSize
        let extra = fullBlocks % processes
        if process < extra { count += blockSize } else if process == extra { count += length % blockSize }
        return count
    }

    /// The process owning global index g.
    public func owner(of g: Int) -> Int {
        precondition((0..<length).contains(g), "index \(g) outside 0..<\(length)")
        return (g / blockSize) % processes
    }

    /// The position of global index g in its owner's local array.
    public func localIndex(of g: Int) -> Int {
        precondition((0..<length).contains(g), "index \(g) outside 0..<\(length)")
        return (g / (blockSize * processes)) * blockSize + g % blockSize
    }

    /// The global index of process p's local index l (the inverse of `owner` and `localIndex`).
    public func globalIndex(local l: Int, process p: Int) -> Int {
        precondition(l >= 0 && l < count(p), "local index \(l) outside 0..<\(count(p)) of process \(p)")
        return ((l / blockSize) * processes + p) * blockSize + l % blockSize
    }

    /// The global indices process p owns, ascending.
    public func indices(_ process: Int) -> [Int] { (0..<count(process)).map { globalIndex(local: $0, process: process) } }
}

/// The BLACS process grid for R ranks: P_r × P_c = R with P_r the largest divisor of R not above
/// √R (square when R is a square, 1 × R for a prime R), ranks in row-major order ("Row"):
/// rank r sits at (r / P_c, r mod P_c).
public struct ProcessGrid: Sendable, Hashable {
    public let rows: Int
    public let columns: Int

    public init(ranks: Int) throws(DistributedError) {
        guard ranks >= 1 else { throw .invalidSharding("a process grid needs at least 1 rank, got \(ranks)") }
        var r = 1
        var d = 1
        while d * d <= ranks {
            if ranks % d == 0 { r = d }
            d += 1
        }
        rows = r
        columns = ranks / r
    }

    /// The grid position of `rank` (row-major).
    public func position(of rank: Int) -> (row: Int, column: Int) {
        precondition((0..<(rows * columns)).contains(rank), "rank \(rank) outside the \(rows)×\(columns) grid")
        return (rank / columns, rank % columns)
    }
}

import Foundation
import NTKLinearAlgebra
import NTKNetworks
import NTKSpectra

/// The exact NTK spectrum with the examples sharded across ranks: the dense kernel formed
/// block-cyclically from the shards' Jacobian rows and eigensolved by ScaLAPACK's `PDSYEVD`.
/// On one rank it is `ExactNTK` (LAPACK), unchanged.
///
/// **Formation (Jacobian rows exchanged).** Rank r materializes its shard's Jacobian J_r
/// (`Network.jacobian`: per example one forward pass and one VJP with the k identity cotangents,
/// N_r × P with rows (i, c) example-major). For the
/// traced kernel K̄[i, j] = Σ_c J_(i,c)·J_(j,c), the same storage read as N_r × (k·P) (row i the
/// concatenation of its k output rows), so both kernels are K = J Jᵀ with rows of width W
/// (P, or k·P). The kernel is distributed over a P_r × P_c BLACS grid (`ProcessGrid`) in square
/// blocks of `blockSize` (`BlockCyclic` for rows and columns); the process at (p_r, p_c) needs
/// the Jacobian rows of its local kernel rows and of its local kernel columns. Each rank
/// broadcasts its J_r in turn (R broadcasts, N·W doubles in all); every rank keeps the rows it
/// needs, then forms its whole local block with one GEMM, K_loc = J_rows J_colsᵀ.
///
/// Why Jacobian rows and not the per-layer Gram factors of `StructuredExactNTK`: the factors
/// (signals δ and layer inputs a per example) exist only for weight-linear layers, while J_r
/// exists for every network, and K_loc is then a single GEMM per rank whatever the layers.
/// The price is N_r·P doubles for J_r and N·W doubles broadcast: the validation path's sizes
/// (N·P in the millions to a billion) — the matrix-free estimate is for everything larger.
///
/// - Complexity: per rank, forming J_r (n/R forward passes and k-wide VJPs),
///   receiving N·W doubles, 2·(N/P_r)·(N/P_c)·W flops for K_loc, and PDSYEVD's O(N³/R).
///   Memory per rank: J_r, one broadcast buffer of max_r N_r·W, J_rows and J_cols
///   ((N/P_r + N/P_c)·W), K_loc and PDSYEVD's Z (2·N²/R) and its workspace.
public struct DistributedExactNTK: Sendable {
    public var kind: KernelKind
    public var batchSize: Int
    public var memoryBudgetBytes: Int
    /// ScaLAPACK's block size nb (square blocks): 64 is the ScaLAPACK Users' Guide's usual choice.
    public var blockSize: Int
    public var conventions: SpectrumConventions

    public init(kind: KernelKind = .full, batchSize: Int = 256, memoryBudgetBytes: Int = 8 << 30, blockSize: Int = 64,
                conventions: SpectrumConventions = .init()) {
        self.kind = kind
        self.batchSize = batchSize
        self.memoryBudgetBytes = memoryBudgetBytes
        self.blockSize = blockSize
        self.conventions = conventions
    }

    public struct Result: Sendable {
        /// All N eigenvalues, ascending (the same on every rank).
        public var eigenvalues: [Double]
        public var statistics: SpectrumStatistics
        /// `distributed_jacobian_rows` on R > 1, else `ExactNTK`'s route.
        public var route: String
        /// `pdsyevd` on R > 1, else the LAPACK routine.
        public var eigensolver: String
        public var seconds: Double
        public var eigensolverSeconds: Double
        /// The BLACS grid (1 × 1 on one rank) and the block size used.
        public var grid: ProcessGrid
        public var blockSize: Int
    }

    /// The spectrum of the kernel of `network` over the n = `examples` inputs, of which this
    /// rank holds `shard` (`Sharding(examples:ranks:).range(rank)`). Collective.
    public func spectrum(network: Network<Double>, shard: Matrix<Double>, examples: Int,
                         collectives: any Collectives) throws -> Result {
        let start = DispatchTime.now().uptimeNanoseconds
        let ranks = collectives.size, rank = collectives.rank
        let k = network.outputCount, p = network.parameterCount
        try collectives.checkSame([
            ("examples (n)", Int64(examples)), ("parameter count", Int64(p)), ("outputs", Int64(k)),
            ("kernel", kind == .full ? 0 : 1), ("--batch-size", Int64(batchSize)), ("block size", Int64(blockSize)),
            ("conventions", conventions.isDefault ? 0 : 1),
        ])
        guard ranks > 1 else {
            let exact = ExactNTK(kind: kind, batchSize: batchSize, memoryBudgetBytes: memoryBudgetBytes,
                                 conventions: conventions)
            let r = try exact.spectrum(network: network, inputs: shard)
            return Result(eigenvalues: r.eigenvalues, statistics: r.statistics, route: r.route.rawValue,
                          eigensolver: r.eigensolver, seconds: r.cost.seconds, eigensolverSeconds: r.eigensolverSeconds,
                          grid: try ProcessGrid(ranks: 1), blockSize: blockSize)
        }
        guard conventions.isDefault else {
            throw NTKError.invalidOption("conventions", "the raw kernel (the distributed exact path has no output averaging or cosine normalization)")
        }
        guard collectives is Communicator else {
            throw DistributedError.notInitialized("ScaLAPACK needs MPI's world communicator")
        }
        let sharding = try Sharding(examples: examples, ranks: ranks)
        let perExample = kind == .full ? k : 1
        let width = kind == .full ? p : k * p
        let n = examples * perExample
        let grid = try ProcessGrid(ranks: ranks)
        let (myRow, myColumn) = grid.position(of: rank)
        let rowLayout = try BlockCyclic(length: n, blockSize: blockSize, processes: grid.rows)
        let columnLayout = try BlockCyclic(length: n, blockSize: blockSize, processes: grid.columns)
        let localRows = rowLayout.count(myRow), localColumns = columnLayout.count(myColumn)
        let counts = sharding.counts(perExample: perExample), offsets = sharding.offsets(perExample: perExample)
        let largest = counts.max() ?? 0
        // This rank's Jacobian rows (example-major), inside a budget for everything it will hold.
        let jacobian = try collectives.agree { () throws -> Matrix<Double> in
            let doubles = [largest * width, counts[rank] * width, (localRows + localColumns) * width,
                           2 * max(localRows, 1) * max(localColumns, 1)].reduce(0, +)
            guard doubles <= memoryBudgetBytes / 8 else {
                throw NTKError.tooLarge("rank \(rank)'s share of the distributed exact kernel", needed: doubles * 8,
                                        budget: memoryBudgetBytes)
            }
            guard shard.rows > 0 else { return Matrix(rows: 0, columns: width) }
            return try network.jacobian(shard)
        }
        // Rank q's rows in turn; keep those of this rank's kernel rows and columns.
        var rowsJ = [Double](repeating: 0, count: localRows * width)
        var columnsJ = [Double](repeating: 0, count: localColumns * width)
        var buffer = [Double](repeating: 0, count: largest * width)
        for q in 0..<ranks where counts[q] > 0 {
            let count = counts[q] * width
            if q == rank { buffer.replaceSubrange(0..<count, with: jacobian.storage) }
            try buffer.withUnsafeMutableBufferPointer { b in
                try collectives.broadcast(UnsafeMutableBufferPointer(rebasing: b[0..<count]), root: q)
            }
            Self.keep(buffer, rows: offsets[q]..<(offsets[q] + counts[q]), width: width,
                      layout: rowLayout, process: myRow, into: &rowsJ)
            Self.keep(buffer, rows: offsets[q]..<(offsets[q] + counts[q]), width: width,
                      layout: columnLayout, process: myColumn, into: &columnsJ)
        }
        buffer = []
        let lld = max(1, localRows)
        var local = try Self.product(rowsJ, columnsJ, width: width, localRows: localRows, localColumns: localColumns)
        rowsJ = []
        columnsJ = []
        let eigenStart = DispatchTime.now().uptimeNanoseconds
        let blacs = try ScaLAPACK.Grid(grid)
        defer { blacs.exit() }
        let eigenvalues = try collectives.agree {
            try ScaLAPACK.eigenvalues(n: n, blockSize: blockSize, grid: blacs, local: &local, leading: lld)
        }
        let end = DispatchTime.now().uptimeNanoseconds
        return Result(eigenvalues: eigenvalues, statistics: SpectrumStatistics(eigenvalues: eigenvalues),
                      route: "distributed_jacobian_rows", eigensolver: "pdsyevd",
                      seconds: Double(end - start) * 1e-9, eigensolverSeconds: Double(end - eigenStart) * 1e-9,
                      grid: grid, blockSize: blockSize)
    }

    /// Copies the rows of `source` (global rows `rows`, `width` doubles each) that `process` owns
    /// under `layout` to their local positions in `target` (local rows × width, row-major).
    static func keep(_ source: [Double], rows: Range<Int>, width: Int, layout: BlockCyclic, process: Int,
                     into target: inout [Double]) {
        source.withUnsafeBufferPointer { s in
            target.withUnsafeMutableBufferPointer { t in
                for g in rows where layout.owner(of: g) == process {
                    (t.baseAddress! + layout.localIndex(of: g) * width)
                        .update(from: s.baseAddress! + (g - rows.lowerBound) * width, count: width)
                }
            }
        }
    }

    /// Process (row, column)'s local block of K = J Jᵀ in the block-cyclic layout (column-major,
    /// leading dimension max(1, local rows)), from the whole J (N × width, row-major): the
    /// arithmetic `spectrum` distributes, on one process (tests).
    public static func localBlock(of j: [Double], width: Int, rows: BlockCyclic, columns: BlockCyclic,
                                  row: Int, column: Int) throws -> [Double] {
        var rowsJ = [Double](repeating: 0, count: rows.count(row) * width)
        var columnsJ = [Double](repeating: 0, count: columns.count(column) * width)
        keep(j, rows: 0..<rows.length, width: width, layout: rows, process: row, into: &rowsJ)
        keep(j, rows: 0..<columns.length, width: width, layout: columns, process: column, into: &columnsJ)
        return try product(rowsJ, columnsJ, width: width, localRows: rows.count(row), localColumns: columns.count(column))
    }

    /// K_loc (column-major, localRows × localColumns, leading dimension max(1, localRows)) =
    /// J_rows J_colsᵀ: row-major, the localColumns × localRows matrix J_cols J_rowsᵀ with row
    /// stride lld — one GEMM.
    static func product(_ rowsJ: [Double], _ columnsJ: [Double], width: Int, localRows: Int, localColumns: Int) throws
        -> [Double]
    {
        let lld = max(1, localRows)
        var local = [Double](repeating: 0, count: lld * max(localColumns, 1))
        guard localRows > 0, localColumns > 0 else { return local }
        try columnsJ.withUnsafeBufferPointer { c in
            try rowsJ.withUnsafeBufferPointer { r in
                try local.withUnsafeMutableBufferPointer { kp in
                    try Double.gemm(.none, .transpose, m: localColumns, n: localRows, k: width, alpha: 1,
                                    a: c.baseAddress!, lda: width, b: r.baseAddress!, ldb: width, beta: 0,
                                    c: kp.baseAddress!, ldc: lld)
                }
            }
        }
        return local
    }
}

import _NTKMPIShims

/// ScaLAPACK's distributed symmetric eigensolver over a BLACS grid on MPI's world (through the
/// `_NTKMPIShims` C wrappers; libscalapack-openmpi). Every call is collective over all ranks.
public enum ScaLAPACK {
    /// A BLACS context for a `ProcessGrid` over MPI_COMM_WORLD (MPI must be initialized:
    /// `Communicator.world()`); released with `exit()`.
    public struct Grid {
        public let shape: ProcessGrid
        public let context: Int32
        public let row: Int
        public let column: Int

        public init(_ shape: ProcessGrid) throws {
            var context: Int32 = 0, row: Int32 = 0, column: Int32 = 0
            let code = ntk_blacs_grid_init(try Communicator.cInt(shape.rows, "grid rows"),
                                           try Communicator.cInt(shape.columns, "grid columns"),
                                           &context, &row, &column)
            guard code == 0 else {
                throw DistributedError.notInitialized("this process is not in the \(shape.rows)×\(shape.columns) BLACS grid")
            }
            self.shape = shape
            self.context = context
            self.row = Int(row)
            self.column = Int(column)
        }

        public func exit() { ntk_blacs_grid_exit(context) }
    }

    /// All eigenvalues (ascending, on every rank) of the symmetric n × n matrix whose lower
    /// triangle `local` holds in `grid`'s block-cyclic layout (blocks `blockSize` × `blockSize`,
    /// column-major, leading dimension `leading` ≥ max(1, local rows)); `local` is destroyed.
    /// PDSYEVD (divide and conquer; it computes the eigenvectors too, which are discarded).
    /// - Complexity: O(n³/R) flops per rank, O(n²/R) memory per rank beyond `local` (Z and workspace).
    public static func eigenvalues(n: Int, blockSize: Int, grid: Grid, local: inout [Double], leading: Int) throws -> [Double] {
        var w = [Double](repeating: 0, count: max(n, 1))
        let n32 = try Communicator.cInt(n, "matrix order"), nb = try Communicator.cInt(blockSize, "block size")
        let lld = try Communicator.cInt(leading, "leading dimension")
        if local.isEmpty { local = [0] }
        let info = local.withUnsafeMutableBufferPointer { a in
            w.withUnsafeMutableBufferPointer { w in
                ntk_scalapack_pdsyevd(grid.context, n32, nb, a.baseAddress!, lld, w.baseAddress!)
            }
        }
        guard info == 0 else {
            let why = switch info {
            case -2000: "out of memory for the workspace"
            case ...(-1000): "DESCINIT rejected argument \(-(info + 1000))"
            case ..<0: "argument \(-info) was illegal"
            default: "failed to converge (INFO = \(info))"
            }
            throw DistributedError.mpi(call: "PDSYEVD", code: info, message: why)
        }
        return Array(w.prefix(n))
    }
}

import COpenBLAS

/// Explicit control of OpenBLAS's thread pool.
///
/// OpenBLAS otherwise picks its thread count from the environment and the core count at
/// load time; NTKSpectra sets it explicitly (tests pin it, benchmarks report it).
public enum BLASThreads {
    /// The number of threads OpenBLAS uses for level-3 kernels.
    public static var count: Int { Int(openblas_get_num_threads()) }

    /// Sets the number of OpenBLAS threads (≥ 1).
    public static func set(_ threads: Int) throws(LinearAlgebraError) {
        guard threads >= 1 else {
            throw .invalidSize(name: "threads", value: threads, expected: "at least 1")
        }
        openblas_set_num_threads(try cInt(threads, "threads"))
    }

    /// The OpenBLAS kernel family in use (`openblas_get_corename`), e.g. "Haswell", "Zen".
    public static var coreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// OpenBLAS's build configuration string.
    public static var configuration: String {
        guard let config = openblas_get_config() else { return "unknown" }
        return String(cString: config)
    }
}

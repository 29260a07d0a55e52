/// How a spectral request is answered. `rawValue` is the command-line and JSON name.
///
/// - `dense`: the exact path — the kernel formed (structured per-layer Gram products where
///   every parameterized layer supports them, else identity blocks of the operator) and
///   LAPACK's symmetric eigensolver. Exact; O(N³) time, 8·N² bytes.
/// - `kernelLanczos`: the same kernel formed once, then the deflated SLQ of
///   `SpectralEstimator` on the dense matrix: each product is one N×N by N×s GEMM instead of
///   two network passes, and there is no O(N³) eigensolve. 8·N² bytes.
/// - `matrixFree`: the NTK operator (`StructuredNTK`, or `EmpiricalNTK`'s JVP∘VJP) under
///   deflated SLQ; memory O(P·s + cache), never N².
/// - `auto`: the route `RoutePlanner` predicts to be fastest among those that fit the memory
///   budget.
public enum SpectralRoute: String, Sendable, Codable, CaseIterable {
    case auto
    case dense
    case kernelLanczos = "kernel-lanczos"
    case matrixFree = "matrix-free"

    /// The routes `auto` chooses from, in order of preference on a tie (exact first).
    public static let concrete: [SpectralRoute] = [.dense, .kernelLanczos, .matrixFree]
}

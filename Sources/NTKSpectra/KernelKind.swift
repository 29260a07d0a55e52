/// Which NTK: the full kernel over (example, output) pairs or the output-summed one.
///
/// - `full`: K[(i,c),(j,c′)] = ∇θ f_c(x_i) · ∇θ f_c′(x_j), dimension n·k, flattened
///   sample-major (index i·k + c), the convention of the 2024 reference code.
/// - `traced`: K̄[i,j] = Σ_c K[(i,c),(j,c)], dimension n (the pre-2024 reference code averaged
///   over outputs instead: that is K̄/k, see `SpectrumConventions.outputAveraged`).
public enum KernelKind: String, Sendable, Codable, CaseIterable {
    case full
    case traced

    /// Dimension of the kernel for n examples and k outputs.
    public func dimension(examples n: Int, outputs k: Int) -> Int {
        self == .full ? n * k : n
    }
}

/// Work counters carried by every NTK result.
public struct NTKCost: Sendable, Codable, Equatable {
    /// Kernel-vector products (one per vector of a block).
    public var matvecs: Int = 0
    /// Block applications of the operator.
    public var blockApplications: Int = 0
    /// Passes over the data set (each block application makes two).
    public var dataPasses: Int = 0
    /// Network VJP and JVP calls (per batch, per block).
    public var vjpCalls: Int = 0
    public var jvpCalls: Int = 0
    /// Forward passes over batches (cache fills and recomputations).
    public var forwardCalls: Int = 0
    /// Wall-clock seconds.
    public var seconds: Double = 0

    public init() {}

    public static func + (a: NTKCost, b: NTKCost) -> NTKCost {
        var c = a
        c.matvecs += b.matvecs; c.blockApplications += b.blockApplications; c.dataPasses += b.dataPasses
        c.vjpCalls += b.vjpCalls; c.jvpCalls += b.jvpCalls; c.forwardCalls += b.forwardCalls
        c.seconds += b.seconds
        return c
    }
}

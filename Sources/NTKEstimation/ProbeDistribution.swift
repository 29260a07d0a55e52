import NTKLinearAlgebra

/// Distribution of random probe vectors z with E[z zᵀ] = I.
public enum ProbeDistribution: Sendable, Hashable, CaseIterable {
    /// i.i.d. ±1 (Hutchinson 1989): minimal variance among i.i.d. probes, 2‖A‖²_F − 2Σ A_ii².
    case rademacher
    /// i.i.d. N(0, 1) (Girard 1989): variance 2‖A‖²_F, rotation invariant.
    case gaussian
    /// Uniform on the sphere of radius √N (normalized Gaussian).
    case sphere

    /// Fills every row of `block` (s × N) with an independent probe.
    public func fill(_ block: inout Matrix<Double>, using generator: inout SeededGenerator) {
        let n = block.columns
        block.storage.withUnsafeMutableBufferPointer { buffer in
            for row in 0..<block.rows {
                let slice = UnsafeMutableBufferPointer(rebasing: buffer[(row * n)..<((row + 1) * n)])
                switch self {
                case .rademacher: generator.fillRademacher(slice)
                case .gaussian: generator.fillGaussian(slice)
                case .sphere: generator.fillUniformOnSphere(slice)
                }
            }
        }
    }
}

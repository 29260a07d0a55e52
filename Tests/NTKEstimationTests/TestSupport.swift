import NTKEstimation
import NTKLinearAlgebra

/// Shared fixtures: planted spectra Q Λ Qᵀ with a fixed seed, and exact spectral sums.
enum Fixture {
    /// Q diag(λ) Qᵀ with Q a Haar-like orthogonal matrix (QR of a Gaussian matrix, fixed seed).
    static func planted(_ eigenvalues: [Double], seed: UInt64 = 7) throws -> Matrix<Double> {
        try BLASThreads.set(1)
        let n = eigenvalues.count
        var generator = SeededGenerator(seed: seed)
        let g = try Matrix<Double>(rows: n, columns: n, storage: .gaussian(count: n * n, using: &generator))
        let q = try orthonormalColumns(g)
        var scaled = q
        for i in 0..<n { for j in 0..<n { scaled[i, j] *= eigenvalues[j] } }
        var a = try scaled.multiplied(by: q, transposeOther: true)
        for i in 0..<n { for j in 0..<i { let s = 0.5 * (a[i, j] + a[j, i]); a[i, j] = s; a[j, i] = s } }
        return a
    }

    static func operatorWith(_ eigenvalues: [Double], seed: UInt64 = 7) throws -> DenseOperator {
        try DenseOperator(planted(eigenvalues, seed: seed))
    }

    /// An NTK-like spectrum: a few large "output modes", a decaying bulk and exact zeros.
    static func ntkLike(n: Int = 160, outliers: Int = 6, zeros: Int = 20) -> [Double] {
        (0..<n).map { i in
            if i < outliers { return 40 * Double.pow(0.7, Double(i)) }
            if i >= n - zeros { return 0 }
            return 1 / (1 + Double(i - outliers) / 8)
        }
    }

    static func trace(_ values: [Double], _ f: (Double) -> Double) -> Double {
        values.reduce(0) { $0 + f($1) }
    }

    static func entropy(_ values: [Double]) -> Double {
        let t = values.reduce(0, +)
        return -values.reduce(0) { $0 + ($1 > 0 ? ($1 / t) * Double.log($1 / t) : 0) }
    }
}

import Foundation
import Testing

@testable import NTKLinearAlgebra

/// Cholesky and GP regression against direct solves (Gaussian elimination written out here).
@Suite struct GaussianProcessTests {
    /// A random SPD matrix B Bᵀ + 0.1 I (n×n).
    static func spd(_ n: Int, seed: UInt64) -> Matrix<Double> {
        var g = SeededGenerator(seed: seed)
        let b = Matrix<Double>(rows: n, columns: n + 2) { _, _ in g.nextGaussian() }
        return Matrix(rows: n, columns: n) { i, j in (0..<(n + 2)).reduce(i == j ? 0.1 : 0) { $0 + b[i, $1] * b[j, $1] } }
    }

    /// Solves A X = B by Gaussian elimination with partial pivoting (the reference).
    static func directSolve(_ a: Matrix<Double>, _ b: Matrix<Double>) -> Matrix<Double> {
        let n = a.rows, m = b.columns
        var a = a, x = b
        for col in 0..<n {
            let p = (col..<n).max { abs(a[$0, col]) < abs(a[$1, col]) }!
            for j in 0..<n { let t = a[col, j]; a[col, j] = a[p, j]; a[p, j] = t }
            for j in 0..<m { let t = x[col, j]; x[col, j] = x[p, j]; x[p, j] = t }
            for r in (col + 1)..<max(col + 1, n) {
                let f = a[r, col] / a[col, col]
                for j in col..<n { a[r, j] -= f * a[col, j] }
                for j in 0..<m { x[r, j] -= f * x[col, j] }
            }
        }
        for col in stride(from: n - 1, through: 0, by: -1) {
            for j in 0..<m {
                var s = x[col, j]
                for c in (col + 1)..<max(col + 1, n) { s -= a[col, c] * x[c, j] }
                x[col, j] = s / a[col, col]
            }
        }
        return x
    }

    /// L Lᵀ = A + δI to round-off (‖·‖ ≤ 50·n·ε·‖A‖_max), L lower with a positive diagonal,
    /// solve = direct solve, log det against the product of LU pivots' logs via eigenvalues.
    @Test func choleskyFactorsAndSolves() throws {
        let n = 9
        let a = Self.spd(n, seed: 5)
        let jitter = 0.3
        let c = try CholeskyFactorization(a, jitter: jitter)
        let scale = a.storage.map(abs).max()!
        for i in 0..<n {
            #expect(c.factor[i, i] > 0)
            for j in 0..<n {
                if j > i { #expect(c.factor[i, j] == 0) }
                let llt = (0..<n).reduce(0.0) { $0 + c.factor[i, $1] * c.factor[j, $1] }
                #expect(abs(llt - a[i, j] - (i == j ? jitter : 0)) <= 50 * Double(n) * Double.ulpOfOne * scale)
            }
        }
        var g = SeededGenerator(seed: 6)
        let b = Matrix<Double>(rows: n, columns: 3) { _, _ in g.nextGaussian() }
        let shifted = Matrix<Double>(rows: n, columns: n) { i, j in a[i, j] + (i == j ? jitter : 0) }
        let x = try c.solve(b), reference = Self.directSolve(shifted, b)
        for (u, v) in zip(x.storage, reference.storage) { #expect(abs(u - v) <= 1e-10 * max(1, abs(v))) }
        let eig = try SymmetricEigen(shifted)
        let logDet = eig.values.reduce(0) { $0 + Double.log($1) }
        #expect(abs(c.logDeterminant - logDet) <= 1e-10 * max(1, abs(logDet)))
    }

    /// An indefinite matrix fails with the typed error naming the minor; jitter rescues a
    /// singular PSD matrix.
    @Test func notPositiveDefiniteIsAClearError() throws {
        let indefinite = try Matrix<Double>(rows: 2, columns: 2, storage: [1, 2, 2, 1])
        #expect(throws: CholeskyError.notPositiveDefinite(minor: 2, dimension: 2, jitter: 0)) {
            try CholeskyFactorization(indefinite)
        }
        let singular = try Matrix<Double>(rows: 2, columns: 2, storage: [1, 1, 1, 1])
        #expect(throws: CholeskyError.self) { try CholeskyFactorization(singular) }
        _ = try CholeskyFactorization(singular, jitter: 1e-8)
        #expect(throws: LinearAlgebraError.self) { try GaussianProcessRegression(kernel: singular, targets: Matrix(rows: 2, columns: 1), noiseVariance: -1) }
    }

    /// Posterior mean and variance against the formulas evaluated with the direct solve.
    @Test func posteriorMatchesDirectSolve() throws {
        let n = 8, m = 5
        // Kernel of n + m points: train block, cross block and test diagonal from one SPD matrix.
        let full = Self.spd(n + m, seed: 7)
        let k = Matrix<Double>(rows: n, columns: n) { full[$0, $1] }
        let cross = Matrix<Double>(rows: m, columns: n) { full[n + $0, $1] }
        let diagonal = (0..<m).map { full[n + $0, n + $0] }
        var g = SeededGenerator(seed: 8)
        let y = Matrix<Double>(rows: n, columns: 2) { _, _ in g.nextGaussian() }
        let noise = 0.05
        let gp = try GaussianProcessRegression(kernel: k, targets: y, noiseVariance: noise)
        let shifted = Matrix<Double>(rows: n, columns: n) { i, j in k[i, j] + (i == j ? noise : 0) }
        let alpha = Self.directSolve(shifted, y)
        let mean = try gp.mean(crossKernel: cross)
        for j in 0..<m {
            for c in 0..<2 {
                let expected = (0..<n).reduce(0.0) { $0 + cross[j, $1] * alpha[$1, c] }
                #expect(abs(mean[j, c] - expected) <= 1e-10 * max(1, abs(expected)))
            }
        }
        let v = Self.directSolve(shifted, cross.transposed())
        let variance = try gp.variance(crossKernel: cross, testDiagonal: diagonal)
        for j in 0..<m {
            let expected = diagonal[j] - (0..<n).reduce(0.0) { $0 + cross[j, $1] * v[$1, j] }
            #expect(abs(variance[j] - expected) <= 1e-9 * max(1, abs(diagonal[j])))
            #expect(variance[j] > 0)  // a Schur complement of an SPD matrix
        }
    }
}

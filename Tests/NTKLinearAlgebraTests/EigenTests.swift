import Foundation
import Testing
@testable import NTKLinearAlgebra

/// Eigendecompositions against matrices with planted spectra A = Q Λ Qᵀ.
@Suite("Symmetric eigensolvers")
struct EigenTests {
    init() throws { try BLASThreads.set(1) }

    /// A random orthogonal n×n matrix (QR of a Gaussian matrix).
    static func randomOrthogonal(_ n: Int, seed: UInt64) throws -> Matrix<Double> {
        var g = SeededGenerator(seed: seed)
        let gauss = try Matrix(rows: n, columns: n, storage: [Double].gaussian(count: n * n, using: &g))
        return try orthonormalColumns(gauss)
    }

    static func planted(_ lambda: [Double], seed: UInt64) throws -> Matrix<Double> {
        let q = try randomOrthogonal(lambda.count, seed: seed)
        let ql = try q.multiplied(by: Matrix(diagonal: lambda))
        return try ql.multiplied(by: q, transposeOther: true)
    }

    @Test func thinQRIsOrthonormal() throws {
        let q = try Self.randomOrthogonal(20, seed: 1)
        let qtq = try q.multiplied(by: q, transposeSelf: true)
        let eps = Double.ulpOfOne
        for i in 0..<20 {
            for j in 0..<20 {
                #expect(abs(qtq[i, j] - (i == j ? 1 : 0)) <= 10 * 20 * eps)
            }
        }
    }

    @Test(arguments: [1, 2, 17, 64])
    func syevdRecoversPlantedSpectrum(n: Int) throws {
        var g = SeededGenerator(seed: UInt64(n))
        var lambda = (0..<n).map { _ in 10 * g.nextUnit() - 3 }
        lambda.sort()
        let a = try Self.planted(lambda, seed: 100 + UInt64(n))
        let eig = try SymmetricEigen(a, computeVectors: true)
        let scale = lambda.map(abs).max()!
        let tol = 10 * Double(n) * Double.ulpOfOne * scale
        for i in 0..<n { #expect(abs(eig.values[i] - lambda[i]) <= tol) }
        // Residuals ‖A v − λ v‖ for each eigenvector row.
        let v = try #require(eig.vectors)
        let av = try v.multiplied(by: a)  // rows: (A v_i)ᵀ since A symmetric
        for i in 0..<n {
            var r = 0.0
            for j in 0..<n { r += pow(av[i, j] - eig.values[i] * v[i, j], 2) }
            #expect(r.squareRoot() <= tol)
        }
    }

    /// Both drivers, in place and on a copy, recover a planted spectrum (the two-stage one runs
    /// by default only from `twoStageMinimumDimension` on, so it is forced here).
    @Test(arguments: [SymmetricEigen.Driver.divideAndConquer, .twoStage])
    func driversRecoverPlantedSpectrumInPlace(driver: SymmetricEigen.Driver) throws {
        let n = 150
        var g = SeededGenerator(seed: 7)
        let lambda = (0..<n).map { _ in 5 * g.nextUnit() }.sorted()
        let a = try Self.planted(lambda, seed: 8)
        var scratch = a
        let inPlace = try SymmetricEigen(destroying: &scratch, driver: driver)
        let copied = try SymmetricEigen(a, driver: driver)
        let tol = 10 * Double(n) * Double.ulpOfOne * 5
        for i in 0..<n {
            #expect(abs(inPlace.values[i] - lambda[i]) <= tol)
            #expect(abs(copied.values[i] - lambda[i]) <= tol)
        }
        #expect(inPlace.vectors == nil)
        #expect(inPlace.routine == driver.rawValue && copied.routine == driver.rawValue)
        #expect(SymmetricEigen.routine(dimension: n, computeVectors: false, driver: driver) == driver.rawValue)
        #expect(SymmetricEigen.routine(dimension: n, computeVectors: true, driver: driver) == "dsyevd")
        #expect(SymmetricEigen.routine(dimension: SymmetricEigen.twoStageMinimumDimension, computeVectors: false)
                == "dsyevd_2stage")
        #expect(SymmetricEigen.routine(dimension: SymmetricEigen.twoStageMinimumDimension - 1, computeVectors: false)
                == "dsyevd")
    }

    @Test func syevdRejectsBadInput() throws {
        #expect(throws: LinearAlgebraError.self) { _ = try SymmetricEigen(Matrix<Double>(rows: 2, columns: 3)) }
        var a = Matrix<Double>.identity(3)
        a[1, 1] = .nan
        #expect(throws: LinearAlgebraError.nonFinite("matrix passed to dsyevd")) { _ = try SymmetricEigen(a) }
    }

    @Test func tridiagonalValuesAndFirstComponents() throws {
        // T = tridiag(β, α, β) of size m has eigenvalues α + 2β cos(jπ/(m+1)) and eigenvector
        // components √(2/(m+1)) sin(i j π/(m+1)).
        let m = 30, alpha = 2.0, beta = -1.0
        let eig = try TridiagonalEigen(
            diagonal: Array(repeating: alpha, count: m), offDiagonal: Array(repeating: beta, count: m - 1))
        let exact = (1...m).map { alpha + 2 * beta * cos(Double($0) * .pi / Double(m + 1)) }.sorted()
        let tol = 10 * Double(m) * Double.ulpOfOne * 4
        for j in 0..<m { #expect(abs(eig.values[j] - exact[j]) <= tol) }
        // Weights (first components squared) sum to one and match the closed form.
        let weights = eig.firstComponents.map { $0 * $0 }
        #expect(abs(weights.reduce(0, +) - 1) <= tol)
        let closed = (1...m).map { j -> (Double, Double) in
            let theta = alpha + 2 * beta * cos(Double(j) * .pi / Double(m + 1))
            let s = sin(Double(j) * .pi / Double(m + 1))
            return (theta, 2.0 / Double(m + 1) * s * s)
        }.sorted { $0.0 < $1.0 }
        for j in 0..<m { #expect(abs(weights[j] - closed[j].1) <= tol) }
    }

    @Test func tridiagonalRejectsMismatchedSizes() {
        #expect(throws: LinearAlgebraError.self) {
            _ = try TridiagonalEigen(diagonal: [1, 2, 3], offDiagonal: [1])
        }
    }
}

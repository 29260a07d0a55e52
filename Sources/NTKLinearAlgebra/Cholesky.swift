import CLAPACKE

/// The Cholesky factorization A + δI = L Lᵀ of a symmetric positive definite matrix by LAPACK
/// `dpotrf`, and solves with it by `dpotrs`, in Double.
///
/// Only the lower triangle of A (row-major) is read; `factor` holds L (row-major, zeros above
/// the diagonal). `jitter` δ ≥ 0 is added to the diagonal first (a common
/// regularizer for nearly singular kernel matrices; Rasmussen & Williams 2006, §A.4).
/// - Complexity: n³/3 flops to factor, 2n²·m to solve for m right-hand sides; O(n²) memory.
public struct CholeskyFactorization: Sendable {
    /// L, lower triangular with a positive diagonal.
    public let factor: Matrix<Double>
    /// δ added to the diagonal before factoring.
    public let jitter: Double

    /// Factors `matrix` + `jitter`·I.
    /// - Throws: `CholeskyError.notPositiveDefinite` naming the leading minor that is not
    ///   positive (LAPACK's info > 0); `LinearAlgebraError` for a non-square or non-finite matrix,
    ///   a negative or non-finite jitter.
    public init(_ matrix: Matrix<Double>, jitter: Double = 0) throws {
        guard matrix.rows == matrix.columns else {
            throw LinearAlgebraError.shapeMismatch("Cholesky needs a square matrix, got \(matrix.rows)×\(matrix.columns)")
        }
        guard matrix.isFinite else { throw LinearAlgebraError.nonFinite("matrix passed to dpotrf") }
        guard jitter.isFinite, jitter >= 0 else {
            throw LinearAlgebraError.invalidSize(name: "jitter", value: 0, expected: "a finite jitter ≥ 0, got \(jitter)")
        }
        let n = matrix.rows
        let n32 = try cInt(n, "n")
        var a = matrix
        for i in 0..<n { a.storage[i * n + i] += jitter }
        if n > 0 {
            let info = a.storage.withUnsafeMutableBufferPointer { ap in
                LAPACKE_dpotrf(LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "L")), n32, ap.baseAddress, n32)
            }
            if info > 0 { throw CholeskyError.notPositiveDefinite(minor: Int(info), dimension: n, jitter: jitter) }
            try checkInfo(info, routine: "dpotrf")
        }
        // dpotrf leaves the strict upper triangle as it was: clear it.
        for i in 0..<n { for j in (i + 1)..<max(i + 1, n) { a.storage[i * n + j] = 0 } }
        factor = a
        self.jitter = jitter
    }

    public var dimension: Int { factor.rows }

    /// log det(A + δI) = 2 Σ log Lᵢᵢ.
    public var logDeterminant: Double {
        (0..<dimension).reduce(0) { $0 + 2 * Double.log(factor[$1, $1]) }
    }

    /// X = (A + δI)⁻¹ B for B n×m, by `dpotrs`.
    /// - Throws: `LinearAlgebraError.shapeMismatch` unless B has n rows, `.nonFinite` for NaN/Inf in B.
    public func solve(_ b: Matrix<Double>) throws -> Matrix<Double> {
        let n = dimension
        guard b.rows == n else {
            throw LinearAlgebraError.shapeMismatch("solve needs \(n) rows on the right-hand side, got \(b.rows)×\(b.columns)")
        }
        guard b.isFinite else { throw LinearAlgebraError.nonFinite("right-hand side passed to dpotrs") }
        if n == 0 || b.columns == 0 { return b }
        let n32 = try cInt(n, "n"), m32 = try cInt(b.columns, "right-hand sides")
        var lt = factor
        var x = b
        let info = lt.storage.withUnsafeMutableBufferPointer { lp in
            x.storage.withUnsafeMutableBufferPointer { xp in
                LAPACKE_dpotrs(LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "L")), n32, m32, lp.baseAddress, n32, xp.baseAddress, m32)
            }
        }
        try checkInfo(info, routine: "dpotrs")
        return x
    }
}

/// A matrix that is not (numerically) positive definite.
public enum CholeskyError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The leading minor of order `minor` of the n×n matrix (plus `jitter`·I) is not positive.
    case notPositiveDefinite(minor: Int, dimension: Int, jitter: Double)

    public var description: String {
        switch self {
        case let .notPositiveDefinite(minor, dimension, jitter):
            return "the \(dimension)×\(dimension) matrix (+ jitter \(jitter)·I) is not positive definite: "
                + "its leading minor of order \(minor) is not positive (add noise or jitter, or check the kernel)"
        }
    }
}

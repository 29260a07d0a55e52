import NTKLinearAlgebra

/// A symmetric (positive semi-definite, for the spectral estimators) linear operator A on
/// R^N, applied to a block of s vectors at once.
///
/// Blocks are `Matrix<Double>` with `rows = s` vectors and `columns = dimension`; each vector
/// is one contiguous row. Applying a block of width s costs s operator applications; doing
/// it as one call lets implementations turn s matrix–vector products into one GEMM.
public protocol SymmetricOperator: AnyObject {
    /// N, the length of each vector.
    var dimension: Int { get }
    /// `output` (s × N) = `input` (s × N) · Aᵀ = (A · inputᵀ)ᵀ, row by row. `output` has the
    /// shape of `input` on entry; implementations should not allocate in steady state.
    func apply(_ input: Matrix<Double>, into output: inout Matrix<Double>) throws
}

/// What an estimator spent on its operator: the currency of every result.
public struct OperatorCost: Sendable, Hashable, CustomStringConvertible {
    /// Number of vectors the operator was applied to (matrix–vector products).
    public var applications: Int
    /// Number of block calls (`apply` invocations).
    public var blocks: Int
    /// Wall-clock seconds spent inside `apply`.
    public var seconds: Double

    public init(applications: Int = 0, blocks: Int = 0, seconds: Double = 0) {
        self.applications = applications
        self.blocks = blocks
        self.seconds = seconds
    }

    public static func + (a: OperatorCost, b: OperatorCost) -> OperatorCost {
        OperatorCost(applications: a.applications + b.applications, blocks: a.blocks + b.blocks,
                     seconds: a.seconds + b.seconds)
    }

    public static func - (a: OperatorCost, b: OperatorCost) -> OperatorCost {
        OperatorCost(applications: a.applications - b.applications, blocks: a.blocks - b.blocks,
                     seconds: a.seconds - b.seconds)
    }

    public var description: String {
        "\(applications) applications in \(blocks) blocks, \(seconds) s"
    }
}

extension Duration {
    /// The duration in seconds as a Double.
    var seconds: Double {
        let c = components
        return Double(c.seconds) + Double(c.attoseconds) * 1e-18
    }
}

/// Checks that a block has the shape s × N expected by `op`.
func checkBlock(_ block: Matrix<Double>, dimension: Int, name: String) throws {
    guard block.columns == dimension else {
        throw EstimationError.dimensionMismatch(
            what: name, got: block.columns, expected: dimension)
    }
}

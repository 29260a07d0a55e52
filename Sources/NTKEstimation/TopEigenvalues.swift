import NTKLinearAlgebra

/// The k largest eigenvalues of a symmetric operator by Lanczos with full
/// reorthogonalization and Rayleigh–Ritz over the union of the probes' Krylov spaces, with
/// residual bounds: each reported θ_i has an eigenvalue within `residualNorms[i]`.
/// Extreme eigenvalues converge first (Kaniel–Paige–Saad bounds), so `steps` ≈ 2k–3k usually
/// suffices for well-separated top eigenvalues.
/// - Complexity: probes·steps applications; O(probes²·steps²·N) flops.
public struct TopEigenvalues: Sendable {
    public var count: Int
    public var steps: Int
    public var probes: Int
    public var seed: UInt64

    public init(count: Int, steps: Int? = nil, probes: Int = 1, seed: UInt64 = 0) {
        self.count = count
        self.steps = steps ?? max(40, 3 * count)
        self.probes = probes
        self.seed = seed
    }

    public struct Result: Sendable {
        /// Descending Ritz values (at most `count`).
        public var values: [Double]
        public var residualNorms: [Double]
        /// Ritz vectors as rows.
        public var vectors: Matrix<Double>
        public var cost: OperatorCost
    }

    public func compute(_ op: any SymmetricOperator) throws -> Result {
        try require(count >= 1, "TopEigenvalues.count", count, "at least 1")
        try require(steps >= 1, "TopEigenvalues.steps", steps, "at least 1")
        try require(probes >= 1, "TopEigenvalues.probes", probes, "at least 1")
        let counted = CountingOperator(op)
        let n = counted.dimension
        guard n > 0 else { throw EstimationError.emptyOperator }
        var generator = SeededGenerator(seed: seed)
        var start = Matrix<Double>(rows: probes, columns: n)
        ProbeDistribution.gaussian.fill(&start, using: &generator)
        let runs = try Lanczos(steps: steps, reorthogonalization: .full, keepBasis: true).decompose(counted, start: start)
        let pairs = try RitzPairs(union: runs)
        let k = min(count, pairs.values.count)
        var vectors = Matrix<Double>(rows: k, columns: n)
        for i in 0..<k { for j in 0..<n { vectors[i, j] = pairs.vectors[i, j] } }
        return Result(values: Array(pairs.values.prefix(k)), residualNorms: Array(pairs.residualNorms.prefix(k)),
                      vectors: vectors, cost: counted.cost)
    }
}

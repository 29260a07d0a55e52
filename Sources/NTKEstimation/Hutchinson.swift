import NTKLinearAlgebra

/// Hutchinson's trace estimator (Hutchinson 1989; Girard 1989): tr A ≈ (1/n) Σ_l z_lᵀ A z_l
/// with E[z zᵀ] = I. Probes are added in rounds (one block application each) until
/// `stopping` fires. Rademacher probes have variance 2(‖A‖²_F − Σ A_ii²) per probe.
/// - Complexity: one application per probe; O(N) flops per probe beyond it.
public struct Hutchinson: Sendable {
    public var probesPerRound: Int
    public var stopping: StoppingRule
    public var confidenceLevel: Double
    public var distribution: ProbeDistribution
    public var seed: UInt64

    public init(probesPerRound: Int = 16, stopping: StoppingRule = .relativeTolerance(0.01) || .samples(1024),
                confidenceLevel: Double = 0.95, distribution: ProbeDistribution = .rademacher, seed: UInt64 = 0) {
        self.probesPerRound = probesPerRound
        self.stopping = stopping
        self.confidenceLevel = confidenceLevel
        self.distribution = distribution
        self.seed = seed
    }

    public func estimate(_ op: any SymmetricOperator) throws -> MonteCarloEstimate {
        try require(probesPerRound >= 1, "Hutchinson.probesPerRound", probesPerRound, "at least 1")
        try stopping.validate()
        let counted = CountingOperator(op)
        let n = counted.dimension
        guard n > 0 else { throw EstimationError.emptyOperator }
        var generator = SeededGenerator(seed: seed)
        var samples: [Double] = []
        let started = ContinuousClock().now
        var block = Matrix<Double>(rows: 0, columns: n)
        var image = Matrix<Double>(rows: 0, columns: n)
        var estimate = MonteCarloEstimate.exact(0)
        let rounds = SamplingRounds(probesPerRound: probesPerRound, stopping: stopping, applicationsPerProbe: 1)
        try rounds.run(counted, started: started, samples: { samples.count }) { width in
            if block.rows != width {
                block = Matrix(rows: width, columns: n)
                image = Matrix(rows: width, columns: n)
            }
            distribution.fill(&block, using: &generator)
            try counted.apply(block, into: &image)
            samples += try BlockKernels.rowDots(block, image)
            estimate = try .fromSamples(samples, confidenceLevel: confidenceLevel,
                                        applications: counted.cost.applications,
                                        seconds: (ContinuousClock().now - started).seconds)
            return [estimate]
        }
        guard !samples.isEmpty else {
            throw EstimationError.invalidConfiguration(
                name: "Hutchinson budget", value: "\(stopping)", expected: "room for at least one probe")
        }
        return estimate
    }
}

import NTKLinearAlgebra

/// Stochastic Lanczos quadrature (Ubaru, Chen & Saad 2017, SIAM J. Matrix Anal. Appl. 38(4)):
/// tr f(A) ≈ (1/n_v) Σ_l ‖z_l‖² Σ_j τ_j^(l) f(θ_j^(l)), one Lanczos run per probe z_l and one
/// Gauss rule per run, for SEVERAL functions f from the same runs.
///
/// Probes are added in rounds of `probesPerRound` (one lockstep Lanczos per round, each step
/// one block application) until `stopping` fires for every function. Ritz values below
/// `clipThreshold · λ_max` (default N·ε) are set to 0 before f is evaluated; the weight they
/// carried is reported as `clippedMass` (an estimate of the number of eigenvalues treated as 0).
///
/// Each probe's sample is unbiased for the Lanczos-m quadrature of its quadratic form; the
/// quadrature bias decays fast for analytic f (Ubaru et al. Thm 4.1).
/// - Complexity: n_v·m applications; O(n_v·m²·N) flops of reorthogonalization.
public struct StochasticLanczosQuadrature: Sendable {
    public var lanczos: Lanczos
    public var probesPerRound: Int
    public var stopping: StoppingRule
    public var confidenceLevel: Double
    public var distribution: ProbeDistribution
    public var seed: UInt64
    /// Relative clipping threshold on Ritz values (× λ_max); nil means N·ε.
    public var clipThreshold: Double?

    public init(lanczos: Lanczos = Lanczos(steps: 30), probesPerRound: Int = 4,
                stopping: StoppingRule = .relativeTolerance(0.01) || .samples(64),
                confidenceLevel: Double = 0.95, distribution: ProbeDistribution = .rademacher,
                seed: UInt64 = 0, clipThreshold: Double? = nil) {
        self.lanczos = lanczos
        self.probesPerRound = probesPerRound
        self.stopping = stopping
        self.confidenceLevel = confidenceLevel
        self.distribution = distribution
        self.seed = seed
        self.clipThreshold = clipThreshold
    }

    /// The outcome: one estimate per function (same probes), the per-probe samples and cost.
    public struct Result: Sendable {
        public var estimates: [MonteCarloEstimate]
        /// samples[f][l]: probe l's estimate of tr f(A).
        public var samples: [[Double]]
        public var depths: [Int]
        public var cost: OperatorCost
        /// Mean over probes of the quadrature weight clipped to 0 (× ‖z‖²).
        public var clippedMass: Double
        /// Largest Ritz value seen.
        public var largestRitzValue: Double
    }

    /// Estimates tr f(A) for each function in `functions` from the same probes.
    public func estimate(_ op: any SymmetricOperator, functions: [SpectralFunction]) throws -> Result {
        try validate()
        try require(!functions.isEmpty, "SLQ functions", "[]", "at least one spectral function")
        let counted = CountingOperator(op)
        let n = counted.dimension
        guard n > 0 else { throw EstimationError.emptyOperator }
        var generator = SeededGenerator(seed: seed)
        var samples = [[Double]](repeating: [], count: functions.count)
        var depths: [Int] = []
        var clipped: [Double] = []
        var lambdaMax = 0.0
        let started = ContinuousClock().now
        var estimates: [MonteCarloEstimate] = []
        let rounds = SamplingRounds(probesPerRound: probesPerRound, stopping: stopping,
                                    applicationsPerProbe: min(lanczos.steps, n))
        try rounds.run(counted, started: started, samples: { depths.count }) { width in
            var block = Matrix<Double>(rows: width, columns: n)
            distribution.fill(&block, using: &generator)
            let round = try sampleRound(counted, start: block)
            lambdaMax = max(lambdaMax, round.largestRitzValue)
            let threshold = (clipThreshold ?? Double(n) * .ulpOfOne) * lambdaMax
            for probe in round.probes {
                for (k, f) in functions.enumerated() {
                    samples[k].append(probe.sample(f, clipBelow: threshold))
                }
                depths.append(probe.result.depth)
                clipped.append(probe.clippedWeight(below: threshold))
            }
            let seconds = (ContinuousClock().now - started).seconds
            let depth = Double(depths.reduce(0, +)) / Double(depths.count)
            estimates = try samples.map {
                try MonteCarloEstimate.fromSamples($0, confidenceLevel: confidenceLevel, lanczosDepth: depth,
                                                   applications: counted.cost.applications, seconds: seconds)
            }
            return estimates
        }
        guard !depths.isEmpty else {
            throw EstimationError.invalidConfiguration(
                name: "SLQ budget", value: "\(stopping)", expected: "room for at least one probe")
        }
        return Result(estimates: estimates, samples: samples, depths: depths, cost: counted.cost,
                      clippedMass: clipped.reduce(0, +) / Double(clipped.count), largestRitzValue: lambdaMax)
    }

    /// One round of SLQ: a lockstep Lanczos run from every row of `start` (each row a probe z_l,
    /// unnormalized), with the Gauss rule of each run; `stop` ends a probe's run early (the
    /// bias brackets of `SpectralEstimator`). The complement of the deflated estimator samples
    /// through this method, so both estimators share one quadrature per probe.
    func sampleRound(_ op: any SymmetricOperator, start: Matrix<Double>,
                     stop: Lanczos.StopCriterion? = nil) throws -> SLQRound {
        try SLQRound.run(op, start: start, lanczos: lanczos, stop: stop)
    }

    func validate() throws {
        try require(probesPerRound >= 1, "SLQ.probesPerRound", probesPerRound, "at least 1")
        try require(confidenceLevel > 0 && confidenceLevel < 1, "SLQ.confidenceLevel", confidenceLevel,
                    "a value in (0, 1)")
        if let clipThreshold {
            try require(clipThreshold >= 0 && clipThreshold < 1, "SLQ.clipThreshold", clipThreshold,
                        "a value in [0, 1)")
        }
        try stopping.validate()
    }
}

/// One lockstep Lanczos round of SLQ and the per-probe quadrature rules.
struct SLQRound {
    struct Probe {
        var result: LanczosResult
        var gauss: GaussQuadrature

        /// ‖z‖² Σ_j τ_j f(θ_j), nodes below `clipBelow` mapped to 0.
        func sample(_ f: SpectralFunction, clipBelow threshold: Double) -> Double {
            let scale = result.startNorm * result.startNorm
            return scale * gauss.integrate { f.evaluate($0 < threshold ? 0 : $0) }
        }

        func clippedWeight(below threshold: Double) -> Double {
            var w = 0.0
            for (x, t) in zip(gauss.nodes, gauss.weights) where x < threshold { w += t }
            return w * result.startNorm * result.startNorm
        }

        /// The Gauss–Radau (node 0) sample, a lower bound for −x log x; nil when undefined.
        func radauSample(_ f: SpectralFunction, clipBelow threshold: Double) throws -> Double? {
            guard let radau = try GaussQuadrature.radau(result) else { return nil }
            let scale = result.startNorm * result.startNorm
            return scale * radau.integrate { f.evaluate($0 < threshold ? 0 : $0) }
        }
    }

    var probes: [Probe]
    var largestRitzValue: Double

    static func run(_ op: any SymmetricOperator, start: Matrix<Double>, lanczos: Lanczos,
                    stop: Lanczos.StopCriterion? = nil) throws -> SLQRound {
        let results = try lanczos.decompose(op, start: start, stop: stop)
        var probes: [Probe] = []
        var largest = 0.0
        for r in results {
            let g = try GaussQuadrature(r)
            largest = max(largest, g.nodes.last ?? 0)
            probes.append(Probe(result: r, gauss: g))
        }
        return SLQRound(probes: probes, largestRitzValue: largest)
    }
}

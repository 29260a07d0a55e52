import NTKLinearAlgebra

/// The round loop every Monte-Carlo estimator here shares (`Hutchinson`,
/// `StochasticLanczosQuadrature`, the complement of `SpectralEstimator`): probes are drawn in
/// rounds of `probesPerRound` (one block application, or one lockstep Lanczos run, per round),
/// each round trimmed to what the stopping rule's probe and application budgets leave, until
/// the rule fires for every estimate the round reports.
///
/// The estimator owns what a round does (draw, apply, sample, summarize); this type owns only
/// when rounds run and how wide they are, so every estimator stops, and respects a budget, the
/// same way.
struct SamplingRounds {
    var probesPerRound: Int
    var stopping: StoppingRule
    /// Operator applications one probe costs (1 for Hutchinson, the Lanczos depth min(m, N) for
    /// SLQ): a round is trimmed so that it cannot overrun an application budget.
    var applicationsPerProbe: Int

    /// Runs rounds until `stopping` is satisfied by every estimate `round` returns, or no probe
    /// fits the budgets. `round(width)` draws and processes `width` ≥ 1 probes; `samples()` is
    /// the number of probes taken so far. Seconds count from `started`.
    /// - Returns: the number of rounds run (0: the budgets left room for no probe).
    @discardableResult
    func run(
        _ counted: CountingOperator, started: ContinuousClock.Instant, samples: () -> Int,
        round: (_ width: Int) throws -> [MonteCarloEstimate]
    ) throws -> Int {
        var rounds = 0
        while true {
            var width = probesPerRound
            if let budget = stopping.sampleBudget { width = min(width, budget - samples()) }
            if let budget = stopping.applicationBudget {
                width = min(width, (budget - counted.cost.applications) / max(1, applicationsPerProbe))
            }
            if width <= 0 { break }
            let estimates = try round(width)
            rounds += 1
            let seconds = (ContinuousClock().now - started).seconds
            let done = estimates.allSatisfy {
                stopping.isSatisfied(by: .init(estimate: $0, applications: counted.cost.applications, seconds: seconds))
            }
            if done { break }
        }
        return rounds
    }
}

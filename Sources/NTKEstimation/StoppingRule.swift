/// When a sampling estimator stops adding probes. Rules compose with `||` (stop when either
/// fires) and `&&` (stop when both fire). Statistical rules need at least two probes.
///
/// `.relativeTolerance(0.01)` fires when the confidence-interval half-width (at the
/// estimator's confidence level) is ≤ 1% of |value|; budgets fire when spent.
public indirect enum StoppingRule: Sendable, Hashable {
    /// Half-width ≤ tolerance · |value|.
    case relativeTolerance(Double)
    /// Half-width ≤ tolerance.
    case absoluteTolerance(Double)
    /// Operator applications spent ≥ budget.
    case applications(Int)
    /// Wall-clock seconds spent ≥ budget.
    case seconds(Double)
    /// Number of probes ≥ count.
    case samples(Int)
    case any([StoppingRule])
    case all([StoppingRule])

    /// What a rule looks at.
    public struct State: Sendable {
        public var estimate: MonteCarloEstimate
        public var applications: Int
        public var seconds: Double
        public init(estimate: MonteCarloEstimate, applications: Int, seconds: Double) {
            self.estimate = estimate
            self.applications = applications
            self.seconds = seconds
        }
    }

    public func isSatisfied(by state: State) -> Bool {
        let e = state.estimate
        switch self {
        case let .relativeTolerance(tol):
            return (e.sampleCount >= 2 || e.standardError == 0) && e.halfWidth <= tol * abs(e.value)
        case let .absoluteTolerance(tol):
            return (e.sampleCount >= 2 || e.standardError == 0) && e.halfWidth <= tol
        case let .applications(budget): return state.applications >= budget
        case let .seconds(budget): return state.seconds >= budget
        case let .samples(count): return e.sampleCount >= count
        case let .any(rules): return rules.contains { $0.isSatisfied(by: state) }
        case let .all(rules): return !rules.isEmpty && rules.allSatisfy { $0.isSatisfied(by: state) }
        }
    }

    /// The tightest application budget that certainly stops the estimator, if any (so that a
    /// round can be trimmed to fit it).
    public var applicationBudget: Int? {
        switch self {
        case let .applications(budget): return budget
        case let .any(rules): return rules.compactMap(\.applicationBudget).min()
        case let .all(rules):
            let budgets = rules.map(\.applicationBudget)
            return budgets.contains(where: { $0 == nil }) ? nil : budgets.compactMap { $0 }.max()
        default: return nil
        }
    }

    /// The probe-count cap, if any.
    public var sampleBudget: Int? {
        switch self {
        case let .samples(count): return count
        case let .any(rules): return rules.compactMap(\.sampleBudget).min()
        case let .all(rules):
            let budgets = rules.map(\.sampleBudget)
            return budgets.contains(where: { $0 == nil }) ? nil : budgets.compactMap { $0 }.max()
        default: return nil
        }
    }

    /// Whether the rule can ever fire without a statistical criterion (it contains a budget).
    func validate() throws {
        switch self {
        case let .relativeTolerance(t), let .absoluteTolerance(t):
            try require(t > 0 && t.isFinite, "stopping tolerance", t, "a positive finite tolerance")
        case let .applications(b): try require(b > 0, "application budget", b, "a positive budget")
        case let .seconds(b): try require(b > 0, "seconds budget", b, "a positive budget")
        case let .samples(c): try require(c >= 1, "sample budget", c, "at least 1 probe")
        case let .any(rules), let .all(rules):
            try require(!rules.isEmpty, "composite stopping rule", "[]", "at least one rule")
            for r in rules { try r.validate() }
        }
    }

    public static func || (a: StoppingRule, b: StoppingRule) -> StoppingRule { .any([a, b]) }
    public static func && (a: StoppingRule, b: StoppingRule) -> StoppingRule { .all([a, b]) }
}

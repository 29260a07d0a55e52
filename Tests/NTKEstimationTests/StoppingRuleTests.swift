import NTKEstimation
import Testing

@Suite struct StoppingRuleTests {
    func state(value: Double, halfWidth: Double, samples: Int, applications: Int, seconds: Double = 0)
        -> StoppingRule.State
    {
        let e = MonteCarloEstimate(value: value, standardError: halfWidth / 2, confidenceLevel: 0.95,
                                   lower: value - halfWidth, upper: value + halfWidth, sampleCount: samples,
                                   lanczosDepth: 0, applications: applications, seconds: seconds)
        return .init(estimate: e, applications: applications, seconds: seconds)
    }

    @Test func rulesComposeAndBudgetsAreVisible() throws {
        let rule: StoppingRule = .relativeTolerance(0.01) || .applications(500) || .seconds(2)
        #expect(rule.isSatisfied(by: state(value: 100, halfWidth: 0.5, samples: 10, applications: 10)))
        #expect(!rule.isSatisfied(by: state(value: 100, halfWidth: 5, samples: 10, applications: 10)))
        #expect(rule.isSatisfied(by: state(value: 100, halfWidth: 5, samples: 10, applications: 500)))
        #expect(rule.isSatisfied(by: state(value: 100, halfWidth: 5, samples: 10, applications: 1, seconds: 3)))
        // A statistical rule never fires on one probe.
        let one = try MonteCarloEstimate.fromSamples([1], confidenceLevel: 0.95)
        #expect(one.standardError == .infinity)
        #expect(!StoppingRule.absoluteTolerance(1e9).isSatisfied(by: .init(estimate: one, applications: 1, seconds: 0)))
        // An exact value (standard error 0) satisfies any tolerance.
        #expect(StoppingRule.relativeTolerance(1e-9).isSatisfied(by: .init(estimate: .exact(2), applications: 0, seconds: 0)))
        let both: StoppingRule = .samples(4) && .absoluteTolerance(1)
        #expect(!both.isSatisfied(by: state(value: 1, halfWidth: 0.5, samples: 3, applications: 3)))
        #expect(both.isSatisfied(by: state(value: 1, halfWidth: 0.5, samples: 4, applications: 4)))
        #expect(rule.applicationBudget == 500)
        #expect((StoppingRule.samples(8) || .samples(5)).sampleBudget == 5)
        #expect(StoppingRule.relativeTolerance(0.1).applicationBudget == nil)
    }

    @Test func monteCarloEstimateUsesStudentT() throws {
        let e = try MonteCarloEstimate.fromSamples([1, 2, 3, 4, 5], confidenceLevel: 0.95)
        // mean 3, s = √2.5, se = √0.5, t_{0.975,4} = 2.7764451052.
        #expect(abs(e.value - 3) <= 1e-15)
        #expect(abs(e.standardError - 0.5.squareRoot()) <= 1e-15)
        #expect(abs(e.halfWidth - 2.7764451052 * 0.5.squareRoot()) <= 1e-9)
        #expect(throws: EstimationError.self) { try MonteCarloEstimate.fromSamples([1, 2], confidenceLevel: 1.5) }
    }
}

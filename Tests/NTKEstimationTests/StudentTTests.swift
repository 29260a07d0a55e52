import NTKEstimation
import Testing

@Suite struct StudentTTests {
    // Two-sided critical values from standard tables (values to 12 digits as tabulated by SciPy's stats.t.ppf).
    @Test(arguments: [
        (0.975, 1.0, 12.7062047362), (0.975, 2.0, 4.30265272975), (0.975, 5.0, 2.57058183564),
        (0.975, 10.0, 2.22813885196), (0.975, 30.0, 2.04227245630), (0.95, 3.0, 2.35336343480),
        (0.995, 4.0, 4.60409487142), (0.9, 20.0, 1.32534070699),
        (0.975, 1e7, 1.95996422177),
    ])
    func quantileMatchesTables(p: Double, nu: Double, expected: Double) throws {
        let t = try StudentT.quantile(p, degreesOfFreedom: nu)
        #expect(abs(t - expected) <= 1e-7 * expected)
        #expect(abs(try StudentT.quantile(1 - p, degreesOfFreedom: nu) + expected) <= 1e-7 * expected)
        #expect(abs(StudentT.cdf(t, degreesOfFreedom: nu) - p) <= 1e-10)
    }

    @Test func badProbabilityIsATypedError() {
        #expect(throws: EstimationError.self) { try StudentT.quantile(1, degreesOfFreedom: 3) }
        #expect(throws: EstimationError.self) { try StudentT.quantile(0.5, degreesOfFreedom: 0) }
    }
}

import NTKEstimation
import NTKLinearAlgebra
import Testing

@Suite struct StochasticLanczosQuadratureTests {
    @Test func severalFunctionsFromTheSameProbes() throws {
        let values = Fixture.ntkLike(n: 120, outliers: 5, zeros: 10)
        let op = try Fixture.operatorWith(values, seed: 4)
        let slq = StochasticLanczosQuadrature(
            lanczos: Lanczos(steps: 25), probesPerRound: 8, stopping: .samples(48), seed: 9)
        let result = try slq.estimate(op, functions: [.identity, .square, .xLogX])
        #expect(result.depths.count == 48)
        #expect(result.cost.applications == result.depths.reduce(0, +))
        let exact = [Fixture.trace(values) { $0 }, Fixture.trace(values) { $0 * $0 },
                     Fixture.trace(values) { $0 > 0 ? $0 * Double.log($0) : 0 }]
        for (e, x) in zip(result.estimates, exact) {
            #expect(abs(e.value - x) <= 4 * e.standardError, "\(e) vs \(x)")
        }
    }

    @Test func zeroEigenvaluesAreClippedAndReported() throws {
        // Rank 5 of 40: Lanczos breaks down after ≤ 6 steps with one node at 0 (round-off)
        // carrying ‖P_null z‖², whose mean is the nullity 35.
        let values = (0..<40).map { $0 < 5 ? Double(5 - $0) : 0 }
        let op = try Fixture.operatorWith(values, seed: 9)
        let result = try StochasticLanczosQuadrature(lanczos: Lanczos(steps: 20), probesPerRound: 16,
                                                     stopping: .samples(16), seed: 2)
            .estimate(op, functions: [.xLogX])
        #expect(result.depths.allSatisfy { $0 <= 6 })
        #expect(abs(result.clippedMass - 35) <= 5)
        let exact = Fixture.trace(values) { $0 > 0 ? $0 * Double.log($0) : 0 }
        #expect(abs(result.estimates[0].value - exact) <= 4 * result.estimates[0].standardError + 1e-10)
    }

    @Test func budgetTrimsTheRound() throws {
        let op = try Fixture.operatorWith((0..<40).map { Double($0) + 1 })
        let slq = StochasticLanczosQuadrature(lanczos: Lanczos(steps: 10), probesPerRound: 4,
                                              stopping: .applications(55), seed: 1)
        let result = try slq.estimate(op, functions: [.identity])
        #expect(result.cost.applications <= 55)
        #expect(result.depths.count == 5)
    }
}

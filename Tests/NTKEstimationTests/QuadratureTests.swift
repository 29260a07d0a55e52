import NTKEstimation
import NTKLinearAlgebra
import Testing

@Suite struct QuadratureTests {
    @Test func gaussOverestimatesAndRadauUnderestimatesNegativeXLogX() throws {
        // −x log x: even derivatives < 0, odd ones > 0 on x > 0 (NUMERICS.md), so per probe
        // Radau(0) ≤ zᵀ h(A) z ≤ Gauss, at every depth.
        let values = Fixture.ntkLike(n: 80, outliers: 4, zeros: 0).map { $0 + 1e-3 }
        let op = try Fixture.operatorWith(values, seed: 12)
        let n = values.count
        let eigen = try SymmetricEigen(op.matrix, computeVectors: true)
        let vectors = try #require(eigen.vectors)
        let h = SpectralFunction.negativeXLogX.evaluate
        var generator = SeededGenerator(seed: 21)
        var start = Matrix<Double>(rows: 4, columns: n)
        ProbeDistribution.rademacher.fill(&start, using: &generator)
        for steps in [2, 4, 8, 16] {
            let runs = try Lanczos(steps: steps).decompose(op, start: start)
            for (p, run) in runs.enumerated() {
                var exact = 0.0
                for i in 0..<n {
                    var c = 0.0
                    for j in 0..<n { c += vectors[i, j] * start[p, j] }
                    exact += c * c * h(eigen.values[i])
                }
                let scale = run.startNorm * run.startNorm
                let gauss = scale * (try GaussQuadrature(run)).integrate(h)
                let radauRule = try #require(try GaussQuadrature.radau(run))
                let radau = scale * radauRule.integrate(h)
                let slack = 1e3 * Double(n) * .ulpOfOne * abs(exact)
                #expect(gauss >= exact - slack, "Gauss \(gauss) < exact \(exact) at \(steps) steps")
                #expect(radau <= exact + slack, "Radau \(radau) > exact \(exact) at \(steps) steps")
                // The prescribed node really is 0.
                #expect(abs(radauRule.nodes.first!) <= 1e-8 * values.max()!)
            }
        }
    }

    @Test func weightsSumToOneAndNodesAreRitzValues() throws {
        let rule = try GaussQuadrature(diagonal: [2, 3, 4], offDiagonal: [0.5, 0.25])
        #expect(abs(rule.weights.reduce(0, +) - 1) <= 10 * .ulpOfOne)
        // Exact for degree ≤ 2m − 1: ∫x dμ = α₁ and ∫x² dμ = α₁² + β₁².
        #expect(abs(rule.integrate { $0 } - 2) <= 1e-14)
        #expect(abs(rule.integrate { $0 * $0 } - (4 + 0.25)) <= 1e-13)
    }
}

import NTKEstimation
import NTKLinearAlgebra
import Testing

@Suite struct DensityAndEigenvalueTests {
    /// Two clusters: 60% of eigenvalues near 1, 40% near 4.
    static let values: [Double] = (0..<150).map { (i: Int) -> Double in
        let x = Double(i)
        return i < 90 ? 0.8 + 0.4 * x / 89 : 3.8 + 0.4 * (x - 90) / 59
    }

    @Test func kernelPolynomialDensityIntegratesToOneAndRecoversClusters() throws {
        let op = try Fixture.operatorWith(Self.values, seed: 5)
        let d = try KernelPolynomialMethod(moments: 64, probes: 16, seed: 2).estimate(op)
        // Rademacher probes: μ₀ = 1 exactly, so the Gauss–Chebyshev integral is 1 to rounding.
        #expect(abs(d.integral - 1) <= 1e-10)
        #expect(d.points == d.points.sorted())
        // Cluster masses within 0.1 (≈ 5 standard errors of a 16-probe Hutchinson fraction).
        #expect(abs(d.mass(in: -10...2.5) - 0.6) <= 0.1)
        #expect(abs(d.mass(in: 2.5...10) - 0.4) <= 0.1)
        // Little mass in the gap between the clusters.
        #expect(d.mass(in: 1.7...2.9) <= 0.05)
        #expect(d.cost.applications == 20 + 16 * 63)
    }

    @Test func smoothedLanczosDensityIntegratesToOneAndRecoversClusters() throws {
        let op = try Fixture.operatorWith(Self.values, seed: 5)
        let d = try SmoothedLanczosDensity(probes: 16, steps: 40, width: 0.1, seed: 3).estimate(op)
        #expect(abs(d.integral - 1) <= 1e-6)
        #expect(abs(d.mass(in: -10...2.5) - 0.6) <= 0.1)
        #expect(abs(d.mass(in: 2.5...10) - 0.4) <= 0.1)
    }

    @Test func topEigenvaluesWithResidualBounds() throws {
        var values = (0..<100).map { 1 / (1 + Double($0)) }
        values[0] = 50; values[1] = 30; values[2] = 20; values[3] = 10
        let op = try Fixture.operatorWith(values, seed: 6)
        let r = try TopEigenvalues(count: 4, steps: 30, seed: 1).compute(op)
        #expect(r.cost.applications == 30)
        for (theta, (lambda, residual)) in zip([50.0, 30, 20, 10], zip(r.values, r.residualNorms)) {
            #expect(residual <= 1e-6 * 50)
            #expect(abs(theta - lambda) <= residual + 1e-12 * 50)
        }
        // Ritz vectors are orthonormal and residuals are real: ‖A q − θ q‖ recomputed densely.
        let aq = try r.vectors.multiplied(by: op.matrix)
        for i in 0..<4 {
            var s = 0.0
            for j in 0..<100 { let d = aq[i, j] - r.values[i] * r.vectors[i, j]; s += d * d }
            #expect(abs(s.squareRoot() - r.residualNorms[i]) <= 1e-9 * 50)
        }
    }

    @Test func wrappersActAsTheirDefinitions() throws {
        let values: [Double] = [4, 3, 2, 1, 0.5, 0.25]
        let a = try Fixture.planted(values, seed: 8)
        let op = try DenseOperator(a)
        var generator = SeededGenerator(seed: 1)
        var x = Matrix<Double>(rows: 2, columns: 6)
        ProbeDistribution.gaussian.fill(&x, using: &generator)
        let ax = try x.multiplied(by: a)
        var y = Matrix<Double>(rows: 2, columns: 6)
        try ShiftedOperator(op, shift: 2).apply(x, into: &y)
        for i in y.storage.indices { #expect(abs(y.storage[i] - (ax.storage[i] + 2 * x.storage[i])) <= 1e-13 * 8) }
        try ScaledOperator(op, scale: -3).apply(x, into: &y)
        for i in y.storage.indices { #expect(abs(y.storage[i] + 3 * ax.storage[i]) <= 1e-13 * 12) }
        // Deflating the top two eigenvectors leaves the trace of the rest.
        let top = try TopEigenvalues(count: 2, steps: 6).compute(op)
        let deflated = try DeflatedOperator(op, basis: top.vectors)
        var identity = Matrix<Double>.identity(6)
        var image = Matrix<Double>(rows: 6, columns: 6)
        try deflated.apply(identity, into: &image)
        #expect(abs(image.trace - (2 + 1 + 0.5 + 0.25)) <= 1e-10)
        try deflated.project(&identity)
        #expect(abs(identity.trace - 4) <= 1e-10)
        #expect(throws: EstimationError.self) {
            try DeflatedOperator(op, basis: Matrix(rows: 1, columns: 6, repeating: 1))
        }
    }
}

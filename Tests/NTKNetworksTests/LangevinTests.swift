import Foundation
import NTKLinearAlgebra
import Testing

@testable import NTKNetworks

/// Langevin dynamics: the update rule, reproducibility and the stationary law of a quadratic.
@Suite struct LangevinTests {
    /// One step with T = 0 is gradient descent with weight decay: θ − η(g + γθ), exactly.
    @Test func zeroTemperatureIsGradientDescentWithWeightDecay() throws {
        var opt = Langevin<Double>(learningRate: 0.1, temperature: 0, weightDecay: 0.5, seed: 3)
        var theta = [1.0, -2.0, 0.25]
        let g = [0.5, 1.0, -4.0]
        try opt.step(parameters: &theta, gradient: g)
        let expected = [1.0 - 0.1 * (0.5 + 0.5), -2.0 - 0.1 * (1.0 - 1.0), 0.25 - 0.1 * (-4.0 + 0.125)]
        for (a, b) in zip(theta, expected) { #expect(abs(a - b) <= 4 * Double.ulpOfOne) }
    }

    /// A quadratic L = ½aθ² over many independent coordinates (P = 4000 copies of the same 1-D
    /// chain): after burn-in the sample variance matches the discrete chain's exact stationary
    /// variance T/((a+γ)(1 − η(a+γ)/2)) within 5 standard errors, and differs from the wrong
    /// temperature's. Std. error of a variance from N samples of a Gaussian: v·√(2/N) (the
    /// samples are independent across coordinates; we use one snapshot per coordinate and pool
    /// 10 snapshots 200 steps apart, which are nearly independent: the chain's correlation time
    /// is 1/(η(a+γ)) = 20 steps).
    @Test(arguments: [false, true])
    func quadraticStationaryVariance(float: Bool) throws {
        let a = 3.0, gamma = 2.0, eta = 0.01, temperature = 0.7, count = 4000
        let exact = temperature / ((a + gamma) * (1 - eta * (a + gamma) / 2))
        var samples: [Double] = []
        if float {
            samples = try Self.run(Float.self, a: a, gamma: gamma, eta: eta, temperature: temperature, count: count)
        } else {
            samples = try Self.run(Double.self, a: a, gamma: gamma, eta: eta, temperature: temperature, count: count)
        }
        let mean = samples.reduce(0, +) / Double(samples.count)
        let variance = samples.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(samples.count - 1)
        let standardError = exact * (2.0 / Double(samples.count)).squareRoot()
        #expect(abs(variance - exact) <= 5 * standardError, "variance \(variance) vs exact \(exact) ± \(standardError)")
        #expect(abs(mean) <= 5 * (exact / Double(samples.count)).squareRoot())
        // A chain at the wrong temperature (0.5 instead of 0.7) would be 30 % off: the test can fail.
        #expect(abs(variance - 0.5 / (a + gamma)) > 5 * standardError)
    }

    static func run<S: BLASScalar>(_: S.Type, a: Double, gamma: Double, eta: Double, temperature: Double, count: Int) throws -> [Double] {
        var opt = Langevin<S>(learningRate: eta, temperature: temperature, weightDecay: gamma, seed: 17)
        var theta = [S](repeating: 3, count: count)  // far from equilibrium: burn-in must forget it
        var gradient = [S](repeating: 0, count: count)
        var samples: [Double] = []
        for t in 1...3000 {
            for i in 0..<count { gradient[i] = S(a) * theta[i] }
            try opt.step(parameters: &theta, gradient: gradient)
            if t > 1000, t % 200 == 0 { samples += theta.map { Double($0) } }
        }
        return samples
    }

    /// Same seed, same chain; export/restore continues it bit for bit; reset restarts it.
    @Test func reproducibleAndResumable() throws {
        let g = [Double](repeating: 0.1, count: 7)
        var a = Langevin<Double>(learningRate: 0.05, temperature: 1, weightDecay: 0.1, seed: 9)
        var b = a
        var ta = [Double](repeating: 1, count: 7), tb = ta
        try a.step(parameters: &ta, gradient: g)
        try b.step(parameters: &tb, gradient: g)
        #expect(ta == tb)
        var c = Langevin<Double>(learningRate: 0.05, temperature: 1, weightDecay: 0.1, seed: 1)
        try c.restoreState(a.exportState())
        var tc = ta
        try a.step(parameters: &ta, gradient: g)
        try c.step(parameters: &tc, gradient: g)
        #expect(ta == tc && c.stepCount == 2)
        b.reset()
        var tr = [Double](repeating: 1, count: 7)
        try b.step(parameters: &tr, gradient: g)
        #expect(tr == tb)
        var bad = Langevin<Double>(learningRate: 0.05, temperature: -1)
        #expect(throws: TrainingError.self) { try bad.step(parameters: &tr, gradient: g) }
    }
}

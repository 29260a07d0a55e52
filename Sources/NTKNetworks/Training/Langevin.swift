import NTKLinearAlgebra

/// Langevin dynamics (noisy full-batch gradient descent with weight decay), the sampler of
/// Naveh, Ben-David, Sompolinsky & Ringel, "Predicting the outputs of finite deep neural
/// networks trained with noisy gradients" (arXiv:2004.01190), used by Seroussi, Naveh & Ringel
/// (arXiv:2112.15383) to draw networks from their posterior.
///
/// At each step, with gradient g = ∂L/∂θ, learning rate η, temperature T and weight decay γ:
///
///     θ ← θ − η (g + γ θ) + √(2ηT) ξ,      ξ ~ N(0, I_P)
///
/// In the small-η limit the stationary density is p(θ) ∝ exp(−(L(θ) + γ‖θ‖²/2)/T): for
/// L = Σᵢ ½(f(xᵢ) − yᵢ)² the Bayesian posterior of a network with the Gaussian prior
/// N(0, T/γ) per parameter and observation noise σ² = T. For a quadratic L = ½aθ² the exact
/// stationary variance of the discrete chain is T / ((a + γ)(1 − η(a + γ)/2)) (the continuous
/// limit T/(a + γ)).
///
/// The noise comes from a `SeededGenerator` seeded with `seed` (Box–Muller in Double, then
/// converted to `Scalar`), so a chain is reproducible; its state is part of `exportState()`.
/// - Complexity: O(P) per step, one P-element noise buffer (allocated on the first step).
public struct Langevin<Scalar: BLASScalar>: Optimizer {
    public var learningRate: Double
    /// T ≥ 0 (0 is plain gradient descent with weight decay).
    public var temperature: Double
    /// γ ≥ 0, the L2 weight decay (the prior precision times T).
    public var weightDecay: Double
    /// The seed the noise stream started from (kept across `reset()`).
    public let seed: UInt64
    public private(set) var stepCount: Int = 0
    private var generator: SeededGenerator
    private var noise: [Scalar] = []

    public init(learningRate: Double, temperature: Double, weightDecay: Double = 0, seed: UInt64 = 0) {
        self.learningRate = learningRate
        self.temperature = temperature
        self.weightDecay = weightDecay
        self.seed = seed
        self.generator = SeededGenerator(seed: seed)
    }

    public func validate() throws {
        try Self.check("learningRate", learningRate, learningRate >= 0, expected: "a finite value ≥ 0")
        try Self.check("temperature", temperature, temperature >= 0, expected: "a finite value ≥ 0")
        try Self.check("weightDecay", weightDecay, weightDecay >= 0, expected: "a finite value ≥ 0")
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public mutating func step(parameters: inout [Scalar], gradient: [Scalar]) throws {
        if stepCount == 0 { try validate() }
        try checkStep(parameters: parameters, gradient: gradient, stateCount: noise.count)
        if noise.isEmpty { noise = [Scalar](repeating: 0, count: parameters.count) }
        let scale = (2 * learningRate * temperature).squareRoot()
        // Box–Muller pairs in Double (both variates used), converted once.
        noise.withUnsafeMutableBufferPointer { z in
            var i = 0
            let n = z.count
            while i < n {
                let u1 = 1.0 - generator.nextUnit(), u2 = generator.nextUnit()
                let r = scale * (-2.0 * Double.log(u1)).squareRoot(), angle = 2.0 * Double.pi * u2
                z[i] = Scalar(r * Double.cos(angle))
                if i + 1 < n { z[i + 1] = Scalar(r * Double.sin(angle)) }
                i += 2
            }
        }
        let eta = Scalar(learningRate), gamma = Scalar(weightDecay)
        gradient.withUnsafeBufferPointer { g in
            noise.withUnsafeBufferPointer { z in
                parameters.withUnsafeMutableBufferPointer { theta in
                    for i in 0..<theta.count {
                        theta[i] = theta[i] - eta * (g[i] + gamma * theta[i]) + z[i]
                    }
                }
            }
        }
        stepCount += 1
    }

    /// Forgets the step count and restarts the noise stream from `seed`.
    public mutating func reset() {
        stepCount = 0
        noise = []
        generator = SeededGenerator(seed: seed)
    }

    /// "step" and the generator's four state words ("rng0"…"rng3", bit patterns as Int).
    public func exportState() -> OptimizerState<Scalar> {
        var counters = ["step": stepCount]
        for (k, word) in generator.state.enumerated() { counters["rng\(k)"] = Int(bitPattern: UInt(word)) }
        return OptimizerState(counters: counters)
    }

    public mutating func restoreState(_ state: OptimizerState<Scalar>) throws {
        try state.check(optimizer: "Langevin", arrays: [], counters: ["step", "rng0", "rng1", "rng2", "rng3"])
        let words = (0..<4).map { UInt64(UInt(bitPattern: state.counters["rng\($0)"] ?? 0)) }
        guard let restored = SeededGenerator(state: words) else {
            throw TrainingError.invalidOption(name: "Langevin state", value: "an all-zero generator state", expected: "a xoshiro256** state")
        }
        generator = restored
        stepCount = state.counters["step"] ?? 0
        noise = []
    }
}

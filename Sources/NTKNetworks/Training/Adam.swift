import NTKLinearAlgebra

/// Adam (Kingma & Ba 2015, arXiv:1412.6980) with PyTorch's `torch.optim.Adam` weight decay
/// (L2: λθ added to the gradient), or AdamW's decoupled weight decay (Loshchilov & Hutter 2019,
/// arXiv:1711.05101; PyTorch `torch.optim.AdamW`) when `decoupledWeightDecay` is true.
///
/// At step t = 1, 2, … with gradient gₜ, learning rate η, decay rates β₁, β₂, ε, weight decay λ:
///
///     θ ← θ (1 − η λ)                 (AdamW)      or   g ← gₜ + λ θ   (Adam, if λ ≠ 0)
///     m ← β₁ m + (1 − β₁) g,          v ← β₂ v + (1 − β₂) g²           (m₀ = v₀ = 0)
///     θ ← θ − η · (m / (1 − β₁ᵗ)) / (√(v / (1 − β₂ᵗ)) + ε)
///
/// Defaults (η = 10⁻³, β₁ = 0.9, β₂ = 0.999, ε = 10⁻⁸, λ = 0) are those of the paper and of
/// PyTorch's Adam (PyTorch's AdamW defaults to λ = 0.01; pass it explicitly). The bias
/// corrections are computed in Double.
///
/// - Complexity: O(P) per step, two P-element moment buffers (allocated on the first step).
public struct Adam<Scalar: BLASScalar>: Optimizer {
    public var learningRate: Double
    public var beta1: Double
    public var beta2: Double
    public var epsilon: Double
    public var weightDecay: Double
    public var decoupledWeightDecay: Bool
    public private(set) var stepCount: Int = 0
    /// First-moment estimate m (empty before the first step).
    public private(set) var firstMoment: [Scalar] = []
    /// Second-moment estimate v (empty before the first step).
    public private(set) var secondMoment: [Scalar] = []

    public init(
        learningRate: Double = 1e-3, beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8,
        weightDecay: Double = 0, decoupledWeightDecay: Bool = false
    ) {
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.decoupledWeightDecay = decoupledWeightDecay
    }

    public func validate() throws {
        try Self.check("learningRate", learningRate, learningRate >= 0, expected: "a finite value ≥ 0")
        try Self.check("beta1", beta1, beta1 >= 0 && beta1 < 1, expected: "a value in [0, 1)")
        try Self.check("beta2", beta2, beta2 >= 0 && beta2 < 1, expected: "a value in [0, 1)")
        try Self.check("epsilon", epsilon, epsilon >= 0, expected: "a finite value ≥ 0")
        try Self.check("weightDecay", weightDecay, weightDecay >= 0, expected: "a finite value ≥ 0")
    }

    // Pre-specialized: the trainer calls optimizers through the `Optimizer` protocol, and the
    // unspecialized loop took 24% of a demo profile (more than the NTK monitor).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public mutating func step(parameters: inout [Scalar], gradient: [Scalar]) throws {
        if stepCount == 0 { try validate() }
        try checkStep(parameters: parameters, gradient: gradient, stateCount: firstMoment.count)
        if firstMoment.isEmpty {
            firstMoment = [Scalar](repeating: 0, count: parameters.count)
            secondMoment = [Scalar](repeating: 0, count: parameters.count)
        }
        let t = Double(stepCount + 1)
        let correction1 = 1 - Double.pow(beta1, t)
        let correction2 = 1 - Double.pow(beta2, t)
        let stepSize = Scalar(learningRate / correction1)
        let inverseRootCorrection2 = Scalar(1 / correction2.squareRoot())
        let b1 = Scalar(beta1), b2 = Scalar(beta2), eps = Scalar(epsilon)
        let oneMinusB1 = Scalar(1 - beta1), oneMinusB2 = Scalar(1 - beta2)
        let lambda = Scalar(weightDecay)
        let coupled = weightDecay != 0 && !decoupledWeightDecay
        let shrinks = weightDecay != 0 && decoupledWeightDecay
        let shrink = Scalar(1 - learningRate * weightDecay)
        gradient.withUnsafeBufferPointer { g in
            firstMoment.withUnsafeMutableBufferPointer { m in
                secondMoment.withUnsafeMutableBufferPointer { v in
                    parameters.withUnsafeMutableBufferPointer { theta in
                        for i in 0..<theta.count {
                            if shrinks { theta[i] = theta[i] * shrink }
                            let d = coupled ? g[i] + lambda * theta[i] : g[i]
                            m[i] = b1 * m[i] + oneMinusB1 * d
                            v[i] = b2 * v[i] + oneMinusB2 * d * d
                            // PyTorch: denom = √v / √(1 − β₂ᵗ) + ε; θ −= η/(1 − β₁ᵗ) · m / denom.
                            let denominator = v[i].squareRoot() * inverseRootCorrection2 + eps
                            theta[i] = theta[i] - stepSize * m[i] / denominator
                        }
                    }
                }
            }
        }
        stepCount += 1
    }

    public mutating func reset() {
        stepCount = 0
        firstMoment = []
        secondMoment = []
    }

    /// "step" and, after the first step, "first_moment" and "second_moment".
    public func exportState() -> OptimizerState<Scalar> {
        OptimizerState(
            arrays: firstMoment.isEmpty ? [:] : ["first_moment": firstMoment, "second_moment": secondMoment],
            counters: ["step": stepCount])
    }

    public mutating func restoreState(_ state: OptimizerState<Scalar>) throws {
        let step = state.counters["step"] ?? 0
        try state.check(optimizer: "Adam", arrays: step > 0 ? ["first_moment", "second_moment"] : [], counters: ["step"])
        stepCount = step
        firstMoment = state.arrays["first_moment"] ?? []
        secondMoment = state.arrays["second_moment"] ?? []
    }
}

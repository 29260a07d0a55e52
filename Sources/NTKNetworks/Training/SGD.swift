import NTKLinearAlgebra

/// Stochastic gradient descent with optional momentum, Nesterov momentum and L2 weight decay,
/// following PyTorch's `torch.optim.SGD` exactly (Sutskever et al. 2013, "On the importance of
/// initialization and momentum in deep learning", ICML; PyTorch's momentum form).
///
/// At step t = 1, 2, … with gradient gₜ, learning rate η, momentum μ, dampening τ, weight
/// decay λ:
///
///     g  ← gₜ + λ θ                                  (if λ ≠ 0)
///     b  ← g  at t = 1,   b ← μ b + (1 − τ) g  after  (if μ ≠ 0)
///     g  ← g + μ b  (Nesterov)   or   g ← b          (if μ ≠ 0)
///     θ  ← θ − η g
///
/// Defaults are PyTorch's except the learning rate, which PyTorch requires explicitly.
///
/// - Complexity: O(P) per step, one P-element momentum buffer (allocated on the first step).
public struct SGD<Scalar: BLASScalar>: Optimizer {
    public var learningRate: Double
    public var momentum: Double
    public var dampening: Double
    public var weightDecay: Double
    public var nesterov: Bool
    public private(set) var stepCount: Int = 0
    /// The momentum buffer b (empty before the first step or without momentum).
    public private(set) var momentumBuffer: [Scalar] = []

    public init(learningRate: Double, momentum: Double = 0, dampening: Double = 0, weightDecay: Double = 0, nesterov: Bool = false) {
        self.learningRate = learningRate
        self.momentum = momentum
        self.dampening = dampening
        self.weightDecay = weightDecay
        self.nesterov = nesterov
    }

    public func validate() throws {
        try Self.check("learningRate", learningRate, learningRate >= 0, expected: "a finite value ≥ 0")
        try Self.check("momentum", momentum, momentum >= 0, expected: "a finite value ≥ 0")
        try Self.check("dampening", dampening, true, expected: "a finite value")
        try Self.check("weightDecay", weightDecay, weightDecay >= 0, expected: "a finite value ≥ 0")
        if nesterov, momentum <= 0 || dampening != 0 {
            throw TrainingError.invalidOption(
                name: "nesterov", value: "true (momentum \(momentum), dampening \(dampening))",
                expected: "momentum > 0 and dampening = 0 with Nesterov momentum (as in PyTorch)")
        }
    }

    // Pre-specialized: the trainer calls optimizers through the `Optimizer` protocol, and the
    // unspecialized loop took 24% of a demo profile (more than the NTK monitor).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public mutating func step(parameters: inout [Scalar], gradient: [Scalar]) throws {
        if stepCount == 0 { try validate() }
        try checkStep(parameters: parameters, gradient: gradient, stateCount: momentumBuffer.count)
        let eta = Scalar(learningRate), mu = Scalar(momentum), lambda = Scalar(weightDecay)
        let keep = Scalar(1 - dampening)
        let first = stepCount == 0
        let useMomentum = momentum != 0, useNesterov = nesterov, decay = weightDecay != 0
        if useMomentum, momentumBuffer.isEmpty {
            momentumBuffer = [Scalar](repeating: 0, count: parameters.count)
        }
        gradient.withUnsafeBufferPointer { g in
            momentumBuffer.withUnsafeMutableBufferPointer { b in
                parameters.withUnsafeMutableBufferPointer { theta in
                    for i in 0..<theta.count {
                        let d = decay ? g[i] + lambda * theta[i] : g[i]
                        if useMomentum {
                            b[i] = first ? d : mu * b[i] + keep * d
                            theta[i] = theta[i] - eta * (useNesterov ? d + mu * b[i] : b[i])
                        } else {
                            theta[i] = theta[i] - eta * d
                        }
                    }
                }
            }
        }
        stepCount += 1
    }

    public mutating func reset() {
        stepCount = 0
        momentumBuffer = []
    }

    /// "step" and, with momentum after the first step, "momentum_buffer".
    public func exportState() -> OptimizerState<Scalar> {
        OptimizerState(arrays: momentumBuffer.isEmpty ? [:] : ["momentum_buffer": momentumBuffer], counters: ["step": stepCount])
    }

    public mutating func restoreState(_ state: OptimizerState<Scalar>) throws {
        let step = state.counters["step"] ?? 0
        let needsBuffer = momentum != 0 && step > 0
        try state.check(optimizer: "SGD", arrays: needsBuffer ? ["momentum_buffer"] : [], counters: ["step"])
        stepCount = step
        momentumBuffer = state.arrays["momentum_buffer"] ?? []
    }
}

/// How weights are initialized and scaled in the forward pass.
///
/// - `standard`: PyTorch defaults. Linear and Conv2d weights and biases are drawn from
///   U(−1/√fan_in, 1/√fan_in) (`kaiming_uniform_(a=√5)` gives exactly this bound for the
///   weight; the bias rule is PyTorch's `reset_parameters`); LayerNorm gain 1, bias 0; the
///   forward uses the stored values.
/// - `ntk(weightScale: σ_w, biasScale: σ_b)`: the NTK parameterization of Jacot, Gabriel &
///   Hongler 2018 (arXiv:1806.07572): weights and biases are N(0, 1) and the forward uses
///   σ_w/√fan_in · W and σ_b · b. JVP and VJP are taken with respect to the stored (unscaled)
///   parameters. LayerNorm keeps gain 1, bias 0 and no scaling under both.
/// - `meanField(gamma0: γ₀, readout:)`: the mean-field (μP-type) parameterization with
///   feature-learning strength γ₀ of Bordelon & Pehlevan (arXiv:2205.09653, 2304.03408):
///   all parameters N(0, 1); hidden layers as `ntk(1, 1)` (h¹ = W¹x/√D, h^{l+1} =
///   W^{l+1}φ(h^l)/√N), and the readout — the model's last layer with parameters, which a
///   `ModelSpec` builds with `readout: true` — uses 1/(γ₀·fan_in) on its weight and
///   1/(γ₀·√fan_in) on its bias: f = (1/(γ₀N)) Σᵢ aᵢ φ(hᵢ) (+ b/(γ₀√N)).
///   Then f = O(1/(γ₀√N)) at initialization and the NTK K = Σ ∂f/∂θ ∂f/∂θᵀ is
///   O(1/(γ₀²N)): gradient descent with learning rate η = η₀γ₀²N moves f by O(η₀) per step
///   at every width, and K̂ = γ₀²N·K is the O(1) kernel of the theory (the dynamics read
///   ∂f/∂t = −η₀ K̂ ∂L/∂f). γ₀ → 0 is the lazy (kernel) limit; γ₀ = O(1) learns features at
///   every width, with kernel and prediction fluctuations O(1/√N) over initializations.
public enum Parameterization: Sendable, Hashable, Codable {
    case standard
    case ntk(weightScale: Double = 1, biasScale: Double = 1)
    case meanField(gamma0: Double, readout: Bool = false)

    /// Forward multipliers (c_w, c_b) of the stored weight and bias for a layer with `fanIn`.
    public func multipliers(fanIn: Int) -> (weight: Double, bias: Double) {
        let n = Double(max(fanIn, 1))
        switch self {
        case .standard:
            return (1, 1)
        case let .ntk(weightScale, biasScale):
            return (weightScale / n.squareRoot(), biasScale)
        case let .meanField(gamma0, readout):
            return readout ? (1 / (gamma0 * n), 1 / (gamma0 * n.squareRoot())) : (1 / n.squareRoot(), 1)
        }
    }

    /// The parameterization of a model's readout (last parameterized) layer: the mean-field
    /// readout for `meanField`, unchanged otherwise.
    public var readout: Parameterization {
        if case let .meanField(gamma0, _) = self { return .meanField(gamma0: gamma0, readout: true) }
        return self
    }

    /// γ₀ of the mean-field parameterization (nil otherwise).
    public var gamma0: Double? {
        if case let .meanField(gamma0, _) = self { return gamma0 }
        return nil
    }

    /// Fills a weight or bias tensor with its initial values.
    func initialize<Scalar: BLASScalar>(
        _ buffer: UnsafeMutableBufferPointer<Scalar>, fanIn: Int, using generator: inout SeededGenerator
    ) {
        switch self {
        case .standard:
            let bound = 1 / Double(max(fanIn, 1)).squareRoot()
            generator.fillUniform(buffer, low: -bound, high: bound)
        case .ntk, .meanField:
            generator.fillGaussian(buffer)
        }
    }
}

import NTKLinearAlgebra

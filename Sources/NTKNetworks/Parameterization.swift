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
public enum Parameterization: Sendable, Hashable, Codable {
    case standard
    case ntk(weightScale: Double = 1, biasScale: Double = 1)

    /// Forward multipliers (c_w, c_b) of the stored weight and bias for a layer with `fanIn`.
    public func multipliers(fanIn: Int) -> (weight: Double, bias: Double) {
        switch self {
        case .standard:
            return (1, 1)
        case let .ntk(weightScale, biasScale):
            return (weightScale / Double(max(fanIn, 1)).squareRoot(), biasScale)
        }
    }

    /// Fills a weight or bias tensor with its initial values.
    func initialize<Scalar: BLASScalar>(
        _ buffer: UnsafeMutableBufferPointer<Scalar>, fanIn: Int, using generator: inout SeededGenerator
    ) {
        switch self {
        case .standard:
            let bound = 1 / Double(max(fanIn, 1)).squareRoot()
            generator.fillUniform(buffer, low: -bound, high: bound)
        case .ntk:
            generator.fillGaussian(buffer)
        }
    }
}

import NTKLinearAlgebra

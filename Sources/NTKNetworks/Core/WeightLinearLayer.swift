import NTKLinearAlgebra

/// How a layer linear in its parameters produces its output from patches of its input:
///
///     y[o, p] = c_w Σ_e W[o, e] X_p[e](x) + c_b b[o],   o < O, p < L, e < E,
///
/// with the output stored channel-major ([O, L], as a convolution's [C, H, W]). Dense layers
/// are the case L = 1, X = x (E = in); a convolution's X is its im2col patch matrix [E, L].
public struct WeightLinearShape: Sendable, Hashable {
    /// O, E and L.
    public var channels: Int
    public var patchLength: Int
    public var positions: Int
    /// The parameterization's multipliers c_w and c_b (c_b = 0 without a bias).
    public var weightMultiplier: Double
    public var biasMultiplier: Double
    public var hasBias: Bool

    public init(channels: Int, patchLength: Int, positions: Int, weightMultiplier: Double, biasMultiplier: Double,
                hasBias: Bool) {
        self.channels = channels
        self.patchLength = patchLength
        self.positions = positions
        self.weightMultiplier = weightMultiplier
        self.biasMultiplier = hasBias ? biasMultiplier : 0
        self.hasBias = hasBias
    }

    /// Multiply–adds of one example's forward pass, O·E·L.
    public var multiplyAdds: Int { channels * patchLength * positions }
}

/// A layer whose output is linear in its parameters through a weight matrix acting on patches
/// of its input (`WeightLinearShape`). Its per-example parameter gradient is then
/// ∇_W f_c = c_w δ_{ic} X_iᵀ, ∇_b f_c = c_b δ_{ic} 1 (δ_{ic} = ∂f_c/∂y [O, L]), so everything
/// the structured NTK needs — block products from cached signals, the exact per-example
/// diagonal, the Gram factors of the exact kernel — follows from the layer's input and its
/// backprop signal alone (Novak, Sohl-Dickstein & Schoenholz 2022, arXiv:2206.08720). A layer
/// gains those rules by conforming here, in its own file; NTKSpectra reads nothing else.
public protocol WeightLinearLayer<Scalar>: Layer {
    /// The rule's shape, or nil when this configuration of the layer has none (e.g. a `Linear`
    /// applied token-wise, whose output is position-major).
    var weightLinearShape: WeightLinearShape? { get }
    /// Writes the patches X [E, L] (row-major) of one example's input.
    func patches(_ example: UnsafePointer<Scalar>, into patches: UnsafeMutablePointer<Scalar>)
}

extension Network {
    /// Layer `index` as a weight-linear layer with its shape, or nil.
    public func weightLinear(_ index: Int) -> (layer: any WeightLinearLayer<Scalar>, shape: WeightLinearShape)? {
        guard let layer = layers[index] as? any WeightLinearLayer<Scalar>, let shape = layer.weightLinearShape else {
            return nil
        }
        return (layer, shape)
    }
}

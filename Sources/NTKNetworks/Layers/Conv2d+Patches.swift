import NTKLinearAlgebra

extension Conv2d {
    /// Rows of one example's im2col matrix: C·kh·kw (the fan-in).
    public var patchLength: Int { patchSize }
    /// Columns of one example's im2col matrix: L = H_out·W_out output positions.
    public var outputPositions: Int { positions }

    /// Unfolds one [C, H, W] image into its patch matrix X [C·kh·kw, L] (row-major, zeros in
    /// the padding), so that the layer computes y = c_w W X + c_b b 1ᵀ with W as [O, C·kh·kw]
    /// and ∂y/∂W applied to a cotangent δ [O, L] is c_w δ Xᵀ.
    /// - Complexity: C·kh·kw·L copies.
    public func unfold(_ image: UnsafePointer<Scalar>, into patches: UnsafeMutablePointer<Scalar>) {
        im2col(image, into: patches, leadingDimension: positions)
    }
}

extension Conv2d: WeightLinearLayer {
    /// O = out channels, E = C·kh·kw, L = H_out·W_out; patches by `unfold` (im2col).
    public var weightLinearShape: WeightLinearShape? {
        let m = parameterization.multipliers(fanIn: patchLength)
        return WeightLinearShape(channels: outChannels, patchLength: patchLength, positions: outputPositions,
                                 weightMultiplier: m.weight, biasMultiplier: m.bias, hasBias: hasBias)
    }

    public func patches(_ example: UnsafePointer<Scalar>, into patches: UnsafeMutablePointer<Scalar>) {
        unfold(example, into: patches)
    }
}

/// An estimated spectral density φ(λ) = (1/N) Σ_i δ(λ − λ_i), smoothed, on a set of points,
/// with quadrature weights so that Σ_j weights[j]·values[j] approximates ∫φ = 1.
public struct SpectralDensity: Sendable {
    /// Points λ_j, ascending.
    public var points: [Double]
    /// φ(λ_j).
    public var values: [Double]
    /// Quadrature weights for ∫ · dλ on `points`.
    public var weights: [Double]
    public var cost: OperatorCost

    /// ∫ φ over the points (≈ 1).
    public var integral: Double { zip(values, weights).reduce(0) { $0 + $1.0 * $1.1 } }

    /// ∫ φ over the points inside `range`: the fraction of eigenvalues there.
    public func mass(in range: ClosedRange<Double>) -> Double {
        var sum = 0.0
        for j in points.indices where range.contains(points[j]) { sum += values[j] * weights[j] }
        return sum
    }
}

import NTKLinearAlgebra

/// The nonlinearities, with PyTorch's definitions.
public enum ActivationFunction: String, Sendable, Hashable, Codable, CaseIterable {
    /// φ(x) = x.
    case identity
    /// φ(x) = tanh x.
    case tanh
    /// φ(x) = max(x, 0); φ'(0) = 0 as in PyTorch.
    case relu
    /// Exact GELU (Hendrycks & Gimpel 2016, arXiv:1606.08415; PyTorch default,
    /// `approximate='none'`): φ(x) = x·Φ(x) = ½x(1 + erf(x/√2)), φ'(x) = Φ(x) + x·ϕ(x).
    case gelu
    /// φ(x) = 1/(1 + e^(−x)).
    case sigmoid
    /// PyTorch `Softplus(beta=1, threshold=20)`: log(1 + eˣ), and x itself for x > 20
    /// (derivative the logistic function, and 1 above the threshold, as PyTorch's backward).
    case softplus
    /// φ(x) = erf x.
    case erf
    /// φ(x) = sin x.
    case sine

    /// (φ(x), φ'(x)).
    @inlinable
    public func valueAndDerivative<Scalar: BLASScalar>(_ x: Scalar) -> (Scalar, Scalar) {
        switch self {
        case .identity:
            return (x, 1)
        case .tanh:
            let y = Scalar.tanh(x)
            return (y, 1 - y * y)
        case .relu:
            return x > 0 ? (x, 1) : (0, 0)
        case .gelu:
            let cdf = (1 + Scalar.erf(x / Scalar.sqrt(2))) / 2
            let pdf = Scalar.exp(-x * x / 2) / Scalar.sqrt(2 * Scalar.pi)
            return (x * cdf, cdf + x * pdf)
        case .sigmoid:
            let y: Scalar = Self.logistic(x)
            return (y, y * (1 - y))
        case .softplus:
            if x > 20 { return (x, 1) }
            return (Scalar.log(onePlus: Scalar.exp(x)), Self.logistic(x))
        case .erf:
            return (Scalar.erf(x), 2 / Scalar.sqrt(Scalar.pi) * Scalar.exp(-x * x))
        case .sine:
            return (Scalar.sin(x), Scalar.cos(x))
        }
    }

    @inlinable
    static func logistic<Scalar: BLASScalar>(_ x: Scalar) -> Scalar {
        if x >= 0 { return 1 / (1 + Scalar.exp(-x)) }
        let e = Scalar.exp(x)
        return e / (1 + e)
    }
}

/// A scalar function f applied to a symmetric operator through its spectrum,
/// tr f(A) = Σ_i f(λ_i). Functions used on PSD operators should satisfy f(0) = 0 when nodes
/// below the clipping threshold are mapped to 0 (all the built-ins do).
public struct SpectralFunction: Sendable {
    public var name: String
    public var evaluate: @Sendable (Double) -> Double

    public init(name: String, _ evaluate: @escaping @Sendable (Double) -> Double) {
        self.name = name
        self.evaluate = evaluate
    }

    /// f(x) = x (tr A).
    public static let identity = SpectralFunction(name: "x") { $0 }
    /// f(x) = x² (tr A² = ‖A‖²_F).
    public static let square = SpectralFunction(name: "x^2") { $0 * $0 }
    /// f(x) = x log x with 0 log 0 = 0 (and 0 for x ≤ 0, round-off below the clip threshold).
    public static let xLogX = SpectralFunction(name: "x log x") { x in x > 0 ? x * Double.log(x) : 0 }
    /// h(x) = −x log x, the entropy density.
    public static let negativeXLogX = SpectralFunction(name: "-x log x") { x in x > 0 ? -x * Double.log(x) : 0 }
    /// f(x) = 1{x > t}: counts eigenvalues above t.
    public static func indicatorAbove(_ threshold: Double) -> SpectralFunction {
        SpectralFunction(name: "1{x > \(threshold)}") { $0 > threshold ? 1 : 0 }
    }
}

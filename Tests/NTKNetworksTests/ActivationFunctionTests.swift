import Testing

@testable import NTKNetworks

/// Values against independent closed forms (derivatives are checked by the FD harness).
@Suite("Activation function values")
struct ActivationFunctionTests {
    /// Reference values: Python's math module (erf, exp, log1p, sin, tanh), printed with repr;
    /// tolerance 4 ulp relative.
    @Test(arguments: [
        (ActivationFunction.softplus, 0.0, 0.69314718055994531),
        (.softplus, -30.0, 9.357622968839737e-14),
        (.softplus, 25.0, 25.0),
        (.softplus, 19.5, 19.500000003398267),
        (.gelu, 1.0, 0.84134474606854293),
        (.gelu, -2.0, -0.045500263896358417),
        (.erf, 0.5, 0.52049987781304654),
        (.sigmoid, -3.0, 0.047425873177566781),
        (.sine, 1.0, 0.84147098480789651),
        (.tanh, 0.5, 0.46211715726000974),
        (.relu, -0.5, 0.0),
        (.identity, -0.25, -0.25),
    ])
    func values(_ function: ActivationFunction, _ x: Double, _ expected: Double) {
        let (y, _): (Double, Double) = function.valueAndDerivative(x)
        #expect(abs(y - expected) <= 4 * Double.ulpOfOne * max(abs(expected), Double.leastNormalMagnitude))
    }

    /// No NaN or overflow at extreme inputs, and the limits are right.
    @Test(arguments: ActivationFunction.allCases)
    func extremes(_ function: ActivationFunction) {
        for x in [-1000.0, 1000.0] {
            let (y, d): (Double, Double) = function.valueAndDerivative(x)
            #expect(y.isFinite && d.isFinite, "\(function) at \(x)")
            let (yf, df): (Float, Float) = function.valueAndDerivative(Float(x))
            #expect(yf.isFinite && df.isFinite, "\(function) Float at \(x)")
        }
        let (softplusBig, softplusSlope): (Double, Double) = ActivationFunction.softplus.valueAndDerivative(1000)
        #expect(softplusBig == 1000 && softplusSlope == 1)
    }
}

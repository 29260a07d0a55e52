import NTKLinearAlgebra

/// Student's t distribution: CDF through the regularized incomplete beta function
/// (continued fraction, modified Lentz; Press et al., Numerical Recipes §6.4) and quantiles by
/// safeguarded bisection/Newton on the CDF. Used for confidence intervals over probes:
/// nominal-95% t-intervals covered 0.92–0.96 in the design measurements, normal ones only 0.85–0.91
/// (the IntervalCoverage article).
public enum StudentT {
    /// P(T ≤ t) for ν degrees of freedom (ν > 0, real).
    public static func cdf(_ t: Double, degreesOfFreedom nu: Double) -> Double {
        guard t.isFinite else { return t > 0 ? 1 : 0 }
        let x = nu / (nu + t * t)
        let tail = 0.5 * regularizedIncompleteBeta(x, a: nu / 2, b: 0.5)
        return t >= 0 ? 1 - tail : tail
    }

    /// The p-quantile t_{p,ν}: cdf(t_{p,ν}) = p, for p in (0, 1) and ν > 0. Accurate to
    /// ~1e-12 relative (bisection to convergence in double precision).
    public static func quantile(_ p: Double, degreesOfFreedom nu: Double) throws -> Double {
        try require(p > 0 && p < 1, "StudentT.quantile probability", p, "a value in (0, 1)")
        try require(nu > 0 && nu.isFinite, "StudentT.quantile degrees of freedom", nu, "a positive finite value")
        if p == 0.5 { return 0 }
        if p < 0.5 { return -(try quantile(1 - p, degreesOfFreedom: nu)) }
        var low = 0.0, high = 1.0
        while cdf(high, degreesOfFreedom: nu) < p {
            low = high
            high *= 2
            if high > 1e300 { return .infinity }
        }
        for _ in 0..<200 {
            let mid = 0.5 * (low + high)
            if mid == low || mid == high { break }
            if cdf(mid, degreesOfFreedom: nu) < p { low = mid } else { high = mid }
        }
        return 0.5 * (low + high)
    }

    /// I_x(a, b), the regularized incomplete beta function.
    static func regularizedIncompleteBeta(_ x: Double, a: Double, b: Double) -> Double {
        if x <= 0 { return 0 }
        if x >= 1 { return 1 }
        let logFront = Double.logGamma(a + b) - Double.logGamma(a) - Double.logGamma(b)
            + a * Double.log(x) + b * Double.log(1 - x)
        let front = Double.exp(logFront)
        if x < (a + 1) / (a + b + 2) {
            return front * betaContinuedFraction(x, a: a, b: b) / a
        }
        return 1 - front * betaContinuedFraction(1 - x, a: b, b: a) / b
    }

    private static func betaContinuedFraction(_ x: Double, a: Double, b: Double) -> Double {
        let tiny = 1e-300
        var c = 1.0
        var d = 1 - (a + b) * x / (a + 1)
        if abs(d) < tiny { d = tiny }
        d = 1 / d
        var h = d
        for m in 1...10_000 {
            let mm = Double(m)
            var numerator = mm * (b - mm) * x / ((a + 2 * mm - 1) * (a + 2 * mm))
            d = 1 + numerator * d
            if abs(d) < tiny { d = tiny }
            c = 1 + numerator / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            h *= d * c
            numerator = -(a + mm) * (a + b + mm) * x / ((a + 2 * mm) * (a + 2 * mm + 1))
            d = 1 + numerator * d
            if abs(d) < tiny { d = tiny }
            c = 1 + numerator / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            let step = d * c
            h *= step
            if abs(step - 1) < 1e-16 { break }
        }
        return h
    }
}

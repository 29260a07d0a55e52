import NTKLinearAlgebra

/// A stochastic estimate with its error bar and its cost.
///
/// The interval is value ± t_{(1+c)/2, n−1} · standardError (Student t over the n probes);
/// `biasBound`, when present, is a deterministic bound on the quadrature bias, to be read
/// beside the statistical error (it is not included in the interval).
public struct MonteCarloEstimate: Sendable, Hashable, CustomStringConvertible {
    public var value: Double
    /// Standard error of the mean (infinite with fewer than two probes; 0 when exact).
    public var standardError: Double
    public var confidenceLevel: Double
    public var lower: Double
    public var upper: Double
    /// Number of probes (independent samples) averaged; 0 for an exact value.
    public var sampleCount: Int
    /// Mean Lanczos depth per probe (0 when no Lanczos was run).
    public var lanczosDepth: Double
    /// Operator applications spent (matrix–vector products).
    public var applications: Int
    public var seconds: Double
    /// Deterministic bound on |quadrature bias|, when available.
    public var biasBound: Double?

    public init(value: Double, standardError: Double, confidenceLevel: Double, lower: Double, upper: Double,
                sampleCount: Int, lanczosDepth: Double, applications: Int, seconds: Double,
                biasBound: Double? = nil) {
        self.value = value
        self.standardError = standardError
        self.confidenceLevel = confidenceLevel
        self.lower = lower
        self.upper = upper
        self.sampleCount = sampleCount
        self.lanczosDepth = lanczosDepth
        self.applications = applications
        self.seconds = seconds
        self.biasBound = biasBound
    }

    /// An exact value (no sampling error).
    public static func exact(_ value: Double, confidenceLevel: Double = 0.95, applications: Int = 0,
                             seconds: Double = 0) -> MonteCarloEstimate {
        MonteCarloEstimate(value: value, standardError: 0, confidenceLevel: confidenceLevel, lower: value,
                           upper: value, sampleCount: 0, lanczosDepth: 0, applications: applications,
                           seconds: seconds)
    }

    /// The mean of `samples` plus `offset`, with its Student-t interval.
    public static func fromSamples(_ samples: [Double], offset: Double = 0, confidenceLevel: Double,
                                   lanczosDepth: Double = 0, applications: Int = 0, seconds: Double = 0,
                                   biasBound: Double? = nil) throws -> MonteCarloEstimate {
        try require(confidenceLevel > 0 && confidenceLevel < 1, "confidence level", confidenceLevel,
                    "a value in (0, 1)")
        let n = samples.count
        let mean = n > 0 ? samples.reduce(0, +) / Double(n) : 0
        var standardError = Double.infinity
        var halfWidth = Double.infinity
        if n >= 2 {
            var sum = 0.0
            for x in samples { sum += (x - mean) * (x - mean) }
            standardError = (sum / Double(n - 1) / Double(n)).squareRoot()
            let t = try StudentT.quantile((1 + confidenceLevel) / 2, degreesOfFreedom: Double(n - 1))
            halfWidth = t * standardError
        }
        let value = offset + mean
        return MonteCarloEstimate(value: value, standardError: standardError, confidenceLevel: confidenceLevel,
                                  lower: value - halfWidth, upper: value + halfWidth, sampleCount: n,
                                  lanczosDepth: lanczosDepth, applications: applications, seconds: seconds,
                                  biasBound: biasBound)
    }

    /// Half-width of the confidence interval.
    public var halfWidth: Double { (upper - lower) / 2 }
    /// Half-width relative to |value|.
    public var relativeHalfWidth: Double { value == 0 ? .infinity : halfWidth / abs(value) }

    public var description: String {
        var s = "\(value) ± \(halfWidth) (\(Int((confidenceLevel * 100).rounded()))%, n = \(sampleCount), "
        s += "\(applications) applications"
        if let biasBound { s += ", bias ≤ \(biasBound)" }
        return s + ")"
    }
}

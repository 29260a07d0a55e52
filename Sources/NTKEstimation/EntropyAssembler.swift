import NTKLinearAlgebra

/// The complement's per-probe samples (step 2 of `SpectralEstimator`): for probe l, t_l = zᵀAz,
/// q_l = zᵀA²z, u_l = zᵀ(A log A)z as the midpoint of its Gauss / Gauss–Radau bracket, the
/// bracket's half-width, the Lanczos depth reached and the quadrature weight clipped to 0.
struct ComplementSamples {
    var t: [Double] = []
    var q: [Double] = []
    var u: [Double] = []
    var widths: [Double] = []
    var depths: [Int] = []
    var clipped: [Double] = []

    var count: Int { depths.count }

    /// Adds the probes of one SLQ round; Ritz values below `threshold` count as 0.
    mutating func append(_ round: SLQRound, threshold: Double) throws {
        for probe in round.probes {
            t.append(probe.sample(.identity, clipBelow: -Double.infinity))
            q.append(probe.sample(.square, clipBelow: threshold))
            // Midpoint of the per-probe bracket Radau ≤ zᵀh(A)z ≤ Gauss for h = −x log x;
            // its bias is at most half the bracket width.
            let gaussH = probe.sample(.negativeXLogX, clipBelow: threshold)
            if let radauH = try probe.radauSample(.negativeXLogX, clipBelow: threshold) {
                u.append(-(gaussH + radauH) / 2)
                widths.append(max(0, gaussH - radauH) / 2)
            } else {
                u.append(-gaussH)
                widths.append(.infinity)
            }
            depths.append(probe.result.depth)
            clipped.append(probe.clippedWeight(below: threshold))
        }
    }
}

/// Step 3 of `SpectralEstimator`: the entropy and its companions from the deflated part (exact:
/// Σ f(θ_i) over the deflated Ritz values) plus the complement's samples.
///
/// S = log T − U/T with U = tr(A log A). One error bar by the delta method over the probes
/// (linearized samples (1/T + U/T²)·t_l − u_l/T), or, with the exact trace, the interval of U
/// mapped affinely — U then from the control-variate regression on the trace samples once
/// `SpectralEstimator.controlVariateMinimumProbes` probes exist. The mean bracket half-width / T
/// is the entropy's deterministic `biasBound`. Effective rank exp(S) and participation ratio
/// T²/tr(A²) by the same delta method.
struct EntropyAssembler {
    var confidence: Double
    /// The exact trace, when known (then T is not sampled).
    var traceHint: Double?
    /// The deflated Ritz values.
    var deflated: [Double]
    var topValues: [Double]
    var topResiduals: [Double]
    var dimension: Int

    /// The regression (control-variate) estimator of E[y] given samples x_l with known mean
    /// μ_x (Glasserman 2004, Monte Carlo Methods in Financial Engineering, §4.1.1):
    /// ŷ = ȳ − ĉ(x̄ − μ_x), ĉ = Σ(x−x̄)(y−ȳ)/Σ(x−x̄)², with the regression prediction variance
    /// s²(1/n + (x̄ − μ_x)²/Σ(x−x̄)²), s² the residual variance on n − 2 degrees of freedom, and a
    /// Student-t interval on n − 2 degrees of freedom. Returns nil when var(x) = 0 or n < 3.
    static func controlVariate(_ y: [Double], control x: [Double], controlMean mu: Double,
                               confidenceLevel: Double) throws
        -> (value: Double, standardError: Double, lower: Double, upper: Double)?
    {
        let n = Double(y.count)
        guard y.count >= 3, x.count == y.count else { return nil }
        let xMean = x.reduce(0, +) / n, yMean = y.reduce(0, +) / n
        var sxx = 0.0, sxy = 0.0
        for (xi, yi) in zip(x, y) {
            sxx += (xi - xMean) * (xi - xMean)
            sxy += (xi - xMean) * (yi - yMean)
        }
        guard sxx > 0 else { return nil }
        let coefficient = sxy / sxx
        var residual = 0.0
        for (xi, yi) in zip(x, y) {
            let r = yi - yMean - coefficient * (xi - xMean)
            residual += r * r
        }
        let s2 = residual / (n - 2)
        let standardError = (s2 * (1 / n + (xMean - mu) * (xMean - mu) / sxx)).squareRoot()
        let value = yMean - coefficient * (xMean - mu)
        let quantile = try StudentT.quantile((1 + confidenceLevel) / 2, degreesOfFreedom: n - 2)
        return (value, standardError, value - quantile * standardError, value + quantile * standardError)
    }

    /// The report from the complement's samples so far: cost and seconds as of now.
    func report(_ samples: ComplementSamples, cost: OperatorCost, seconds: Double) throws -> SpectralReport {
        let (t, q, u, widths, depths, clipped) = (samples.t, samples.q, samples.u, samples.widths, samples.depths,
                                                  samples.clipped)
        let deflatedTrace = deflated.reduce(0, +)
        let deflatedSquare = deflated.reduce(0) { $0 + $1 * $1 }
        let deflatedXLogX = deflated.reduce(0) { $0 + SpectralFunction.xLogX.evaluate($1) }
        let deflationRank = deflated.count
        let c = confidence
        let count = Double(t.count)
        let depth = Double(depths.reduce(0, +)) / count
        let apps = cost.applications
        func mean(_ x: [Double]) -> Double { x.reduce(0, +) / Double(x.count) }
        let trace: MonteCarloEstimate = try traceHint.map {
            .exact($0, confidenceLevel: c, applications: apps, seconds: seconds)
        } ?? .fromSamples(t, offset: deflatedTrace, confidenceLevel: c, lanczosDepth: depth,
                          applications: apps, seconds: seconds)
        let bigT = trace.value
        guard bigT > 0 else {
            throw EstimationError.invalidConfiguration(
                name: "estimated trace", value: "\(bigT)", expected: "a positive trace (is the operator PSD and nonzero?)")
        }
        let exact = traceHint != nil
        let meanWidth = mean(widths)
        let xLogX: MonteCarloEstimate
        if let traceHint, t.count >= SpectralEstimator.controlVariateMinimumProbes,
           let regression = try Self.controlVariate(
               u, control: t, controlMean: traceHint - deflatedTrace, confidenceLevel: c)
        {
            xLogX = MonteCarloEstimate(
                value: deflatedXLogX + regression.value, standardError: regression.standardError,
                confidenceLevel: c, lower: deflatedXLogX + regression.lower, upper: deflatedXLogX + regression.upper,
                sampleCount: t.count, lanczosDepth: depth, applications: apps, seconds: seconds, biasBound: meanWidth)
        } else {
            xLogX = try .fromSamples(u, offset: deflatedXLogX, confidenceLevel: c, lanczosDepth: depth,
                                     applications: apps, seconds: seconds, biasBound: meanWidth)
        }
        let square = try MonteCarloEstimate.fromSamples(q, offset: deflatedSquare, confidenceLevel: c,
                                                        lanczosDepth: depth, applications: apps, seconds: seconds)
        let bigU = xLogX.value, bigQ = square.value
        let entropyValue = Double.log(bigT) - bigU / bigT
        let entropy: MonteCarloEstimate
        if exact {
            // S is affine in U: map the interval of U.
            entropy = MonteCarloEstimate(
                value: entropyValue, standardError: xLogX.standardError / bigT, confidenceLevel: c,
                lower: Double.log(bigT) - xLogX.upper / bigT, upper: Double.log(bigT) - xLogX.lower / bigT,
                sampleCount: t.count, lanczosDepth: depth, applications: apps, seconds: seconds,
                biasBound: meanWidth / bigT)
        } else {
            // Delta method: linearized per-probe samples, shifted so that their mean is the value.
            let dT = 1 / bigT + bigU / (bigT * bigT)
            let entropyLinear = zip(t, u).map { dT * $0.0 - $0.1 / bigT }
            entropy = try MonteCarloEstimate.fromSamples(
                entropyLinear, offset: entropyValue - mean(entropyLinear), confidenceLevel: c, lanczosDepth: depth,
                applications: apps, seconds: seconds, biasBound: meanWidth / bigT)
        }
        var effectiveRank = entropy
        effectiveRank.value = Double.exp(entropy.value)
        effectiveRank.standardError = effectiveRank.value * entropy.standardError
        effectiveRank.lower = Double.exp(entropy.lower)
        effectiveRank.upper = Double.exp(entropy.upper)
        effectiveRank.biasBound = entropy.biasBound.map { effectiveRank.value * (Double.exp($0) - 1) }
        let prValue = bigT * bigT / bigQ
        let prT = exact ? 0 : 2 * bigT / bigQ
        let prQ = -bigT * bigT / (bigQ * bigQ)
        let prLinear = zip(t, q).map { prT * $0.0 + prQ * $0.1 }
        let participation = try MonteCarloEstimate.fromSamples(
            prLinear, offset: prValue - mean(prLinear), confidenceLevel: c, lanczosDepth: depth,
            applications: apps, seconds: seconds)
        return SpectralReport(
            trace: trace, entropy: entropy, effectiveRank: effectiveRank, participationRatio: participation,
            traceOfSquare: square, traceXLogX: xLogX, topEigenvalues: topValues, topResidualNorms: topResiduals,
            deflationRank: deflationRank, deflatedTraceShare: deflatedTrace / bigT, clippedMass: mean(clipped),
            probes: t.count, lanczosDepth: depth, traceWasExact: exact, dimension: dimension, cost: cost,
            seconds: seconds)
    }
}

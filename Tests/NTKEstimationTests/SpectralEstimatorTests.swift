import NTKEstimation
import NTKLinearAlgebra
import Testing

@Suite struct SpectralEstimatorTests {
    static let values = Fixture.ntkLike(n: 160, outliers: 6, zeros: 20)

    func config(deflation: Bool, seed: UInt64 = 1) -> SpectralEstimator.Configuration {
        var c = SpectralEstimator.Configuration()
        c.deflation = deflation
        c.rtol = 0.01
        c.maxProbes = 200
        c.seed = seed
        c.lanczosSteps = 30
        c.deflationSteps = 40
        return c
    }

    @Test func plainEntropyMatchesTheDenseSpectrum() throws {
        let op = try Fixture.operatorWith(Self.values)
        let exactS = Fixture.entropy(Self.values)
        let exactT = Fixture.trace(Self.values) { $0 }
        let r = try SpectralEstimator(config(deflation: false)).estimate(op)
        #expect(r.deflationRank == 0)
        #expect(abs(r.entropy.value - exactS) <= 4 * r.entropy.standardError + r.entropy.biasBound!)
        #expect(abs(r.trace.value - exactT) <= 4 * r.trace.standardError)
        #expect(r.entropy.relativeHalfWidth <= 0.01 || r.probes == 200)
        let pr = exactT * exactT / Fixture.trace(Self.values) { $0 * $0 }
        #expect(abs(r.participationRatio.value - pr) <= 4 * r.participationRatio.standardError)
    }

    @Test func deflatedEntropyIsAccurateAndCheaper() throws {
        let op = try Fixture.operatorWith(Self.values)
        let exactS = Fixture.entropy(Self.values)
        let exactT = Fixture.trace(Self.values) { $0 }
        let plain = try SpectralEstimator(config(deflation: false)).estimate(op)
        let deflated = try SpectralEstimator(config(deflation: true)).estimate(op)
        #expect(deflated.deflationRank >= 6)
        #expect(deflated.deflatedTraceShare > 0.3)
        #expect(abs(deflated.entropy.value - exactS) <= 4 * deflated.entropy.standardError + deflated.entropy.biasBound!)
        #expect(abs(deflated.trace.value - exactT) <= 4 * deflated.trace.standardError)
        #expect(deflated.entropy.relativeHalfWidth <= 0.01)
        // Deflation is the point: same tolerance, fewer applications.
        #expect(deflated.applications < plain.applications,
                "deflated \(deflated.applications) vs plain \(plain.applications)")
        // Top eigenvalues reported with residual bounds.
        let sorted = Self.values.sorted(by: >)
        for (i, theta) in deflated.topEigenvalues.prefix(6).enumerated() {
            #expect(abs(theta - sorted[i]) <= deflated.topResidualNorms[i] + 1e-9 * sorted[0])
        }
    }

    @Test func exactTraceHintIsUsed() throws {
        let op = try Fixture.operatorWith(Self.values)
        let exactT = Fixture.trace(Self.values) { $0 }
        let r = try SpectralEstimator(config(deflation: true, seed: 3)).estimate(op, traceHint: exactT)
        #expect(r.traceWasExact)
        #expect(r.trace.value == exactT && r.trace.standardError == 0)
        let exactS = Fixture.entropy(Self.values)
        #expect(abs(r.entropy.value - exactS) <= 4 * r.entropy.standardError + r.entropy.biasBound!)
        #expect(abs(r.effectiveRank.value - Double.exp(exactS)) <= 4 * r.effectiveRank.standardError + 0.01 * r.effectiveRank.value)
    }

    /// Nominal-95% intervals of deflated entropy over 40 seeds with only 4 probes each must
    /// cover the truth at least 34 times (NUMERICS.md measured 0.94–0.96).
    @Test func deflatedEntropyIntervalsCover() throws {
        let op = try Fixture.operatorWith(Self.values)
        let exactS = Fixture.entropy(Self.values)
        var covered = 0
        for seed in 0..<40 {
            var c = config(deflation: true, seed: UInt64(1000 + seed))
            c.maxProbes = 4
            c.topK = 0
            c.deflationProbes = 1
            let r = try SpectralEstimator(c).estimate(op)
            let slack = r.entropy.biasBound ?? 0
            if r.entropy.lower - slack <= exactS && exactS <= r.entropy.upper + slack { covered += 1 }
        }
        #expect(covered >= 34, "covered \(covered) of 40")
    }

    @Test func budgetAndBadConfigurations() throws {
        let op = try Fixture.operatorWith(Self.values)
        var c = config(deflation: true)
        c.maxApplications = 200
        let r = try SpectralEstimator(c).estimate(op)
        #expect(r.applications <= 200)
        c.maxApplications = 10  // pilot alone exceeds it
        #expect(throws: EstimationError.self) { try SpectralEstimator(c).estimate(op) }
        c = config(deflation: true)
        c.rtol = -1
        #expect(throws: EstimationError.self) { try SpectralEstimator(c).estimate(op) }
        #expect(throws: EstimationError.self) { try SpectralEstimator().estimate(op, traceHint: -2) }
        // A zero operator has no trace-normalized spectrum: a typed error, not a crash or NaN.
        let zero = try DenseOperator(Matrix(rows: 10, columns: 10))
        #expect(throws: EstimationError.self) { try SpectralEstimator().estimate(zero) }
    }
}

@Suite struct SpectralEstimatorEdgeTests {
    /// N = 20 < deflationSteps: the pilot exhausts the Krylov space, every pair is exact and
    /// deflated, the complement is empty, and S is exact to rounding.
    @Test func exhaustedPilotGivesTheExactAnswer() throws {
        let values: [Double] = (0..<20).map { Double(20 - $0) / 4 }
        let op = try Fixture.operatorWith(values, seed: 13)
        var c = SpectralEstimator.Configuration()
        c.deflationProbes = 1
        let r = try SpectralEstimator(c).estimate(op)
        #expect(r.deflationRank == 20)
        #expect(abs(r.entropy.value - Fixture.entropy(values)) <= 1e-9)
        #expect(abs(r.trace.value - values.reduce(0, +)) <= 1e-9)
        #expect(abs(r.normalizedEntropy - Fixture.entropy(values) / Double.log(20)) <= 1e-9)
    }

    /// The quadrature bias bound is finite and small next to the statistical error target.
    @Test func biasBoundIsReportedAndSmall() throws {
        let values = Fixture.ntkLike(n: 160, outliers: 6, zeros: 20)
        let op = try Fixture.operatorWith(values)
        for deflation in [false, true] {
            var c = SpectralEstimator.Configuration()
            c.deflation = deflation
            c.maxProbes = 16
            let r = try SpectralEstimator(c).estimate(op)
            let bound = try #require(r.entropy.biasBound)
            #expect(bound.isFinite && bound >= 0)
            // biasFraction · rtol · |S| per probe (a round's reference is an estimate: allow 2×).
            #expect(bound <= 2 * 0.25 * 0.01 * abs(r.entropy.value))
        }
    }
}

@Suite struct ControlVariateTests {
    /// With an exact trace and ≥ 10 probes the trace samples are a control variate for
    /// tr(A log A). Over 40 seeds its nominal-95% intervals (20 plain-SLQ probes) must cover
    /// the true entropy at least 34 times, and the estimate must be accurate on average.
    @Test func controlVariateIntervalsCover() throws {
        let values = Fixture.ntkLike(n: 160, outliers: 6, zeros: 20)
        let op = try Fixture.operatorWith(values)
        let exactS = Fixture.entropy(values)
        let exactT = values.reduce(0, +)
        var covered = 0
        var errors: [Double] = []
        for seed in 0..<40 {
            var c = SpectralEstimator.Configuration()
            c.deflation = false
            c.topK = 0
            c.probes = 20
            c.maxProbes = 20
            c.seed = UInt64(500 + seed)
            let r = try SpectralEstimator(c).estimate(op, traceHint: exactT)
            #expect(r.probes == 20)
            let slack = r.entropy.biasBound ?? 0
            if r.entropy.lower - slack <= exactS && exactS <= r.entropy.upper + slack { covered += 1 }
            errors.append(r.entropy.value - exactS)
        }
        #expect(covered >= 34, "covered \(covered) of 40")
        // Mean error over 40 runs is within 4 of its own standard errors of 0 (no gross bias).
        let mean = errors.reduce(0, +) / 40
        let sd = (errors.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / 39).squareRoot()
        #expect(abs(mean) <= 4 * sd / 40.0.squareRoot())
    }
}

@Suite struct AdaptiveDeflationTests {
    /// Short pilot runs leave large modes unconverged; the adaptive rank adds pilot runs and
    /// deflates more pairs than a fixed pilot, and the entropy stays accurate. (The target is
    /// tight, so that the complement could not meet it at `minProbes` without more deflation.)
    @Test func pilotGrowsWhileLargeModesAreUnconverged() throws {
        let values = Fixture.ntkLike(n: 160, outliers: 12, zeros: 20)
        let op = try Fixture.operatorWith(values)
        var c = SpectralEstimator.Configuration()
        c.rtol = 1e-4
        c.maxProbes = 16
        c.deflationSteps = 14
        c.maxDeflationProbes = 2
        let fixed = try SpectralEstimator(c).estimate(op)
        c.maxDeflationProbes = 6
        let grown = try SpectralEstimator(c).estimate(op)
        #expect(grown.deflationRank > fixed.deflationRank, "grown \(grown.deflationRank) vs fixed \(fixed.deflationRank)")
        let exactS = Fixture.entropy(values)
        #expect(abs(grown.entropy.value - exactS) <= 4 * grown.entropy.standardError + grown.entropy.biasBound!)
    }

    /// With a loose target the pilot probes already predict that `minProbes` complement probes
    /// suffice: the pilot does not grow (same rank and cost as a fixed pilot), and the estimate
    /// still lies within its interval's reach of the exact entropy.
    @Test func pilotStopsGrowingOnceTheComplementMeetsTheTarget() throws {
        let values = Fixture.ntkLike(n: 160, outliers: 12, zeros: 20)
        let op = try Fixture.operatorWith(values)
        let exactS = Fixture.entropy(values)
        var c = SpectralEstimator.Configuration()
        c.rtol = 0.05
        c.deflationSteps = 14
        c.maxDeflationProbes = 2
        let fixed = try SpectralEstimator(c).estimate(op, traceHint: values.reduce(0, +))
        c.maxDeflationProbes = 6
        let adaptive = try SpectralEstimator(c).estimate(op, traceHint: values.reduce(0, +))
        #expect(adaptive.deflationRank == fixed.deflationRank)
        #expect(adaptive.cost.applications == fixed.cost.applications)
        #expect(abs(adaptive.entropy.value - exactS) <= 4 * adaptive.entropy.standardError + adaptive.entropy.biasBound!)
        #expect(abs(adaptive.entropy.value - exactS) <= c.rtol * exactS)
        // Under the tight target of the test above, the same pilot does grow.
        c.rtol = 1e-4
        c.maxProbes = 16
        let tight = try SpectralEstimator(c).estimate(op, traceHint: values.reduce(0, +))
        #expect(tight.deflationRank > fixed.deflationRank)
    }

    /// The predictor: finite and positive on a pilot, smaller after deflating the top pairs
    /// (they carry most of the probe variance of this spectrum), nil with a single run.
    @Test func predictedHalfWidthShrinksWithDeflation() throws {
        let values = Fixture.ntkLike(n: 160, outliers: 12, zeros: 20)
        let op = try Fixture.operatorWith(values)
        var g = SeededGenerator(seed: 3)
        var start = Matrix<Double>(rows: 3, columns: 160)
        ProbeDistribution.rademacher.fill(&start, using: &g)
        let runs = try Lanczos(steps: 40, keepBasis: true).decompose(op, start: start)
        let pairs = try RitzPairs(union: runs)
        let top = pairs.converged(relativeTolerance: 1e-8).filter { pairs.values[$0] > 0.05 * pairs.values[0] }
        #expect(!top.isEmpty)
        let none = try #require(try SpectralEstimator.predictedHalfWidth(
            runs: runs, pairs: pairs, deflated: [], traceHint: nil, probes: 8, confidence: 0.95, clip: 0))
        let some = try #require(try SpectralEstimator.predictedHalfWidth(
            runs: runs, pairs: pairs, deflated: top, traceHint: nil, probes: 8, confidence: 0.95, clip: 0))
        #expect(none.halfWidth > 0 && none.halfWidth.isFinite)
        #expect(some.halfWidth < none.halfWidth)
        #expect(abs(none.entropy - Fixture.entropy(values)) <= 0.2 * Fixture.entropy(values))
        #expect(try SpectralEstimator.predictedHalfWidth(
            runs: [runs[0]], pairs: pairs, deflated: [], traceHint: nil, probes: 8, confidence: 0.95, clip: 0) == nil)
    }
}

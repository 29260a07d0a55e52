import NTKEstimation
import NTKLinearAlgebra
import Testing

/// Warm start across estimates (`WarmStart`): agreement with cold estimates and the exact
/// spectrum on a nearby operator, and correctness from stale or wrong blocks.
@Suite struct WarmStartTests {
    static let values = Fixture.ntkLike(n: 160, outliers: 6, zeros: 20)

    func config(seed: UInt64 = 1) -> SpectralEstimator.Configuration {
        var c = SpectralEstimator.Configuration()
        c.rtol = 0.01
        c.maxProbes = 200
        c.seed = seed
        c.lanczosSteps = 30
        c.deflationSteps = 40
        return c
    }

    /// A (the planted operator) and A + ε·B (a "next record"), with B a symmetric perturbation.
    static func pair(epsilon: Double = 1e-3) throws -> (Matrix<Double>, Matrix<Double>) {
        let a = try Fixture.planted(values)
        let b = try Fixture.planted(Fixture.ntkLike(n: 160, outliers: 3, zeros: 0), seed: 11)
        var next = a
        for i in 0..<a.rows { for j in 0..<a.columns { next[i, j] += epsilon * b[i, j] } }
        return (a, next)
    }

    static func exact(_ m: Matrix<Double>) throws -> (trace: Double, entropy: Double) {
        let values = try SymmetricEigen(m).values.map { max($0, 0) }
        return (Fixture.trace(values) { $0 }, Fixture.entropy(values))
    }

    static func holds(_ r: SpectralReport, _ exact: Double, sigmas: Double = 4) -> Bool {
        abs(r.entropy.value - exact) <= sigmas * r.entropy.standardError + (r.entropy.biasBound ?? 0) + 1e-12
    }

    @Test func warmStartedEstimateAgreesWithColdAndExact() throws {
        let (a, next) = try Self.pair()
        let (trace, entropy) = try Self.exact(next)
        let estimator = SpectralEstimator(config())
        let first = try estimator.estimate(DenseOperator(a), traceHint: Fixture.trace(Self.values) { $0 }, warmStart: nil)
        #expect(!first.report.warmStart.warmStarted)
        #expect(first.warmStart.generation == 1 && first.warmStart.acceptedCount <= first.report.deflationRank)
        #expect(first.warmStart.vectors.rows >= first.warmStart.acceptedCount && first.warmStart.acceptedCount >= 6)
        let op = try DenseOperator(next)
        let cold = try estimator.estimate(op, traceHint: trace, warmStart: nil)
        let warm = try estimator.estimate(op, traceHint: trace, warmStart: first.warmStart)
        #expect(warm.report.warmStart.warmStarted && !warm.report.warmStart.fellBack)
        #expect(warm.report.warmStart.reusedVectors >= 6)
        #expect(warm.warmStart.generation == 2)
        #expect(Self.holds(cold.report, entropy) && Self.holds(warm.report, entropy))
        // Within each other's intervals (both widened by their bias bounds).
        let gap = abs(warm.report.entropy.value - cold.report.entropy.value)
        #expect(gap <= 4 * (warm.report.entropy.standardError + cold.report.entropy.standardError)
                + (warm.report.entropy.biasBound ?? 0) + (cold.report.entropy.biasBound ?? 0))
        // The refresh replaces the pilot: fewer applications before the complement.
        #expect(warm.report.warmStart.deflationApplications < cold.report.warmStart.deflationApplications,
                "warm \(warm.report.warmStart.deflationApplications) vs cold \(cold.report.warmStart.deflationApplications)")
        #expect(warm.report.applications < cold.report.applications)
    }

    @Test func theSameOperatorWithTheSameProbesGivesNearlyTheSameEstimate() throws {
        // Common random numbers: a warm restart on an unchanged operator draws the same complement
        // probes, so the two estimates differ by far less than their standard error.
        let a = try DenseOperator(Fixture.planted(Self.values))
        let trace = Fixture.trace(Self.values) { $0 }
        var c = config(seed: 5)
        c.warmVectorFloor = 0   // carry every deflated pair: the same deflated subspace again
        let estimator = SpectralEstimator(c)
        let cold = try estimator.estimate(a, traceHint: trace, warmStart: nil)
        let warm = try estimator.estimate(a, traceHint: trace, warmStart: cold.warmStart)
        #expect(warm.report.warmStart.warmStarted && !warm.report.warmStart.fellBack)
        #expect(abs(warm.report.entropy.value - cold.report.entropy.value) <= 0.25 * cold.report.entropy.standardError)
    }

    @Test func staleBlocksCostTimeNeverAccuracy() throws {
        let (_, next) = try Self.pair()
        let (trace, entropy) = try Self.exact(next)
        let op = try DenseOperator(next)
        let n = next.rows
        let estimator = SpectralEstimator(config(seed: 2))
        // Random vectors (not even orthonormal) with a confident claim of 12 deflated pairs.
        var generator = SeededGenerator(seed: 99)
        let random = try Matrix<Double>(rows: 16, columns: n, storage: .gaussian(count: 16 * n, using: &generator))
        let randomState = WarmStart(dimension: n, vectors: random, values: Array(repeating: 40, count: 16),
                                    acceptedCount: 12, probeSeed: 3, referenceTrace: trace, referenceEntropy: 1)
        // Another operator's converged Ritz vectors (same N, unrelated eigenvectors).
        let other = try DenseOperator(Fixture.planted(Self.values, seed: 23))
        let otherState = try estimator.estimate(other, traceHint: trace, warmStart: nil).warmStart
        for state in [randomState, otherState] {
            let r = try estimator.estimate(op, traceHint: trace, warmStart: state)
            // Either the refresh still converged the top pairs (a random block of 16 with 3 block
            // steps can: the 6 outliers are well separated) or it fell back to the cold pilot.
            #expect(r.report.warmStart.warmStarted)
            #expect(r.report.warmStart.fellBack == (r.report.warmStart.reusedVectors == 0))
            #expect(r.report.deflationRank >= 6)
            #expect(Self.holds(r.report, entropy), "S \(r.report.entropy.value) vs exact \(entropy)")
        }
        // A state of another dimension, or with deflation off, is a cold start.
        var small = randomState
        small.dimension = n - 1
        let r = try estimator.estimate(op, traceHint: trace, warmStart: small)
        #expect(!r.report.warmStart.warmStarted && Self.holds(r.report, entropy))
        var plain = config(seed: 2)
        plain.deflation = false
        let p = try SpectralEstimator(plain).estimate(op, traceHint: trace, warmStart: otherState)
        #expect(!p.report.warmStart.warmStarted && Self.holds(p.report, entropy))
    }

    @Test func refreshConfigurationIsValidated() throws {
        let op = try Fixture.operatorWith(Self.values)
        for mutate in [{ (c: inout SpectralEstimator.Configuration) in c.warmRefreshSteps = 0 },
                       { $0.warmRefreshRounds = 0 }, { $0.warmGuardVectors = -1 }, { $0.warmAcceptFraction = 1.5 }] {
            var c = config()
            mutate(&c)
            #expect(throws: EstimationError.self) { _ = try SpectralEstimator(c).estimate(op) }
        }
    }
}

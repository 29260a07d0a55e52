import NTKLinearAlgebra

/// What one `SpectralEstimator` estimate hands to the next on a nearby operator — the NTK of
/// the next training record — so that the next one costs fewer applications (the cheap
/// callback of issue #13, item 2). `SpectralEstimator.estimate(_:traceHint:warmStart:)` takes
/// one (or nil: a cold start) and returns the next.
///
/// What is carried, and why none of it can make an estimate wrong:
/// - **The top Ritz vectors** (rows of `vectors`, orthonormal, descending Ritz value): the
///   deflated pairs above `warmVectorFloor`·θ_max plus up to
///   `SpectralEstimator.Configuration.warmGuardVectors` more. The next
///   estimate starts its deflation from them: a few steps of block Krylov (Lanczos from each row
///   in lockstep; the union of those Krylov spaces is the block Krylov space
///   span{Q, AQ, …, A^(q−1)Q}), Rayleigh–Ritz on that union with exact residuals (`RitzPairs`),
///   and the same residual test as a cold start (‖Aq − θq‖ ≤ `ritzTolerance`·θ_max). Kernels are
///   the slow variables of training (arXiv:2112.15383, arXiv:2304.03408): the top eigenvectors
///   move little between records, so a few block steps converge them (Saad, Numerical Methods
///   for Large Eigenvalue Problems §6.2; the error of a block Krylov approximation of depth q
///   shrinks like a Chebyshev polynomial of degree q in the gap ratio). A stale block (random
///   vectors, another network's vectors) converges few pairs: the estimator then runs the cold
///   pilot as well and takes Ritz pairs from the union of both — the block cost its r·q
///   applications and nothing else. Whatever is deflated passed the residual test.
/// - **The complement probes** (`probeSeed`): common random numbers. Probe l of the complement
///   is drawn from the same stream (`SeededGenerator(seed: probeSeed, stream: 1)`) in every record
///   of a chain, so consecutive estimates' errors are strongly positively correlated and
///   Var(Ŝ(t) − Ŝ(t−1)) = Var Ŝ(t) + Var Ŝ(t−1) − 2 Cov ≪ either variance: differences between
///   records come from the parameters, not from resampling (Glasserman 2004, Monte Carlo Methods in
///   Financial Engineering, §4.2). Each record's own interval is unchanged: within a record the
///   probes are as independent as in a cold start.
/// - **The Lanczos depth each complement probe reached** (`probeDepths`): the per-probe
///   Gauss/Gauss–Radau bias test is skipped until a few steps before the depth that probe needed
///   last time (saves the quadratures of early steps; never applications, never accuracy — the
///   test still decides).
/// - **The previous T and S** (`reference`): the scale of the per-probe bias budget, which a
///   cold start takes from its pilot runs.
/// Operator caches keyed by the parameter state live with the operator's owner (the
/// `SpectralMonitor` reuses a record when the parameters are unchanged); the estimator sees
/// only an operator.
/// - Complexity: r·N doubles for the vectors (r ≤ maxDeflationRank + warmGuardVectors).
public struct WarmStart: Sendable {
    /// N, the dimension of the operator the vectors belong to (another N starts cold).
    public var dimension: Int
    /// Top Ritz vectors of the previous operator as rows (orthonormal), descending Ritz value.
    public var vectors: Matrix<Double>
    /// Their Ritz values on the previous operator.
    public var values: [Double]
    /// How many of the rows were deflated (accepted by residual) last time.
    public var acceptedCount: Int
    /// Seed of the complement probes' stream (common random numbers across records).
    public var probeSeed: UInt64
    /// Lanczos depth complement probe l reached last time.
    public var probeDepths: [Int]
    /// T and S of the previous estimate (a scale for the per-probe bias budget).
    public var referenceTrace: Double
    public var referenceEntropy: Double
    /// Estimates in this chain so far (1 after a cold start).
    public var generation: Int

    public init(dimension: Int, vectors: Matrix<Double>, values: [Double], acceptedCount: Int, probeSeed: UInt64,
                probeDepths: [Int] = [], referenceTrace: Double, referenceEntropy: Double, generation: Int = 1) {
        self.dimension = dimension
        self.vectors = vectors
        self.values = values
        self.acceptedCount = acceptedCount
        self.probeSeed = probeSeed
        self.probeDepths = probeDepths
        self.referenceTrace = referenceTrace
        self.referenceEntropy = referenceEntropy
        self.generation = generation
    }

    /// Whether this state can seed an estimate of an operator of dimension `n`: same N, at
    /// least one finite vector, a positive finite reference.
    public func isUsable(dimension n: Int) -> Bool {
        dimension == n && vectors.columns == n && vectors.rows > 0 && vectors.isFinite
            && referenceTrace > 0 && referenceTrace.isFinite && referenceEntropy.isFinite
    }
}

/// How an estimate used a warm start (reported with every `SpectralReport`).
public struct WarmStartUsage: Sendable, Hashable {
    /// A usable warm start was given and its block refreshed.
    public var warmStarted: Bool = false
    /// Deflated pairs that came from the refreshed warm block alone (0 when it fell back).
    public var reusedVectors: Int = 0
    /// Rows of the warm block that were refreshed.
    public var blockRows: Int = 0
    /// Applications spent refreshing the warm block (block Krylov steps).
    public var refreshApplications: Int = 0
    /// The refreshed block did not converge enough pairs (stale), so the cold pilot ran too.
    public var fellBack: Bool = false
    /// Applications before the complement probes (the refresh and/or the pilot).
    public var deflationApplications: Int = 0

    public init() {}
}

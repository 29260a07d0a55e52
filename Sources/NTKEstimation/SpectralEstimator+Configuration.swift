import NTKLinearAlgebra

extension SpectralEstimator {
    /// The settings of a deflated SLQ estimate; every default's source is named beside it.
    public struct Configuration: Sendable {
        /// Complement probes per round (one lockstep Lanczos each).
        public var probes: Int = 4
        /// Probes before the tolerance may stop the estimate: stopping on a lucky small-sample
        /// variance would undercover (optional stopping), so the error bar needs a few probes.
        public var minProbes: Int = 8
        /// Cap on complement probes.
        public var maxProbes: Int = 64
        /// Lanczos depth of complement probes (the BiasBrackets article: bias +0.02–0.03% of S at 30).
        public var lanczosSteps: Int = 30
        /// Target relative half-width of the entropy interval.
        public var rtol: Double = 0.01
        public var confidence: Double = 0.95
        public var maxApplications: Int? = nil
        public var maxSeconds: Double? = nil
        public var seed: UInt64 = 0
        /// Deflated SLQ (default) or plain SLQ.
        public var deflation: Bool = true
        /// Pilot Lanczos runs for the Ritz pairs (initial), their depth, and the most runs the
        /// adaptive rank may grow to.
        public var deflationProbes: Int = 2
        public var deflationSteps: Int = 60
        public var maxDeflationProbes: Int = 4
        /// Pilot growth continues while a Ritz value above deflationFloor·θ_max is unconverged.
        public var deflationFloor: Double = 0.05
        public var maxDeflationRank: Int = 64
        /// Accept a Ritz pair for deflation when ‖Aq − θq‖ ≤ ritzTolerance · θ_max (the DeflatedSLQ article).
        public var ritzTolerance: Double = 1e-6
        /// Number of top Ritz values to report (a pilot runs when > 0 even without deflation).
        public var topK: Int = 10
        /// Per-probe bias budget as a fraction of rtol (nil: no early Lanczos stop).
        public var biasFraction: Double? = 0.25
        public var distribution: ProbeDistribution = .rademacher
        /// Relative clip threshold (× λ_max); nil means N·ε.
        public var clipThreshold: Double? = nil
        /// Called after each pilot run and each complement round (nil: silent).
        public var progress: EstimationProgressHandler? = nil
        /// Warm start (`WarmStart`): Lanczos depth q of the block refresh — each row of the warm
        /// block runs q steps in lockstep (a row whose own residual is already below the
        /// acceptance tolerance stops after one), so the refresh costs ≤ r·q applications and
        /// Rayleigh–Ritz runs on the block Krylov space of depth q.
        public var warmRefreshSteps: Int = 2
        /// Refresh rounds: after the first, the still-unconverged top Ritz vectors (above
        /// `deflationFloor`·θ_max) start one more round, unioned with the first.
        public var warmRefreshRounds: Int = 2
        /// Deflated pairs are carried to the next estimate only when θ ≥ warmVectorFloor·θ_max:
        /// each carried row costs up to `warmRefreshSteps` applications next time, while a small
        /// pair left in the complement adds only ≈ 2 f(θ)² to the probe variance (the
        /// DeflatedSLQ article), so the cheap top of the spectrum is refreshed and the bulk sampled.
        public var warmVectorFloor: Double = 0.05
        /// Unconverged Ritz vectors carried beyond the deflated ones (they speed up the block's
        /// convergence and catch modes that rise into the top).
        public var warmGuardVectors: Int = 2
        /// The refreshed block is accepted when the top pair converged and at least this share of
        /// the previously deflated pairs did; otherwise the cold pilot runs too (its runs and the
        /// block's are unioned for the Ritz pairs).
        public var warmAcceptFraction: Double = 0.5

        public init() {}

        func validate() throws {
            try require(probes >= 1, "probes", probes, "at least 1")
            try require(maxProbes >= 2, "maxProbes", maxProbes, "at least 2 (an error bar needs two probes)")
            try require(minProbes >= 2, "minProbes", minProbes, "at least 2 (an error bar needs two probes)")
            try require(lanczosSteps >= 1, "lanczosSteps", lanczosSteps, "at least 1")
            try require(rtol > 0 && rtol.isFinite, "rtol", rtol, "a positive finite tolerance")
            try require(confidence > 0 && confidence < 1, "confidence", confidence, "a value in (0, 1)")
            if let maxApplications { try require(maxApplications > 0, "maxApplications", maxApplications, "a positive budget") }
            if let maxSeconds { try require(maxSeconds > 0, "maxSeconds", maxSeconds, "a positive budget") }
            try require(deflationProbes >= 1, "deflationProbes", deflationProbes, "at least 1")
            try require(deflationSteps >= 1, "deflationSteps", deflationSteps, "at least 1")
            try require(maxDeflationProbes >= deflationProbes, "maxDeflationProbes", maxDeflationProbes,
                        "at least deflationProbes (\(deflationProbes))")
            try require(deflationFloor >= 0 && deflationFloor < 1, "deflationFloor", deflationFloor, "a value in [0, 1)")
            try require(maxDeflationRank >= 0, "maxDeflationRank", maxDeflationRank, "non-negative")
            try require(ritzTolerance > 0 && ritzTolerance < 1, "ritzTolerance", ritzTolerance, "a value in (0, 1)")
            try require(topK >= 0, "topK", topK, "non-negative")
            if let biasFraction { try require(biasFraction > 0, "biasFraction", biasFraction, "a positive fraction") }
            if let clipThreshold { try require(clipThreshold >= 0 && clipThreshold < 1, "clipThreshold", clipThreshold, "a value in [0, 1)") }
            try require(warmRefreshSteps >= 1, "warmRefreshSteps", warmRefreshSteps, "at least 1")
            try require(warmRefreshRounds >= 1, "warmRefreshRounds", warmRefreshRounds, "at least 1")
            try require(warmVectorFloor >= 0 && warmVectorFloor < 1, "warmVectorFloor", warmVectorFloor, "a value in [0, 1)")
            try require(warmGuardVectors >= 0, "warmGuardVectors", warmGuardVectors, "non-negative")
            try require(warmAcceptFraction >= 0 && warmAcceptFraction <= 1, "warmAcceptFraction", warmAcceptFraction,
                        "a value in [0, 1]")
        }
    }
}

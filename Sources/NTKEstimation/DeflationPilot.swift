import NTKLinearAlgebra

/// Step 1 of `SpectralEstimator` (deflated SLQ): the pilot that finds the top of the spectrum.
///
/// Cold: `deflationProbes` Lanczos runs of `deflationSteps` with their bases kept, Ritz pairs from
/// the union of their Krylov spaces (`RitzPairs`), and the adaptive rank — one more run, twice
/// as deep, while a Ritz value above `deflationFloor`·θ_max is unconverged, the last run added
/// converged pairs, and the complement's predicted interval at `minProbes`
/// (`predictedHalfWidth`) is not yet within `SpectralEstimator.growthMargin` of the target.
/// Warm: the carried block refreshed by a few block-Krylov steps (`refresh`), the cold pilot
/// only when the block is stale. Either way the outcome is the deflation basis (converged
/// pairs above the clip, at most `maxDeflationRank`), the top Ritz values, a reference (T, S)
/// for the per-probe bias test, and the vectors a warm start carries to the next estimate.
/// Chen & Hallman 2023, "Krylov-aware stochastic trace estimation" (arXiv:2205.01736); the
/// DeflatedSLQ article.
struct DeflationPilot {
    var configuration: SpectralEstimator.Configuration

    /// What the pilot hands to the complement and to the next warm start.
    struct Outcome {
        /// Largest Ritz value (the clip and the bias test scale with it).
        var lambdaMax: Double
        var topValues: [Double]
        var topResiduals: [Double]
        /// The deflated Ritz vectors (rows) and their values.
        var basis: Matrix<Double>
        var deflated: [Double]
        /// A rough (T, S) from the pilot (or the previous record) for the per-probe bias test.
        var reference: (trace: Double, entropy: Double)?
        /// What a warm start carries: vectors, their Ritz values, how many were deflated.
        var carried: Matrix<Double>
        var carriedValues: [Double]
        var carriedAccepted: Int
    }

    /// Runs the pilot on `counted` (cold when `warm` is nil). Draws its start vectors from
    /// `generator`; records the warm start's use and the pilot's applications in `usage`.
    func run(_ counted: CountingOperator, traceHint: Double?, warm: WarmStart?, relativeClip: Double,
             generator: inout SeededGenerator, usage: inout WarmStartUsage,
             started: ContinuousClock.Instant) throws -> Outcome {
        let config = configuration
        let n = counted.dimension
        let clock = ContinuousClock()
        var carried = Matrix<Double>(rows: 0, columns: n)
        var carriedValues: [Double] = []
        var carriedAccepted = 0
        var lambdaMax = 0.0
        var topValues: [Double] = [], topResiduals: [Double] = []
        var deflationBasis = Matrix<Double>(rows: 0, columns: n)
        var deflated: [Double] = []
        var reference: (trace: Double, entropy: Double)? = nil
        // The pairs deflation takes: converged, above the clip, at most maxDeflationRank.
        func accepted(_ pairs: RitzPairs, clip: Double) -> [Int] {
            Array(pairs.converged(relativeTolerance: config.ritzTolerance)
                .filter { pairs.values[$0] > clip }
                .prefix(min(config.maxDeflationRank, n)))
        }
        if config.deflation || config.topK > 0 {
            // Warm start: refresh the carried block; its runs join every later union.
            var refreshRuns: [LanczosResult] = []
            var warmPairs: RitzPairs? = nil
            if let warm {
                let refreshed = try refresh(warm, counted: counted, relativeClip: relativeClip, usage: &usage)
                refreshRuns = refreshed.runs
                warmPairs = refreshed.pairs
                config.progress?(EstimationProgress(phase: .pilot, applications: counted.cost.applications,
                                                    seconds: (clock.now - started).seconds))
            }
            if let pairs = warmPairs, let warm {
                // The refreshed block suffices: no pilot runs; the previous estimate is the scale.
                lambdaMax = max(0, pairs.values.first ?? 0)
                topValues = Array(pairs.values.prefix(config.topK))
                topResiduals = Array(pairs.residualNorms.prefix(config.topK))
                reference = (traceHint ?? warm.referenceTrace, warm.referenceEntropy)
                let taken = accepted(pairs, clip: relativeClip * lambdaMax)
                deflationBasis = Matrix(rows: taken.count, columns: n)
                for (row, i) in taken.enumerated() {
                    for j in 0..<n { deflationBasis[row, j] = pairs.vectors[i, j] }
                    deflated.append(pairs.values[i])
                }
                (carried, carriedValues, carriedAccepted) = Self.carriedVectors(pairs, accepted: taken, guards: config.warmGuardVectors, floor: config.warmVectorFloor)
            } else {
                let pilot = Lanczos(steps: config.deflationSteps, keepBasis: true)
                var start = Matrix<Double>(rows: config.deflationProbes, columns: n)
                config.distribution.fill(&start, using: &generator)
                var runs = try pilot.decompose(counted, start: start)
                config.progress?(EstimationProgress(phase: .pilot, applications: counted.cost.applications,
                                                    seconds: (clock.now - started).seconds))
                var pairs = try RitzPairs(union: refreshRuns + runs)
                // Adaptive deflation rank: add one (deeper) pilot run at a time while a Ritz value above
                // deflationFloor·θ_max is still unconverged and the previous run added converged pairs.
                var convergedCount = pairs.converged(relativeTolerance: config.ritzTolerance).count
                var depth = min(config.deflationSteps, n)
                while config.deflation, runs.count < config.maxDeflationProbes, convergedCount < config.maxDeflationRank {
                    let top = max(0, pairs.values.first ?? 0)
                    let converged = Set(pairs.converged(relativeTolerance: config.ritzTolerance))
                    let pending = pairs.values.indices.contains { !converged.contains($0) && pairs.values[$0] > config.deflationFloor * top }
                    if !pending { break }
                    // More deflation only pays if the complement would otherwise need more than
                    // minProbes probes: stop when the pilot probes predict the target is met already.
                    if let predicted = try Self.predictedHalfWidth(
                        runs: runs, pairs: pairs, deflated: accepted(pairs, clip: relativeClip * top),
                        traceHint: traceHint, probes: config.minProbes, confidence: config.confidence,
                        clip: relativeClip * top),
                       predicted.halfWidth <= SpectralEstimator.growthMargin * config.rtol * abs(predicted.entropy)
                    {
                        break
                    }
                    // Convergence is governed by depth more than by the number of runs: each extra
                    // run is twice as deep as the last one.
                    depth = min(2 * depth, n)
                    if let budget = config.maxApplications, counted.cost.applications + depth > budget / 2 { break }
                    var extra = Matrix<Double>(rows: 1, columns: n)
                    config.distribution.fill(&extra, using: &generator)
                    var deeper = pilot
                    deeper.steps = depth
                    runs += try deeper.decompose(counted, start: extra)
                    config.progress?(EstimationProgress(phase: .pilot, applications: counted.cost.applications,
                                                        seconds: (clock.now - started).seconds))
                    pairs = try RitzPairs(union: refreshRuns + runs)
                    let grown = pairs.converged(relativeTolerance: config.ritzTolerance).count
                    if grown <= convergedCount { break }
                    convergedCount = grown
                }
                lambdaMax = max(0, pairs.values.first ?? 0)
                topValues = Array(pairs.values.prefix(config.topK))
                topResiduals = Array(pairs.residualNorms.prefix(config.topK))
                // Pilot SLQ estimates of T and S (plain, high variance; only a scale for stopping).
                var t = 0.0, u = 0.0
                for run in runs {
                    let g = try GaussQuadrature(run)
                    let scale = run.startNorm * run.startNorm
                    t += scale * g.integrate { $0 }
                    u += scale * g.integrate { SpectralFunction.xLogX.evaluate($0 < relativeClip * lambdaMax ? 0 : $0) }
                }
                t /= Double(runs.count); u /= Double(runs.count)
                let tr = traceHint ?? t
                if tr > 0 { reference = (tr, Double.log(tr) - u / tr) }
                if config.deflation {
                    let accepted = accepted(pairs, clip: relativeClip * lambdaMax)
                    if !accepted.isEmpty {
                        deflationBasis = Matrix(rows: accepted.count, columns: n)
                        for (row, i) in accepted.enumerated() {
                            for j in 0..<n { deflationBasis[row, j] = pairs.vectors[i, j] }
                            deflated.append(pairs.values[i])
                        }
                    }
                    (carried, carriedValues, carriedAccepted) = Self.carriedVectors(pairs, accepted: accepted, guards: config.warmGuardVectors, floor: config.warmVectorFloor)
                }
            }
        }
        usage.deflationApplications = counted.cost.applications
        return Outcome(
            lambdaMax: lambdaMax, topValues: topValues, topResiduals: topResiduals, basis: deflationBasis,
            deflated: deflated, reference: reference, carried: carried, carriedValues: carriedValues,
            carriedAccepted: carriedAccepted)
    }

    /// The entropy interval half-width that `probes` complement probes would reach after
    /// deflating the Ritz pairs `deflated` (indices into `pairs`), predicted from the pilot runs.
    ///
    /// Each pilot run r is a plain SLQ probe z_r: its samples t_r = zᵀAz and u_r = zᵀ(A log A)z
    /// (Gauss quadrature) minus the deflated modes' part, Σ_i f(θ_i)(q_iᵀz_r)², are its samples
    /// of the complement operator. Their spread estimates the complement's per-probe standard
    /// deviation of the entropy's linearized sample (1/T + U/T²)·t − u/T — the delta method's
    /// without the exact trace, and about what the control variate leaves with it (so with the
    /// exact trace the prediction is for max(probes, `controlVariateMinimumProbes`) probes, the
    /// fewest the control variate needs). With two or three runs the estimate is rough; it only decides
    /// whether more deflation is worth its matvecs — a wrong call costs probes, never accuracy,
    /// since the complement's own interval decides when to stop.
    /// (The spectral bound Var ≤ 2(‖B‖²_F − (tr B)²/N) is no use here: on a 10240² tanh-MLP NTK
    /// it was 10× the measured spread, because the kernel's diagonal carries most of h(A).)
    /// Returns nil with fewer than two runs, runs without a basis, or no positive trace.
    static func predictedHalfWidth(
        runs: [LanczosResult], pairs: RitzPairs, deflated: [Int], traceHint: Double?, probes: Int,
        confidence: Double, clip: Double
    ) throws -> (halfWidth: Double, entropy: Double)? {
        let probes = traceHint != nil ? max(probes, SpectralEstimator.controlVariateMinimumProbes) : probes
        guard runs.count >= 2, probes >= 2 else { return nil }
        let h: (Double) -> Double = { x in SpectralFunction.xLogX.evaluate(x < clip ? 0 : x) }
        var t: [Double] = [], u: [Double] = []
        for run in runs {
            guard let basis = run.basis, basis.rows > 0 else { return nil }
            let g = try GaussQuadrature(run)
            let scale = run.startNorm * run.startNorm
            var tr = scale * g.integrate { $0 }, ur = scale * g.integrate(h)
            for i in deflated {
                let c = try pairs.vectors.storage.withUnsafeBufferPointer { q in
                    try basis.storage.withUnsafeBufferPointer { v in
                        try Double.dot(n: basis.columns, x: q.baseAddress! + i * pairs.vectors.columns, incx: 1,
                                       y: v.baseAddress!, incy: 1)   // q_iᵀ v₁, v₁ = z/‖z‖
                    }
                }
                let weight = scale * c * c
                tr -= pairs.values[i] * weight
                ur -= h(pairs.values[i]) * weight
            }
            t.append(tr)
            u.append(ur)
        }
        let r = Double(runs.count)
        let deflatedT = deflated.reduce(0) { $0 + pairs.values[$1] }
        let deflatedU = deflated.reduce(0) { $0 + h(pairs.values[$1]) }
        let meanT = t.reduce(0, +) / r + deflatedT, meanU = u.reduce(0, +) / r + deflatedU
        let bigT = traceHint ?? meanT
        guard bigT > 0, bigT.isFinite else { return nil }
        // The ratio form's linearization; with the exact trace the control variate (from
        // `controlVariateMinimumProbes` on) removes about the same t-correlated part of u.
        let slope = 1 / bigT + meanU / (bigT * bigT)
        let linear = zip(t, u).map { slope * $0.0 - $0.1 / bigT }
        let mean = linear.reduce(0, +) / r
        let variance = linear.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (r - 1)
        let quantile = try StudentT.quantile((1 + confidence) / 2, degreesOfFreedom: Double(probes - 1))
        return (quantile * variance.squareRoot() / Double(probes).squareRoot(), Double.log(bigT) - meanU / bigT)
    }

    /// The warm block refreshed on `op`: `warmRefreshSteps` Lanczos steps from every row in
    /// lockstep (rows whose own residual is already below half the acceptance tolerance stop after
    /// one), then up to `warmRefreshRounds − 1` more rounds from the still-unconverged top Ritz
    /// vectors, Rayleigh–Ritz on the union of all these Krylov spaces (`RitzPairs`). `pairs` is nil
    /// when the block is stale: the top pair, or fewer than `warmAcceptFraction` of the previously
    /// deflated pairs, failed the residual test.
    func refresh(_ warm: WarmStart, counted: CountingOperator, relativeClip: Double,
                         usage: inout WarmStartUsage) throws -> (runs: [LanczosResult], pairs: RitzPairs?) {
        let config = configuration
        let n = counted.dimension
        let before = counted.cost.applications
        usage.warmStarted = true
        let rows = min(warm.vectors.rows, config.maxDeflationRank + config.warmGuardVectors, n)
        var block = Matrix<Double>(rows: rows, columns: n)
        block.storage.withUnsafeMutableBufferPointer { b in
            warm.vectors.storage.withUnsafeBufferPointer { v in
                b.baseAddress!.update(from: v.baseAddress!, count: rows * n)
            }
        }
        usage.blockRows = rows
        let scale = max(warm.values.first ?? 0, 0)
        let lanczos = Lanczos(steps: min(config.warmRefreshSteps, n), keepBasis: true)
        // A row that is an eigenvector to the acceptance tolerance already needs no more steps.
        let convergedRow: Lanczos.StopCriterion = { _, _, beta in
            (beta.last ?? .infinity) <= 0.5 * config.ritzTolerance * scale
        }
        var runs = try lanczos.decompose(counted, start: block, stop: convergedRow)
        var pairs = try RitzPairs(union: runs)
        for _ in 1..<config.warmRefreshRounds {
            let top = max(0, pairs.values.first ?? 0)
            let converged = Set(pairs.converged(relativeTolerance: config.ritzTolerance))
            let wanted = min(pairs.values.count, max(warm.acceptedCount, 1) + config.warmGuardVectors)
            let pending = (0..<wanted).filter { !converged.contains($0) && pairs.values[$0] > config.deflationFloor * top }
            if pending.isEmpty { break }
            if let budget = config.maxApplications,
               counted.cost.applications + pending.count * config.warmRefreshSteps > budget / 2 { break }
            var extra = Matrix<Double>(rows: pending.count, columns: n)
            for (row, i) in pending.enumerated() { for j in 0..<n { extra[row, j] = pairs.vectors[i, j] } }
            runs += try lanczos.decompose(counted, start: extra)
            pairs = try RitzPairs(union: runs)
        }
        usage.refreshApplications = counted.cost.applications - before
        let top = max(0, pairs.values.first ?? 0)
        let taken = Array(pairs.converged(relativeTolerance: config.ritzTolerance)
            .filter { pairs.values[$0] > relativeClip * top }.prefix(min(config.maxDeflationRank, n)))
        guard taken.first == 0, Double(taken.count) >= config.warmAcceptFraction * Double(warm.acceptedCount) else {
            usage.fellBack = true
            return (runs, nil)
        }
        usage.reusedVectors = taken.count
        return (runs, pairs)
    }

    /// The rows a warm start carries: the deflated pairs with θ ≥ floor·θ_max and up to `guards`
    /// more Ritz vectors below or between them (descending Ritz value); the count of the former.
    static func carriedVectors(_ pairs: RitzPairs, accepted: [Int], guards: Int,
                               floor: Double) -> (vectors: Matrix<Double>, values: [Double], accepted: Int) {
        let n = pairs.vectors.columns
        let top = max(0, pairs.values.first ?? 0)
        let kept = accepted.filter { pairs.values[$0] >= floor * top }
        let taken = Set(kept)
        let indices = (kept + pairs.values.indices.filter { !taken.contains($0) && pairs.values[$0] > 0 }.prefix(guards))
            .sorted()
        var vectors = Matrix<Double>(rows: indices.count, columns: n)
        for (row, i) in indices.enumerated() { for j in 0..<n { vectors[row, j] = pairs.vectors[i, j] } }
        return (vectors, indices.map { pairs.values[$0] }, kept.count)
    }
}

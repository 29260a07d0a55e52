import Foundation
import NTKEstimation
import NTKLinearAlgebra
import NTKNetworks

/// A training callback that measures the NTK's collective variables (trace, entropy,
/// effective rank, top eigenvalue, kernel–target alignment, …) on a fixed probe set every
/// `every` optimizer steps, and appends one JSON Lines record per measurement.
///
/// - The probe set and the random probes are the same at every call (fixed seed), so the
///   time series is smooth: differences between records come from the parameters, not from
///   resampling.
/// - Cost control: each record takes the cheapest route for its size (`SpectralRoute.auto`:
///   small probe kernels dense or kernel-Lanczos, large ones matrix-free; the record says
///   `route`, `matvecs`, `seconds`); `spectral.maxApplications` bounds the NTK products per
///   call; `overheadBudget` F skips a scheduled call when recording it would take the
///   monitor's time above F × training time (predicted from the mean cost of the records so
///   far); `maxOverheadFraction` skips a scheduled call while the time spent in the monitor
///   already exceeds that fraction. The first and the last step are always recorded.
/// - Validation: the exact dense spectrum (Double; a Float network is converted) is computed
///   at the first and last call and every `exactEvery` calls, reusing the kernel the route
///   formed where it formed one, and the record states the errors and whether the exact
///   entropy lies inside the reported interval (`validation_seconds`: the extra time).
/// - Warm start (`warmStart`, off by default; see its documentation for when it pays): each record's estimate starts from the previous
///   record's `WarmStart` — its top Ritz vectors refreshed by a few block-Krylov steps and accepted
///   by residual (a stale block only costs its refresh), the same complement probes (common random
///   numbers: S(t) − S(t−1) is far less noisy than either), the probes' learned Lanczos depths.
///   Records say `warm_started`, `warm_reused_vectors`, `warm_refresh_matvecs`, `warm_fell_back`
///   and `deflation_matvecs`. The state crosses kernel-Lanczos and matrix-free records (the same
///   kernel) and passes dense records unchanged.
/// - Durability: each record is one `write(2)` of a complete line (`JSONLinesWriter`), so a
///   process killed at any moment keeps every record written so far; reopening resumes.
/// - Asynchronous records (`asynchronous`): a record runs on a snapshot of the parameters on
///   the monitor's own thread while training continues; at most one record is in flight (a
///   step scheduled while one runs is skipped and counted), records stay in step order and
///   each is written whole; the last step's record waits for the one in flight. The OpenBLAS
///   thread count is process-wide: the caller splits it (the tool sets one thread each for
///   training and monitor on 2 cores and reports it).
public final class SpectralMonitor<Scalar: BLASScalar>: TrainingCallback, @unchecked Sendable {
    public struct Configuration: Sendable {
        /// Measure every this many optimizer steps (and at steps 0 and the last).
        public var every: Int = 10
        public var estimator = CollectiveVariableEstimator()
        /// Exact validation every this many calls (nil: only first and last when `validateEnds`).
        public var exactEvery: Int? = nil
        public var validateEnds: Bool = true
        /// Skip scheduled calls while monitor time > fraction × training time (nil: never skip).
        public var maxOverheadFraction: Double? = nil
        /// Keep the monitor's time ≤ this fraction of training time (in (0, 1); nil: no budget):
        /// a scheduled call is skipped when the monitor time plus the predicted cost of the
        /// record (mean of the records so far) would exceed it.
        public var overheadBudget: Double? = nil
        /// Run records on the monitor's own thread while training continues.
        public var asynchronous: Bool = false
        /// A name written into every record (e.g. the network's name).
        public var run: String = "run"
        /// Thread a `WarmStart` from each record's estimate into the next (see the type's
        /// documentation). Never less accurate, but not always cheaper, so off by default: on the
        /// Fashion-MNIST trajectories of Benchmarks/results/warm-start.md, with Double kernels and
        /// the default Ritz acceptance (1e-6·θ_max) the refreshed block rarely passes and the
        /// refresh is wasted (+26–38% products); with a 1e-3 acceptance (and for Float matrix-free
        /// kernels, 1e-2) it halves the deflation products and the record's time, ≈ 0.9× the
        /// products in all.
        public var warmStart: Bool = false
        public init() {}
    }

    public let configuration: Configuration
    public let probeInputs: Matrix<Scalar>
    public let probeTargets: Matrix<Double>?
    public let writer: JSONLinesWriter?

    /// What the training thread and the monitor's thread share, under `lock`.
    private struct State {
        var records: [[String: JSONValue]] = []
        var seconds: Double = 0
        var skipped = 0
        var busySkipped = 0
        var overheadShare: Double? = nil
        var calls = 0
        var lastScheduledStep = -1
        var inFlight = false
        var failure: (any Error)? = nil
        var resumedLastValidated = false
        var warm: WarmStart? = nil
    }
    private var state = State()
    private let lock = NSLock()
    private let queue = DispatchQueue(label: "NTKSpectra.SpectralMonitor")
    private let group = DispatchGroup()

    private func locked<T>(_ body: (inout State) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&state)
    }

    /// Every record written by this monitor, in order.
    public var records: [[String: JSONValue]] { locked { $0.records } }
    /// Seconds spent measuring (estimates and exact checks).
    public var seconds: Double { locked { $0.seconds } }
    /// Scheduled steps not recorded: by the overhead rules, and (asynchronous) while a record was in flight.
    public var skipped: Int { locked { $0.skipped } }
    public var skippedWhileBusy: Int { locked { $0.busySkipped } }
    /// The monitor's time as a fraction of the training time it watched (nil before training).
    public var overheadShare: Double? { locked { $0.overheadShare } }
    /// The state the next record will start from (nil before the first estimate, on a cold
    /// chain, or with `warmStart` off). Settable, e.g. to continue a chain in a new monitor.
    public var warmStart: WarmStart? {
        get { locked { $0.warm } }
        set { locked { $0.warm = configuration.warmStart ? newValue : nil } }
    }

    /// - Parameters:
    ///   - probeInputs: the fixed inputs whose NTK is measured (n × inputSize).
    ///   - probeTargets: their targets (n × k) for the kernel–target alignment, or nil.
    ///   - output: JSON Lines file to append to (created if needed), or nil to keep records in memory only.
    public init(configuration: Configuration = .init(), probeInputs: Matrix<Scalar>,
                probeTargets: Matrix<Double>? = nil, output: URL? = nil, truncate: Bool = false) throws {
        guard configuration.every >= 1 else {
            throw NTKError.invalidOption("monitor every", "a positive number of steps, got \(configuration.every)")
        }
        if let e = configuration.exactEvery, e < 1 {
            throw NTKError.invalidOption("monitor exact-every", "a positive number of calls, got \(e)")
        }
        if let f = configuration.maxOverheadFraction, !(f > 0) {
            throw NTKError.invalidOption("monitor overhead fraction", "a positive fraction, got \(f)")
        }
        if let f = configuration.overheadBudget, !(f > 0 && f < 1) {
            throw NTKError.invalidOption("monitor overhead budget", "a fraction of training time in (0, 1), got \(f)")
        }
        self.configuration = configuration
        self.probeInputs = probeInputs
        self.probeTargets = probeTargets
        self.writer = try output.map { try JSONLinesWriter(url: $0, truncate: truncate) }
    }

    /// Continues a resumed run's records: `recordCount` records are already in the output (the
    /// call counter goes on from there, so exact validations fall on the same calls), the last
    /// one at `lastStep` (not recorded again), `lastValidated` whether it carries the exact check.
    public func resume(recordCount: Int, lastStep: Int?, lastValidated: Bool) {
        locked { s in
            s.calls = recordCount
            s.lastScheduledStep = lastStep ?? -1
            s.resumedLastValidated = lastValidated
        }
    }

    public func trainingDidBegin(_ context: TrainingContext<Scalar>) throws -> TrainingDecision {
        // A resumed run: its first step is already recorded. The last step of the run is
        // recorded (validated) once, by `trainingDidEnd`.
        // Resumed at step k > 0: record k only where the uninterrupted run did (a scheduled step
        // whose record was lost), so the resumed records equal the uninterrupted ones.
        // A step already on disk (a run resumed from a checkpoint at that step, step 0 included) is
        // never recorded twice.
        let recorded = locked { $0.lastScheduledStep == context.step }
        if recorded { return .continue }
        if context.step > 0, context.step == context.totalSteps || context.step % configuration.every != 0 {
            return .continue
        }
        try schedule(context, final: false)
        return .continue
    }

    public func stepDidEnd(_ context: TrainingContext<Scalar>) throws -> TrainingDecision {
        try rethrowFailure()
        guard context.step % configuration.every == 0 else { return .continue }
        // The run's last step is recorded once, validated, by `trainingDidEnd`.
        if context.step == context.totalSteps { return .continue }
        let skip: Bool = locked { s in
            var skip = false
            if let f = configuration.maxOverheadFraction, context.callbackSeconds > f * context.trainingSeconds { skip = true }
            if let f = configuration.overheadBudget, s.calls > 0, !s.records.isEmpty,
               s.seconds + s.seconds / Double(s.records.count) > f * context.trainingSeconds { skip = true }
            if skip { s.skipped += 1 }
            return skip
        }
        if !skip { try schedule(context, final: false) }
        return .continue
    }

    public func trainingDidEnd(_ context: TrainingContext<Scalar>) throws {
        group.wait()
        try rethrowFailure()
        defer { locked { $0.overheadShare = context.trainingSeconds > 0 ? $0.seconds / context.trainingSeconds : nil } }
        let (lastStep, lastValidated) = locked { s in
            (s.lastScheduledStep, s.records.last.map { $0["exact_entropy"] != nil } ?? s.resumedLastValidated)
        }
        if context.step != lastStep {
            try measure(context, callIndex: locked { s in s.calls += 1; s.lastScheduledStep = context.step; return s.calls - 1 },
                        final: true)
        } else if configuration.validateEnds, !lastValidated {
            // The last step was measured without validation: validate it now.
            try measure(context, callIndex: locked { $0.calls - 1 }, final: true, replaceLast: true)
        }
    }

    private func rethrowFailure() throws {
        if let failure = locked({ $0.failure }) { throw failure }
    }

    /// Runs a measurement now, or (asynchronous) on the monitor's thread unless one is in flight.
    private func schedule(_ context: TrainingContext<Scalar>, final: Bool) throws {
        guard configuration.asynchronous else {
            let index = locked { s in s.calls += 1; s.lastScheduledStep = context.step; return s.calls - 1 }
            try measure(context, callIndex: index, final: final)
            return
        }
        let index: Int? = locked { s in
            if s.inFlight { s.busySkipped += 1; s.skipped += 1; return nil }
            s.inFlight = true
            s.calls += 1
            s.lastScheduledStep = context.step
            return s.calls - 1
        }
        guard let index else { return }
        // `context` holds its own copy of the parameters (copy-on-write from the next step on).
        queue.async(group: group) { [self] in
            do { try measure(context, callIndex: index, final: final) } catch { locked { $0.failure = error } }
            locked { $0.inFlight = false }
        }
    }

    /// One measurement at the context's parameters.
    func measure(_ context: TrainingContext<Scalar>, callIndex: Int, final: Bool, replaceLast: Bool = false) throws {
        let start = DispatchTime.now().uptimeNanoseconds
        let validate = (configuration.validateEnds && (callIndex == 0 || final))
            || (configuration.exactEvery.map { callIndex % $0 == 0 } ?? false)
        let warm = configuration.warmStart ? locked { $0.warm } : nil
        let (estimate, exact, next) = try configuration.estimator.measure(
            network: context.network, inputs: probeInputs, targets: probeTargets, exact: validate, warmStart: warm)
        if configuration.warmStart { locked { $0.warm = next } }
        var record = estimate.fields
        record["run"] = .string(configuration.run)
        record["step"] = .integer(context.step)
        record["epoch"] = .integer(context.epoch)
        record["loss"] = context.batchLoss.map { .number($0) } ?? .null
        record["training_seconds"] = .number(context.trainingSeconds)
        if let exact {
            record.merge(estimate.comparisonFields(exact: exact)) { _, new in new }
        }
        let total = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        record["monitor_seconds"] = .number(total)
        record["validation_seconds"] = .number(exact == nil ? 0 : max(0, total - estimate.seconds))
        record["asynchronous"] = .bool(configuration.asynchronous)
        // A scheduled validation point (first, last, every `exactEvery`); a dense-route record
        // carries the exact fields at every step, being the exact spectrum itself.
        record["validated"] = .bool(validate)
        try locked { s in
            // Replacing: the file's last line too, so that each step has one record on disk.
            // A resumed monitor holds none of its earlier records in memory, but the file's last line
            // is the record being replaced all the same.
            if replaceLast {
                if !s.records.isEmpty { s.records.removeLast() }
                try writer?.replaceLast(record)
            } else {
                try writer?.append(record)
            }
            s.records.append(record)
            s.seconds += total
        }
    }
}

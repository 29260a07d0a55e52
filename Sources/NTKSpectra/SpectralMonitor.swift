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
/// - Durability: each record is one `write(2)` of a complete line (`JSONLinesWriter`), so a
///   process killed at any moment keeps every record written so far; reopening resumes.
public final class SpectralMonitor<Scalar: BLASScalar>: TrainingCallback {
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
        /// A name written into every record (e.g. the network's name).
        public var run: String = "run"
        public init() {}
    }

    public let configuration: Configuration
    public let probeInputs: Matrix<Scalar>
    public let probeTargets: Matrix<Double>?
    public let writer: JSONLinesWriter?
    /// Every record written by this monitor, in order.
    public private(set) var records: [[String: JSONValue]] = []
    /// Seconds spent measuring (estimates and exact checks).
    public private(set) var seconds: Double = 0
    public private(set) var skipped = 0
    /// The monitor's time as a fraction of the training time it watched (nil before training).
    public private(set) var overheadShare: Double? = nil
    private var calls = 0
    private var lastRecordedStep = -1

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

    public func trainingDidBegin(_ context: TrainingContext<Scalar>) throws -> TrainingDecision {
        try measure(context, final: false)
        return .continue
    }

    public func stepDidEnd(_ context: TrainingContext<Scalar>) throws -> TrainingDecision {
        guard context.step % configuration.every == 0 else { return .continue }
        if let f = configuration.maxOverheadFraction, context.callbackSeconds > f * context.trainingSeconds {
            skipped += 1
            return .continue
        }
        if let f = configuration.overheadBudget, calls > 0,
           seconds + seconds / Double(calls) > f * context.trainingSeconds {
            skipped += 1
            return .continue
        }
        try measure(context, final: false)
        return .continue
    }

    public func trainingDidEnd(_ context: TrainingContext<Scalar>) throws {
        defer { overheadShare = context.trainingSeconds > 0 ? seconds / context.trainingSeconds : nil }
        if context.step != lastRecordedStep { try measure(context, final: true) }
        else if configuration.validateEnds, let last = records.last, last["exact_entropy"] == nil {
            // The last step was measured without validation: validate it now.
            try measure(context, final: true, replaceLast: true)
        }
    }

    /// One measurement at the context's parameters.
    func measure(_ context: TrainingContext<Scalar>, final: Bool, replaceLast: Bool = false) throws {
        let start = DispatchTime.now().uptimeNanoseconds
        defer { seconds += Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9 }
        let validate = (configuration.validateEnds && (calls == 0 || final))
            || (configuration.exactEvery.map { calls % $0 == 0 } ?? false)
        let (estimate, exact) = try configuration.estimator.measure(
            network: context.network, inputs: probeInputs, targets: probeTargets, exact: validate)
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
        if replaceLast, !records.isEmpty { records.removeLast() }
        try writer?.append(record)
        records.append(record)
        calls += 1
        lastRecordedStep = context.step
    }
}

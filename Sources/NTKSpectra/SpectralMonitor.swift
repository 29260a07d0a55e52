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
/// - Cost control: `spectral.maxApplications` bounds the NTK products per call, and
///   `maxOverheadFraction` skips a scheduled call while the time spent in the monitor
///   exceeds that fraction of training time.
/// - Validation: the exact dense spectrum (Double) is computed at the first and last call
///   and every `exactEvery` calls, and the record states the errors and whether the exact
///   entropy lies inside the reported interval.
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
        try measure(context, final: false)
        return .continue
    }

    public func trainingDidEnd(_ context: TrainingContext<Scalar>) throws {
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
        let estimate = try configuration.estimator.estimate(
            network: context.network, inputs: probeInputs, targets: probeTargets)
        var record = estimate.fields
        record["run"] = .string(configuration.run)
        record["step"] = .integer(context.step)
        record["epoch"] = .integer(context.epoch)
        record["loss"] = context.batchLoss.map { .number($0) } ?? .null
        record["training_seconds"] = .number(context.trainingSeconds)
        let validate = (configuration.validateEnds && (calls == 0 || final))
            || (configuration.exactEvery.map { calls % $0 == 0 } ?? false)
        if validate, let exactNetwork = context.network as? Network<Double> {
            let inputs = probeInputs.converted(to: Double.self)
            let exact = try ExactNTK(kind: configuration.estimator.kind, batchSize: configuration.estimator.batchSize,
                                     conventions: configuration.estimator.conventions)
                .spectrum(network: exactNetwork, inputs: inputs)
            record.merge(estimate.comparisonFields(exact: exact)) { _, new in new }
        }
        record["monitor_seconds"] = .number(Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
        if replaceLast, !records.isEmpty { records.removeLast() }
        try writer?.append(record)
        records.append(record)
        calls += 1
        lastRecordedStep = context.step
    }
}

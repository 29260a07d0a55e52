import Foundation
import NTKLinearAlgebra
import NTKNetworks
import Testing
@testable import NTKSpectra

/// `SpectralMonitor` in-process, on a tiny MLP and a short `Trainer` run: which steps it
/// records, which records it validates against the exact spectrum, what the overhead budget
/// skips, and the re-validation of a last record taken without its exact check. Every
/// assertion reads the records (steps, `validated`, the exact fields), never a number fixed
/// in advance.
@Suite("Spectral monitor")
struct SpectralMonitorTests {
    init() throws { try BLASThreads.set(1) }

    /// 40 examples of 3 features, targets a smooth function of them; a 3-8-2 tanh MLP.
    static func problem(seed: UInt64 = 3) throws -> (network: Network<Double>, inputs: Matrix<Double>, targets: Matrix<Double>) {
        var g = SeededGenerator(seed: seed)
        let x = try Matrix(rows: 40, columns: 3, storage: [Double].gaussian(count: 120, using: &g))
        var y = Matrix<Double>(rows: 40, columns: 2)
        for i in 0..<40 {
            y[i, 0] = tanh(x[i, 0] - x[i, 1])
            y[i, 1] = 0.5 * x[i, 2]
        }
        let network = try Network<Double>.mlp(inputSize: 3, hiddenSizes: [8], outputSize: 2, activation: .tanh, seed: seed)
        return (network, x, y)
    }

    /// The first `count` rows of `m` (the monitor's fixed probe inputs).
    static func rows(_ m: Matrix<Double>, _ count: Int) throws -> Matrix<Double> {
        try Matrix(rows: count, columns: m.columns, storage: Array(m.storage[0..<(count * m.columns)]))
    }

    /// A monitor on the matrix-free route (so that an unvalidated record carries no exact fields).
    static func configuration(every: Int) -> SpectralMonitor<Double>.Configuration {
        var config = SpectralMonitor<Double>.Configuration()
        config.every = every
        config.estimator.route = .matrixFree
        config.estimator.spectral.maxApplications = 120
        config.estimator.spectral.seed = 7
        return config
    }

    /// Trains 10 steps per epoch (40 examples, batches of 4) with `callbacks`; returns the total steps.
    static func train(_ network: inout Network<Double>, _ x: Matrix<Double>, _ y: Matrix<Double>, epochs: Int,
                      callbacks: [any TrainingCallback<Double>]) throws -> Int {
        let trainer = Trainer(epochs: epochs, batchSize: 4, seed: 1, loss: .meanSquaredError(),
                              optimizer: SGD<Double>(learningRate: 0.05, momentum: 0.9))
        _ = try trainer.train(network: &network, inputs: x, targets: y, callbacks: callbacks)
        return epochs * 10
    }

    static func step(_ r: [String: JSONValue]) -> Int? { r["step"]?.intValue }
    static func validated(_ r: [String: JSONValue]) -> Bool { r["validated"]?.boolValue == true }

    /// `exactEvery` E: record i (in call order) is validated exactly when i is a multiple of E,
    /// or it is the first or the last; validated records carry the exact fields, the others not.
    @Test(arguments: [2, 3])
    func exactValidationEveryECalls(exactEvery: Int) throws {
        var (network, x, y) = try Self.problem()
        var config = Self.configuration(every: 2)
        config.exactEvery = exactEvery
        let monitor = try SpectralMonitor(configuration: config, probeInputs: try Self.rows(x, 6))
        let total = try Self.train(&network, x, y, epochs: 1, callbacks: [monitor])
        let records = monitor.records
        #expect(records.compactMap(Self.step) == Array(stride(from: 0, through: total, by: 2)))
        #expect(monitor.skipped == 0)
        for (i, r) in records.enumerated() {
            let expected = i % exactEvery == 0 || i == records.count - 1
            #expect(Self.validated(r) == expected, "record \(i) (step \(Self.step(r) ?? -1))")
            #expect((r["exact_entropy"] != nil) == expected, "record \(i)")
            #expect((r["exact_in_interval"] != nil) == expected, "record \(i)")
            if expected {
                #expect((r["validation_seconds"]?.doubleValue ?? -1) >= 0)
                #expect((r["exact_trace"]?.doubleValue).map { $0 > 0 } == true)
            } else {
                #expect(r["validation_seconds"]?.doubleValue == 0)
            }
        }
        // The validated count follows from the rule alone.
        let multiples = (records.count - 1) / exactEvery + 1
        let lastIsMultiple = (records.count - 1) % exactEvery == 0
        #expect(records.filter(Self.validated).count == multiples + (lastIsMultiple ? 0 : 1))
    }

    /// Without `exactEvery` only the first and the last record are validated.
    @Test func onlyTheEndsAreValidatedByDefault() throws {
        var (network, x, y) = try Self.problem(seed: 4)
        let monitor = try SpectralMonitor(configuration: Self.configuration(every: 3), probeInputs: try Self.rows(x, 6))
        let total = try Self.train(&network, x, y, epochs: 1, callbacks: [monitor])
        let records = monitor.records
        #expect(records.first.flatMap(Self.step) == 0 && records.last.flatMap(Self.step) == total)
        #expect(records.map(Self.validated) == records.indices.map { $0 == 0 || $0 == records.count - 1 })
    }

    /// `overheadBudget` F: a scheduled record is skipped when the monitor's time so far plus its
    /// mean record time would exceed F × the training time; the first and the last step are
    /// always recorded, and recorded + skipped = scheduled. A tiny network's steps are far
    /// cheaper than a record, so a small F must skip.
    @Test func overheadBudgetSkipsRecordsButKeepsTheEnds() throws {
        var (network, x, y) = try Self.problem(seed: 5)
        var config = Self.configuration(every: 1)
        config.overheadBudget = 0.01
        let monitor = try SpectralMonitor(configuration: config, probeInputs: try Self.rows(x, 6))
        let total = try Self.train(&network, x, y, epochs: 3, callbacks: [monitor])
        let records = monitor.records
        let steps = records.compactMap(Self.step)
        #expect(steps.first == 0 && steps.last == total)
        #expect(steps == steps.sorted() && Set(steps).count == steps.count)
        #expect(monitor.skipped > 0)
        // Scheduled: step 0, every step 1..<total, and the last.
        #expect(records.count + monitor.skipped == 1 + (total - 1) + 1)
        // Every record between the ends passed the rule when it was taken.
        var monitorSeconds = 0.0
        for (i, r) in records.enumerated() {
            if i > 0, i < records.count - 1 {
                let training = try #require(r["training_seconds"]?.doubleValue)
                #expect(monitorSeconds + monitorSeconds / Double(i) <= 0.01 * training, "record \(i) at step \(steps[i])")
            }
            monitorSeconds += r["monitor_seconds"]?.doubleValue ?? 0
        }
        #expect(abs(monitorSeconds - monitor.seconds) <= 1e-9 * max(1, monitor.seconds))
        // The same run without the budget records every step.
        var (network2, _, _) = try Self.problem(seed: 5)
        let unbounded = try SpectralMonitor(configuration: Self.configuration(every: 1), probeInputs: try Self.rows(x, 6))
        _ = try Self.train(&network2, x, y, epochs: 3, callbacks: [unbounded])
        #expect(unbounded.records.count == total + 1 && unbounded.skipped == 0)
        #expect(records.count < unbounded.records.count)
    }

    /// Stops training on a step the monitor has just recorded without validation.
    final class StopAt: TrainingCallback {
        typealias Scalar = Double
        let step: Int
        init(step: Int) { self.step = step }
        func stepDidEnd(_ context: TrainingContext<Double>) throws -> TrainingDecision {
            context.step == step ? .stop : .continue
        }
    }

    /// A run that ends on a step already recorded without its exact check (here: stopped early
    /// at a monitored step): `trainingDidEnd` re-measures that step validated and replaces the
    /// record, in memory and on disk, so each step keeps one record and the last is validated.
    @Test func lastRecordIsRevalidatedInPlace() throws {
        var (network, x, y) = try Self.problem(seed: 6)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("monitor-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("records.jsonl")
        let monitor = try SpectralMonitor(configuration: Self.configuration(every: 4), probeInputs: try Self.rows(x, 6),
                                          output: url, truncate: true)
        // The monitor runs first, so step 8 is recorded (unvalidated) before the stop is seen.
        _ = try Self.train(&network, x, y, epochs: 2, callbacks: [monitor, StopAt(step: 8)])
        let records = monitor.records
        #expect(records.compactMap(Self.step) == [0, 4, 8])
        #expect(records.map(Self.validated) == [true, false, true])
        #expect(records.last?["exact_entropy"] != nil && records[1]["exact_entropy"] == nil)
        let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == records.count)
        let last = try #require(try JSONSerialization.jsonObject(with: Data(lines.last!.utf8)) as? [String: Any])
        #expect(last["step"] as? Int == 8 && last["validated"] as? Bool == true && last["exact_entropy"] != nil)
    }

    /// A run stopped on a monitored step that was already validated (`exactEvery` 2: calls 0
    /// and 2) keeps that record as it is: nothing is measured twice.
    @Test func validatedLastRecordIsNotMeasuredAgain() throws {
        var (network, x, y) = try Self.problem(seed: 8)
        var config = Self.configuration(every: 4)
        config.exactEvery = 2
        let monitor = try SpectralMonitor(configuration: config, probeInputs: try Self.rows(x, 6))
        _ = try Self.train(&network, x, y, epochs: 2, callbacks: [monitor, StopAt(step: 8)])
        #expect(monitor.records.compactMap(Self.step) == [0, 4, 8])
        #expect(monitor.records.map(Self.validated) == [true, false, true])
    }

    /// A monitor resumed at a step it already recorded (here step 0: a run resumed from a
    /// checkpoint taken before its first update) does not record that step again.
    @Test func resumedMonitorDoesNotRecordItsLastStepAgain() throws {
        var (network, x, y) = try Self.problem(seed: 9)
        let monitor = try SpectralMonitor(configuration: Self.configuration(every: 4), probeInputs: try Self.rows(x, 6))
        monitor.resume(recordCount: 1, lastStep: 0, lastValidated: true)
        _ = try Self.train(&network, x, y, epochs: 1, callbacks: [monitor])
        #expect(monitor.records.compactMap(Self.step) == [4, 8, 10])
        #expect(monitor.records.last.map(Self.validated) == true)
    }
}

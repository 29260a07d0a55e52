import ArgumentParser
import Foundation
import NTKDatasets
import NTKEstimation
import NTKLinearAlgebra
import NTKNetworks
import NTKSpectra

/// `ntk-spectra demo`: the main job. Trains a small and a wide network on the embedded UCI
/// digits, monitors the NTK's entropy and trace through training (matrix-free estimates,
/// validated against the exact dense spectrum at the first and last record), prints a table
/// and writes JSON Lines records and an SVG figure.
public struct DemoCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Train a small and a wide network on the embedded digits and watch their NTK entropy and trace.")

    @Option(name: .long, help: "Directory for the JSON Lines records and the SVG figure.")
    public var output: String = "ntk-demo"

    @Option(name: .long, help: "Training epochs per network.")
    public var epochs: Int = 12

    @Option(name: .long, help: "Probe inputs whose NTK is monitored (full kernel: 10 × this).")
    public var probeExamples: Int = 100

    @Option(name: .long, help: "Monitor every this many optimizer steps.")
    public var every: Int = 12

    @Option(name: .long, help: "Random seed (initialization, shuffling, probes).")
    public var seed: UInt64 = 0

    @Option(name: .long, help: "Route of each record: auto (the cheapest predicted), dense, kernel-lanczos or matrix-free.")
    public var route: SpectralRoute = .auto

    @Flag(name: .long, help: "Asynchronous records: each on a parameter snapshot in the monitor's thread while training continues (OpenBLAS threads split between the two).")
    public var monitorAsync = false

    @Flag(name: .customLong("warm-start"), inversion: .prefixedNo, help: "Warm-start each record from the previous one (top Ritz vectors refreshed and accepted by residual, the same probes); off by default (--no-warm-start: every record cold).")
    public var warmStart = false
    @OptionGroup public var runtime: RuntimeOptions

    public init() {}

    public func validate() throws {
        guard epochs >= 1 else { throw ValidationError("--epochs must be at least 1, got \(epochs)") }
        guard (2...1797).contains(probeExamples) else {
            throw ValidationError("--probe-examples must be between 2 and 1797, got \(probeExamples)")
        }
        guard every >= 1 else { throw ValidationError("--every must be at least 1, got \(every)") }
    }

    public func run() throws {
        try runtime.applyThreads(sharedWithMonitor: monitorAsync)
        let started = DispatchTime.now().uptimeNanoseconds
        let directory = URL(fileURLWithPath: output)
        try OutputFiles.createDirectory(directory, option: "--output")

        let digits = try EmbeddedDatasets.digits(as: Double.self)
        let (train, test) = try digits.split(trainFraction: 0.8, seed: seed)
        let probes = try test.subset(Array(0..<min(probeExamples, test.count)))
        runtime.progress("demo: UCI digits \(train.count) train / \(test.count) test; NTK monitored on \(probes.count) test inputs × 10 outputs (N = \(probes.count * 10)); OpenBLAS \(BLASThreads.coreName) × \(BLASThreads.count)")

        let runs: [(name: String, hidden: [Int], learningRate: Double)] = [
            ("small", [32], 0.1),
            ("wide", [512, 512], 0.05),
        ]
        var summaries: [DemoSummary] = []
        for run in runs {
            summaries.append(try trainAndMonitor(run.name, hidden: run.hidden, learningRate: run.learningRate,
                                       train: train, test: test, probes: probes, directory: directory))
        }
        let figure = directory.appendingPathComponent("ntk_demo.svg")
        try DemoFigure(summaries: summaries).figure().write(to: figure)
        Console.current.print(DemoSummary.table(summaries))
        let total = Double(DispatchTime.now().uptimeNanoseconds - started) * 1e-9
        Console.current.print("records: " + summaries.map { directory.appendingPathComponent("\($0.name).jsonl").path }.joined(separator: ", "))
        Console.current.print("figure:  \(figure.path)")
        Console.current.print(String(format: "total %.1f s", total))
    }

    func trainAndMonitor(_ name: String, hidden: [Int], learningRate: Double, train: Dataset<Double>, test: Dataset<Double>,
               probes: Dataset<Double>, directory: URL) throws -> DemoSummary {
        var network = try Network<Double>.mlp(
            inputSize: 64, hiddenSizes: hidden, outputSize: 10, activation: .tanh, seed: seed)
        let trainer = Trainer(
            epochs: epochs, batchSize: 64, seed: seed, loss: .meanSquaredError(reduction: .halfSquaredNorm),
            optimizer: SGD<Double>(learningRate: learningRate, momentum: 0.9))
        var monitorConfig = SpectralMonitor<Double>.Configuration()
        monitorConfig.every = every
        monitorConfig.run = name
        monitorConfig.estimator.spectral.rtol = 0.01
        monitorConfig.estimator.spectral.maxApplications = 400
        monitorConfig.estimator.spectral.seed = seed &+ 1
        monitorConfig.estimator.route = route
        monitorConfig.asynchronous = monitorAsync
        monitorConfig.warmStart = warmStart
        let monitor = try SpectralMonitor(
            configuration: monitorConfig, probeInputs: probes.inputs, probeTargets: probes.targets,
            output: directory.appendingPathComponent("\(name).jsonl"), truncate: true)
        let steps = trainer.epochs * ((train.count + 63) / 64)
        runtime.progress("demo: training \(name) MLP 64-\(hidden.map(String.init).joined(separator: "-"))-10 tanh (P = \(network.parameterCount)), \(steps) SGD steps, monitor every \(every)")
        let reporter = ProgressReporter<Double>(name: name, totalSteps: steps, monitor: monitor, runtime: runtime)
        let started = DispatchTime.now().uptimeNanoseconds
        let report = try trainer.train(network: &network, inputs: train.inputs, targets: train.targets,
                                       callbacks: [monitor, reporter])
        let wall = Double(DispatchTime.now().uptimeNanoseconds - started) * 1e-9
        let evaluation = try trainer.evaluate(network: network, inputs: test.inputs, targets: test.targets)
        return DemoSummary(name: name, hidden: hidden, parameterCount: network.parameterCount,
                           records: monitor.records, testAccuracy: evaluation.accuracy ?? 0,
                           trainingSeconds: report.trainingSeconds, monitorSeconds: monitor.seconds,
                           wallSeconds: wall, asynchronous: monitorAsync)
    }
}

/// Progress lines on stderr as the monitor records.
final class ProgressReporter<Scalar: BLASScalar>: TrainingCallback {
    let name: String
    let totalSteps: Int
    let monitor: SpectralMonitor<Scalar>
    let runtime: RuntimeOptions
    var reported = 0

    init(name: String, totalSteps: Int, monitor: SpectralMonitor<Scalar>, runtime: RuntimeOptions) {
        self.name = name; self.totalSteps = totalSteps; self.monitor = monitor; self.runtime = runtime
    }

    func report() {
        guard monitor.records.count > reported, let r = monitor.records.last else { return }
        reported = monitor.records.count
        func num(_ key: String) -> Double { r[key]?.doubleValue ?? .nan }
        let step = r["step"]?.intValue ?? 0
        let loss = num("loss").isFinite ? String(format: "%.4f", num("loss")) : "   —  "
        var line = "  \(name) step \(String(format: "%4d", step))/\(totalSteps)  loss \(loss)"
        line += String(format: "  entropy %.4f ± %.4f  trace %.4g  (%d matvecs, %.2f s)",
                       num("entropy"), num("entropy_stderr"), num("trace"), r["matvecs"]?.intValue ?? 0,
                       num("monitor_seconds"))
        if r["exact_entropy"] != nil {
            line += String(format: "  exact %.4f (err %.2f%%)", num("exact_entropy"), 100 * num("entropy_relative_error"))
        }
        runtime.progress(line)
    }

    func trainingDidBegin(_ context: TrainingContext<Scalar>) throws -> TrainingDecision { report(); return .continue }
    func stepDidEnd(_ context: TrainingContext<Scalar>) throws -> TrainingDecision { report(); return .continue }
    func trainingDidEnd(_ context: TrainingContext<Scalar>) throws { report() }
}

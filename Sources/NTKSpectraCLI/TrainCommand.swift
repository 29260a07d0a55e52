import ArgumentParser
import Foundation
import NTKDatasets
import NTKEstimation
import NTKLinearAlgebra
import NTKNetworks
import NTKONNX
import NTKSpectra

/// `ntk-spectra train`: train a network and record the NTK's collective variables.
public struct TrainCommand: ParsableCommand {
    public enum DatasetName: String, ExpressibleByArgument, CaseIterable {
        case digits, moons, spirals, teacher, sinusoid, npy
        case fashionMNIST = "fashion-mnist"
    }
    public enum Family: String, ExpressibleByArgument, CaseIterable { case mlp, cnn, resnet }
    public enum OptimizerName: String, ExpressibleByArgument, CaseIterable { case sgd, adam }
    public enum LossName: String, ExpressibleByArgument, CaseIterable { case mse, crossEntropy = "cross-entropy" }

    public static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a network and record the NTK's entropy, trace and more as JSON Lines.")

    @Option(name: .long, help: "Model spec (JSON) or ONNX file exported from PyTorch; overrides --family.")
    public var model: String?
    @Option(name: .long, help: "Built-in family when no --model: mlp, cnn (digits as 1×8×8 images), resnet.")
    public var family: Family = .mlp
    @Option(name: .long, parsing: .upToNextOption, help: "Hidden widths (mlp) or channels (cnn/resnet: first value).")
    public var hidden: [Int] = [128, 128]
    @Option(name: .long, help: "Activation of the built-in family.")
    public var activation: String = "tanh"

    @Option(name: .long, help: "Data set: digits (embedded), moons, spirals, teacher, sinusoid, npy, fashion-mnist (Debian's dataset-fashion-mnist package: training split).")
    public var dataset: DatasetName = .digits
    @Option(name: .long, help: "With --dataset npy: inputs .npy [n, ...].")
    public var inputs: String?
    @Option(name: .long, help: "With --dataset npy: targets .npy [n, k] or labels [n].")
    public var targets: String?
    @Option(name: .long, help: "Synthetic data set size (default 1000), or the first N examples of fashion-mnist (default all 60000).")
    public var samples: Int?

    @Option(name: .long, help: "Optimizer: sgd (momentum 0.9) or adam.")
    public var optimizer: OptimizerName = .sgd
    @Option(name: .long, help: "Learning rate.")
    public var lr: Double = 0.05
    @Option(name: .long, help: "Weight decay.")
    public var weightDecay: Double = 0
    @Option(name: .long, help: "Loss: mse or cross-entropy.")
    public var loss: LossName = .mse
    @Option(name: .long, help: "Epochs.")
    public var epochs: Int = 10
    @Option(name: .long, help: "Mini-batch size.")
    public var batchSize: Int = 64

    @Option(name: .long, help: "Monitor every this many steps (default 20; 1 with --monitor-overhead, which then chooses the steps).")
    public var monitorEvery: Int?
    @Option(name: .long, help: "Keep the monitor's time at most this fraction of training time, in (0, 1): scheduled records are skipped when they would exceed it (first and last step always recorded).")
    public var monitorOverhead: Double?
    @Flag(name: .long, help: "Run each record on a snapshot of the parameters in the monitor's own thread while training continues (OpenBLAS: one thread each for training and monitor).")
    public var monitorAsync = false
    @Flag(name: .customLong("warm-start"), inversion: .prefixedNo, help: "Warm-start each record from the previous one (top Ritz vectors refreshed and accepted by residual, the same probes); off by default (--no-warm-start: every record cold).")
    public var warmStart = false
    @Option(name: .long, help: "Route of each record: auto (the cheapest predicted that fits --memory-budget), dense, kernel-lanczos or matrix-free.")
    public var route: SpectralRoute = .auto
    @Option(name: .long, help: "Memory budget of each record's route in MiB (default: half the physical memory, at most 8192).")
    public var memoryBudget: Int?
    @Option(name: .long, help: "NTK products per monitor call (budget).")
    public var monitorMatvecs: Int = 400
    @Option(name: .long, help: "Probe inputs whose NTK is monitored.")
    public var monitorExamples: Int = 100
    @Option(name: .long, help: "Exact validation every this many monitor calls (besides first and last).")
    public var exactEvery: Int?
    @Option(name: .long, help: "Skip monitor calls while the monitor takes more than this fraction of training time.")
    public var maxOverhead: Double?
    @Option(name: .long, help: "Kernel: full or traced.")
    public var kernel: KernelKind = .full

    @Option(name: .long, help: "Output directory (records.jsonl, weights.safetensors).")
    public var output: String = "ntk-train"
    @Flag(name: .long, help: "Continue a killed or finished run from OUTPUT/checkpoint.safetensors (same options; --epochs may be larger): records after the checkpoint are dropped and new ones appended.")
    public var resume = false
    @Option(name: .long, help: "Checkpoint weights, optimizer and shuffling state to OUTPUT/checkpoint.safetensors every this many steps, and at the end (default: the monitor's interval; 100 with --monitor-overhead).")
    public var checkpointEvery: Int?
    @Option(name: .long, help: "Stop with an error when a batch loss exceeds this multiple of the first batch's loss (a diverging run).")
    public var maxLossGrowth: Double = 1e6
    @Option(name: .long, help: "Random seed.")
    public var seed: UInt64 = 0

    public init() {}

    public func validate() throws {
        guard epochs >= 1 else { throw ValidationError("--epochs must be at least 1, got \(epochs)") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
        guard lr > 0, lr.isFinite else { throw ValidationError("--lr must be positive, got \(lr)") }
        if let monitorEvery, monitorEvery < 1 { throw ValidationError("--monitor-every must be at least 1, got \(monitorEvery)") }
        if let checkpointEvery, checkpointEvery < 1 { throw ValidationError("--checkpoint-every must be at least 1, got \(checkpointEvery)") }
        guard maxLossGrowth > 1, maxLossGrowth.isFinite else { throw ValidationError("--max-loss-growth must be a finite factor > 1, got \(maxLossGrowth)") }
        if let f = monitorOverhead, !(f > 0 && f < 1) {
            throw ValidationError("--monitor-overhead must be a fraction of training time in (0, 1), got \(f)")
        }
        if let m = memoryBudget, !(1...(Int.max >> 21)).contains(m) {
            throw ValidationError("--memory-budget must be a positive number of MiB, got \(m)")
        }
        guard monitorMatvecs >= 2 else { throw ValidationError("--monitor-matvecs must be at least 2") }
        guard monitorExamples >= 2 else { throw ValidationError("--monitor-examples must be at least 2") }
        if let samples, samples < 4 { throw ValidationError("--samples must be at least 4, got \(samples)") }
        guard ActivationFunction(rawValue: activation) != nil else {
            throw ValidationError("--activation must be one of \(ActivationFunction.allCases.map(\.rawValue).joined(separator: ", ")), got '\(activation)'")
        }
        if dataset == .npy, inputs == nil || targets == nil {
            throw ValidationError("--dataset npy needs --inputs and --targets")
        }
        guard !hidden.isEmpty, hidden.allSatisfy({ $0 >= 1 }) else { throw ValidationError("--hidden needs positive widths") }
    }

    func data() throws -> Dataset<Double> {
        if let samples, dataset != .fashionMNIST {
            // A synthetic set holds inputs (≤ 16 features) and targets: checked before generating.
            try SizeLimit.checkAllocation("--samples \(samples) synthetic examples", count: SizeLimit.product([samples, 32]),
                                          bytesPerElement: 8)
        }
        switch dataset {
        case .digits: return try EmbeddedDatasets.digits(as: Double.self)
        case .moons: return try SyntheticDatasets.twoMoons(count: samples ?? 1000, seed: seed)
        case .spirals: return try SyntheticDatasets.spirals(count: samples ?? 1000, seed: seed)
        case .teacher: return try SyntheticDatasets.teacherStudent(count: samples ?? 1000, inputSize: 16, outputSize: 1, seed: seed)
        case .sinusoid: return try SyntheticDatasets.sinusoid(count: samples ?? 1000, seed: seed)
        case .fashionMNIST: return try DebianDatasets.fashionMNIST(split: .train, limit: samples, as: Double.self)
        case .npy:
            return try DatasetLoaders.npy(inputs: URL(fileURLWithPath: inputs!), labels: nil,
                                          targets: URL(fileURLWithPath: targets!), classCount: nil, name: "npy", as: Double.self)
        }
    }

    func network(for data: Dataset<Double>) throws -> Network<Double> {
        if let model {
            let bytes = try readFile(model, what: "model")
            if ModelSource.isONNX(path: model, data: bytes) {
                // An exported PyTorch model trains from its own initializers.
                do { return try ONNXImporter.network(ONNXModel(data: bytes), as: Double.self).network } catch {
                    throw CLIError.invalidFile(model, "\(error)")
                }
            }
            let spec: ModelSpec
            do { spec = try ModelSpec.decode(json: bytes) } catch {
                throw CLIError.invalidFile(model, "\(error)")
            }
            return try spec.makeNetwork(Double.self, seed: seed)
        }
        let act = ActivationFunction(rawValue: activation)!
        let k = data.outputSize
        switch family {
        case .mlp:
            return try Network<Double>.mlp(inputSize: data.inputSize, hiddenSizes: hidden, outputSize: k, activation: act, seed: seed)
        case .cnn:
            return try ModelSpec.cnn(inputShape: data.inputShape.count == 3 ? data.inputShape : [1, 8, 8],
                                     channels: hidden, outputSize: k, activation: act).makeNetwork(Double.self, seed: seed)
        case .resnet:
            return try ModelSpec.resnet(inputShape: data.inputShape.count == 3 ? data.inputShape : [1, 8, 8],
                                        width: hidden[0], blocks: max(1, hidden.count), outputSize: k, activation: act)
                .makeNetwork(Double.self, seed: seed)
        }
    }

    /// The options a resumed run must share with the run that wrote the checkpoint (not
    /// --epochs, which may grow, nor the monitor's options).
    func fingerprint(network: Network<Double>) throws -> [String: String] {
        var f: [String: String] = [
            "dataset": dataset.rawValue, "samples": samples.map { "\($0)" } ?? "default", "seed": "\(seed)",
            "batch-size": "\(batchSize)", "optimizer": optimizer.rawValue, "lr": "\(lr)", "weight-decay": "\(weightDecay)",
            "loss": loss.rawValue, "parameter-count": "\(network.parameterCount)",
        ]
        if let model {
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a of the spec's bytes
            for byte in try readFile(model, what: "model spec") { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
            f["model"] = String(hash, radix: 16)
        } else {
            f["family"] = family.rawValue
            f["hidden"] = hidden.map(String.init).joined(separator: " ")
            f["activation"] = activation
        }
        if dataset == .npy {
            f["inputs"] = inputs ?? ""
            f["targets"] = targets ?? ""
        }
        return f.reduce(into: [:]) { $0["option." + $1.key] = $1.value }
    }

    /// Reads OUTPUT/checkpoint.safetensors for --resume and checks that it was written with these options.
    func loadCheckpoint(_ url: URL, fingerprint: [String: String], stepsPerEpoch: Int) throws -> TrainingCheckpoint<Double> {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw CLIError.failed("--resume: no checkpoint \(url.path) (the run was killed before its first checkpoint, or --output differs); start anew without --resume")
        }
        let checkpoint: TrainingCheckpoint<Double>
        do { checkpoint = try TrainingCheckpoint(contentsOf: url) } catch {
            throw CLIError.invalidFile(url.path, "not a usable training checkpoint (--resume): \(error)")
        }
        for key in fingerprint.keys.sorted() where checkpoint.metadata[key] != fingerprint[key] {
            let option = String(key.dropFirst("option.".count))
            throw CLIError.failed(
                "--resume: checkpoint \(url.path) was written with --\(option) \(checkpoint.metadata[key] ?? "unset"), this run has --\(option) \(fingerprint[key]!); use the same options or start anew without --resume")
        }
        guard checkpoint.step <= epochs * stepsPerEpoch else {
            throw CLIError.failed(
                "--resume: checkpoint \(url.path) is at step \(checkpoint.step), past the \(epochs * stepsPerEpoch) steps of --epochs \(epochs); raise --epochs to at least \((checkpoint.step + stepsPerEpoch - 1) / stepsPerEpoch)")
        }
        return checkpoint
    }

    public func run() throws {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        // Asynchronous records share the cores with training: OpenBLAS's thread count is
        // process-wide, so each side gets cores/2 (at least one).
        let blasThreads = monitorAsync ? max(1, cores / 2) : cores
        try BLASThreads.set(blasThreads)
        let all = try data()
        let (train, test) = try all.split(trainFraction: 0.8, seed: seed)
        var network = try network(for: all)
        guard network.inputSize == all.inputSize, network.outputCount == all.outputSize else {
            throw CLIError.invalidOption("model", "input size \(all.inputSize) and \(all.outputSize) outputs for data set \(dataset.rawValue), the model has \(network.inputSize) and \(network.outputCount)")
        }
        guard monitorExamples <= test.count else {
            throw CLIError.invalidOption(
                "--monitor-examples", "at most the \(test.count) held-out examples of \(all.name) (20% of \(all.count)), got \(monitorExamples)")
        }
        let probes = try test.subset(Array(0..<monitorExamples))
        let monitorEvery = self.monitorEvery ?? (monitorOverhead == nil ? 20 : 1)
        let directory = URL(fileURLWithPath: output)
        var config = SpectralMonitor<Double>.Configuration()
        config.every = monitorEvery
        config.exactEvery = exactEvery
        config.maxOverheadFraction = maxOverhead
        config.overheadBudget = monitorOverhead
        config.asynchronous = monitorAsync
        config.warmStart = warmStart
        config.estimator.route = route
        if let memoryBudget { config.estimator.memoryBudgetBytes = memoryBudget << 20 }
        config.run = model.map { URL(fileURLWithPath: $0).deletingPathExtension().lastPathComponent } ?? family.rawValue
        config.estimator.kind = kernel
        config.estimator.spectral.maxApplications = monitorMatvecs
        config.estimator.spectral.seed = seed &+ 1
        let recordsURL = directory.appendingPathComponent("records.jsonl")
        let checkpointURL = directory.appendingPathComponent("checkpoint.safetensors")
        let weightsURL = directory.appendingPathComponent("weights.safetensors")
        let fingerprint = try self.fingerprint(network: network)
        // Resume: the checkpoint must exist and match; records after it are dropped (atomically).
        var checkpoint: TrainingCheckpoint<Double>? = nil
        var kept: [[String: Any]] = []
        if resume {
            checkpoint = try loadCheckpoint(checkpointURL, fingerprint: fingerprint, stepsPerEpoch: (train.count + batchSize - 1) / batchSize)
            let step = checkpoint!.step
            kept = try JSONLinesWriter.keepRecords(in: recordsURL) { ($0["step"] as? Int).map { $0 <= step } ?? false }
        } else {
            try OutputFiles.createDirectory(directory, option: "--output")
            // A checkpoint of an earlier run must not pair with this run's records.
            if FileManager.default.fileExists(atPath: checkpointURL.path) { try FileManager.default.removeItem(at: checkpointURL) }
        }
        let monitor = try SpectralMonitor(configuration: config, probeInputs: probes.inputs, probeTargets: probes.targets,
                                          output: recordsURL, truncate: !resume)
        if checkpoint != nil {
            monitor.resume(recordCount: kept.count, lastStep: kept.last?["step"] as? Int,
                           lastValidated: kept.last?["exact_entropy"].map { !($0 is NSNull) } ?? false)
        }
        let checkpointEvery = self.checkpointEvery ?? (monitorOverhead == nil ? monitorEvery : 100)
        let writer = try CheckpointWriter<Double>(url: checkpointURL, every: checkpointEvery, metadata: fingerprint)
        let lossFunction: Loss = loss == .mse ? .meanSquaredError() : .softmaxCrossEntropy
        let steps = epochs * ((train.count + batchSize - 1) / batchSize)
        let from = checkpoint.map { ", resuming at step \($0.step)" } ?? ""
        progress("train: \(all.name) \(train.count)/\(test.count), P = \(network.parameterCount), \(steps) steps\(from), monitor every \(monitorEvery) on \(probes.count) inputs, checkpoint every \(checkpointEvery)")
        let reporter = ProgressReporter<Double>(name: config.run, totalSteps: steps, monitor: monitor)
        // The checkpoint first: every record on disk then has a checkpoint at or after its step.
        let callbacks: [any TrainingCallback<Double>] = [writer, monitor, reporter]
        let report: (seconds: Double, callback: Double)
        let evaluation: Evaluation
        do {
            switch optimizer {
            case .sgd:
                var trainer = Trainer(epochs: epochs, batchSize: batchSize, seed: seed, loss: lossFunction,
                                      optimizer: SGD<Double>(learningRate: lr, momentum: 0.9, weightDecay: weightDecay))
                trainer.maxLossGrowth = maxLossGrowth
                let r = try trainer.train(network: &network, inputs: train.inputs, targets: train.targets, callbacks: callbacks,
                                          resumeFrom: checkpoint)
                report = (r.trainingSeconds, r.callbackSeconds)
                evaluation = try trainer.evaluate(network: network, inputs: test.inputs, targets: test.targets)
            case .adam:
                var trainer = Trainer(epochs: epochs, batchSize: batchSize, seed: seed, loss: lossFunction,
                                      optimizer: Adam<Double>(learningRate: lr, weightDecay: weightDecay))
                trainer.maxLossGrowth = maxLossGrowth
                let r = try trainer.train(network: &network, inputs: train.inputs, targets: train.targets, callbacks: callbacks,
                                          resumeFrom: checkpoint)
                report = (r.trainingSeconds, r.callbackSeconds)
                evaluation = try trainer.evaluate(network: network, inputs: test.inputs, targets: test.targets)
            }
        } catch let error as TrainingError {
            switch error {
            case .diverged, .lossGrowth, .nonFiniteParameters:
                throw CLIError.failed("\(error); lower --lr (\(lr)); no weights written, records and checkpoint up to the last checkpoint kept in \(directory.path)")
            default: throw error
            }
        }
        guard evaluation.loss.isFinite else {
            throw CLIError.failed("training diverged: the held-out loss is \(evaluation.loss) (--lr \(lr)); no weights written")
        }
        try TrainingCheckpoint<Double>.writeAtomically(network.safetensorsData(dtype: .f64), to: weightsURL)
        var summary: [String: JSONValue] = [
            "test_loss": .number(evaluation.loss), "records": .integer(monitor.records.count),
            "training_seconds": .number(report.seconds), "monitor_seconds": .number(report.callback),
            "monitor_overhead": .number(report.seconds > 0 ? report.callback / report.seconds : 0),
            "records_path": .string(directory.appendingPathComponent("records.jsonl").path),
            "parameter_count": .integer(network.parameterCount),
            "monitor_skipped": .integer(monitor.skipped),
            "monitor_skipped_busy": .integer(monitor.skippedWhileBusy),
            "monitor_async": .bool(monitorAsync),
            "monitor_warm_start": .bool(warmStart),
            "monitor_warm_started_records": .integer(monitor.records.filter { $0["warm_started"] == .bool(true) }.count),
            "blas_threads_training": .integer(blasThreads),
            "blas_threads_monitor": .integer(blasThreads),
            "openblas_core": .string(BLASThreads.coreName),
            "monitor_overhead_budget": monitorOverhead.map { .number($0) } ?? .null,
            "routes": .object(Dictionary(grouping: monitor.records.compactMap { $0["route"]?.stringValue }, by: { $0 })
                .mapValues { .integer($0.count) }),
        ]
        summary["checkpoint_path"] = .string(checkpointURL.path)
        summary["checkpoint_step"] = writer.lastStep.map { .integer($0) } ?? .null
        summary["checkpoints_written"] = .integer(writer.written)
        summary["checkpoint_seconds"] = .number(writer.seconds)
        summary["resumed_from_step"] = checkpoint.map { .integer($0.step) } ?? .null
        summary["records_total"] = .integer(kept.count + monitor.records.count)
        if let accuracy = evaluation.accuracy { summary["test_accuracy"] = .number(accuracy) }
        printJSON(summary)
    }
}

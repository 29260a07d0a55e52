import ArgumentParser
import Foundation
import NTKDatasets
import NTKEstimation
import NTKLinearAlgebra
import NTKNetworks
import NTKONNX
import NTKSpectra
import NTKFormats

/// `ntk-spectra train`: train a network and record the NTK's collective variables.
public struct TrainCommand: ParsableCommand {
    public enum DatasetName: String, ExpressibleByArgument, CaseIterable {
        case digits, moons, spirals, teacher, sinusoid, npy, karate, sbm
        case fashionMNIST = "fashion-mnist"

        /// Node-classification sets: one graph, trained as one example by `--family gcn`.
        var isGraph: Bool { self == .karate || self == .sbm }
    }
    public enum Family: String, ExpressibleByArgument, CaseIterable { case mlp, cnn, resnet, transformer, autoencoder, gcn }
    public enum OptimizerName: String, ExpressibleByArgument, CaseIterable { case sgd, adam }
    public enum LossName: String, ExpressibleByArgument, CaseIterable { case mse, crossEntropy = "cross-entropy" }

    public static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a network and record the NTK's entropy, trace and more as JSON Lines.")

    @Option(name: .long, help: "Model spec (JSON) or ONNX file exported from PyTorch; overrides --family.")
    public var model: String?
    @Option(name: .long, help: "Built-in family when no --model: mlp, cnn (digits as 1×8×8 images), resnet, transformer (an image's rows as tokens; other inputs one token), autoencoder (reconstructs the inputs, MSE), gcn (node classification on --dataset karate or sbm: the whole graph one example, per-node logits, cross-entropy per node on the training nodes).")
    public var family: Family = .mlp
    @Option(name: .long, parsing: .upToNextOption, help: "Hidden widths (mlp, gcn), channels (cnn; resnet: first value), embedding width D per block (transformer: one value per pre-LN block, all equal), or encoder widths then the bottleneck (autoencoder).")
    public var hidden: [Int] = [128, 128]
    @Option(name: .long, help: "Attention heads of --family transformer (must divide D; feed-forward width 2·D).")
    public var heads: Int = 2
    @Option(name: .long, help: "Activation of the built-in family.")
    public var activation: String = "tanh"

    @Option(name: .long, help: "Data set: digits (embedded), moons, spirals, teacher, sinusoid, npy, fashion-mnist (Debian's dataset-fashion-mnist package: training split), karate (Zachary's karate club, 34 nodes) or sbm (stochastic block model, 4 × 50 nodes; --samples sets the nodes) with --family gcn.")
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
    @OptionGroup public var reportFormat: OutputOptions
    @OptionGroup public var runtime: RuntimeOptions

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
        if model == nil {
            if (family == .gcn) != dataset.isGraph {
                throw ValidationError(family == .gcn ? "--family gcn needs a graph data set: --dataset karate or sbm"
                                                     : "--dataset \(dataset.rawValue) is a graph: use --family gcn")
            }
            if family == .gcn, loss != .crossEntropy {
                throw ValidationError("--family gcn trains node classification: use --loss cross-entropy (per node, training nodes only)")
            }
            if family == .autoencoder, loss != .mse { throw ValidationError("--family autoencoder reconstructs its inputs: use --loss mse") }
            if family == .autoencoder, hidden.count < 2 {
                throw ValidationError("--family autoencoder needs encoder widths then the bottleneck, e.g. --hidden 64 16")
            }
            if family == .transformer {
                guard heads >= 1, hidden[0] % heads == 0, Set(hidden).count == 1 else {
                    throw ValidationError("--family transformer needs one width D for all blocks divisible by --heads \(heads), got --hidden \(hidden.map(String.init).joined(separator: " "))")
                }
            }
        } else if dataset.isGraph {
            throw ValidationError("--dataset \(dataset.rawValue) is a graph: use --family gcn (not --model)")
        }
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
        case .karate: return try EmbeddedDatasets.karateClub(as: Double.self)
        case .sbm:
            let nodes = samples ?? 200
            return try SyntheticDatasets.stochasticBlockModel(
                communitySizes: (0..<4).map { nodes / 4 + ($0 < nodes % 4 ? 1 : 0) }, pIn: 0.1, pOut: 0.01, featureSize: 16,
                seed: seed, as: Double.self)
        case .npy:
            return try DatasetLoaders.npy(inputs: URL(fileURLWithPath: inputs!), labels: nil,
                                          targets: URL(fileURLWithPath: targets!), classCount: nil, name: "npy", as: Double.self)
        }
    }

    /// The network to train: --model (its bytes, read once by `run`), else the built-in --family.
    func network(for data: Dataset<Double>, modelBytes: Data? = nil) throws -> Network<Double> {
        if let model {
            let bytes = try modelBytes ?? readFile(model, what: "model")
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
        case .transformer:
            let (tokens, features) = Self.tokens(data.inputShape, inputSize: data.inputSize)
            return try Network<Double>.transformerEncoder(
                sequenceLength: tokens, tokenFeatures: features, embedDimension: hidden[0], headCount: heads,
                feedForwardDimension: 2 * hidden[0], blockCount: hidden.count, outputSize: k, seed: seed)
        case .autoencoder:
            return try ModelSpec.autoencoder(inputSize: data.inputSize, encoderSizes: Array(hidden.dropLast()),
                                             bottleneck: hidden.last!, activation: act).makeNetwork(Double.self, seed: seed)
        case .gcn:
            guard let graph = data.graph, let classes = data.classCount else {
                throw CLIError.failed("--family gcn: data set \(data.name) has no graph or no classes")
            }
            // `data` is the node set (one example per node); the network reads the whole graph.
            return try Network<Double>.gcnNodeModel(
                nodes: graph.nodeCount, edges: graph.edges.map { ($0.source, $0.target) }, inputFeatures: data.inputSize,
                hiddenSizes: hidden, classes: classes, activation: act, seed: seed)
        }
    }

    /// How `--family transformer` reads an example as tokens: a [1, H, W] image as H row
    /// tokens of W pixels; a 64-feature example (digits) as 8 × 8; anything else as one token.
    static func tokens(_ shape: [Int], inputSize: Int) -> (tokens: Int, features: Int) {
        if shape.count == 3, shape[0] == 1 { return (shape[1], shape[2]) }
        if shape.count == 2 { return (shape[0], shape[1]) }
        if inputSize == 64 { return (8, 8) }
        return (1, inputSize)
    }

    /// A node-classification set as `--family gcn` trains it: the whole graph one example
    /// (inputs [1, nodes·features]) with per-node one-hot targets [1, nodes·classes]; the nodes
    /// split 80/20 by `seed` into training nodes (targets of the training example) and held-out
    /// nodes (targets of the test example), the other nodes' targets zero, which
    /// `Loss.groupedSoftmaxCrossEntropy` reads as unlabeled.
    static func graphExamples(_ data: Dataset<Double>, seed: UInt64) throws -> (train: Dataset<Double>, test: Dataset<Double>) {
        guard let labels = data.labels, let classes = data.classCount, let graph = data.graph else {
            throw CLIError.failed("data set \(data.name) is not a labelled graph")
        }
        let n = data.count
        var order = Array(0..<n)
        var generator = SeededGenerator(seed: seed)
        order.shuffle(using: &generator)
        let trainNodes = Set(order.prefix(max(1, (n * 4) / 5)))
        var trainTargets = Matrix<Double>(rows: 1, columns: n * classes), testTargets = Matrix<Double>(rows: 1, columns: n * classes)
        for i in 0..<n {
            if trainNodes.contains(i) { trainTargets.storage[i * classes + labels[i]] = 1 } else { testTargets.storage[i * classes + labels[i]] = 1 }
        }
        guard graph.nodeCount == n else { throw CLIError.failed("data set \(data.name): graph of \(graph.nodeCount) nodes for \(n) examples") }
        let x = try Matrix(rows: 1, columns: n * data.inputSize, storage: data.inputs.storage)
        let shape = [n, data.inputSize]
        return (try Dataset(name: data.name + "-train-nodes", inputs: x, inputShape: shape, targets: trainTargets),
                try Dataset(name: data.name + "-test-nodes", inputs: x, inputShape: shape, targets: testTargets))
    }

    /// The options a resumed run must share with the run that wrote the checkpoint (not
    /// --epochs, which may grow, nor the monitor's options).
    func fingerprint(network: Network<Double>, modelBytes: Data? = nil) throws -> [String: String] {
        var f: [String: String] = [
            "dataset": dataset.rawValue, "samples": samples.map { "\($0)" } ?? "default", "seed": "\(seed)",
            "batch-size": "\(batchSize)", "optimizer": optimizer.rawValue, "lr": "\(lr)", "weight-decay": "\(weightDecay)",
            "loss": loss.rawValue, "parameter-count": "\(network.parameterCount)",
        ]
        if let model {
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a of the spec's bytes
            for byte in try modelBytes ?? readFile(model, what: "model spec") { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
            f["model"] = String(hash, radix: 16)
        } else {
            f["family"] = family.rawValue
            f["hidden"] = hidden.map(String.init).joined(separator: " ")
            if family == .transformer { f["heads"] = "\(heads)" }
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
        // Asynchronous records share the cores with training: OpenBLAS's thread count is
        // process-wide, so each side gets half (at least one).
        let blasThreads = try runtime.applyThreads(sharedWithMonitor: monitorAsync)
        var all = try data()
        if family == .autoencoder, model == nil {
            all = try Dataset(name: all.name + "-reconstruction", inputs: all.inputs, inputShape: all.inputShape, targets: all.inputs)
        }
        let graphTask = family == .gcn && model == nil
        let (train, test) = graphTask ? try Self.graphExamples(all, seed: seed) : try all.split(trainFraction: 0.8, seed: seed)
        // The model file is read once (network and checkpoint fingerprint).
        let modelBytes = try model.map { try readFile($0, what: "model") }
        var network = try network(for: all, modelBytes: modelBytes)
        guard network.inputSize == train.inputSize, network.outputCount == train.outputSize else {
            throw CLIError.invalidOption("model", "input size \(train.inputSize) and \(train.outputSize) outputs for data set \(dataset.rawValue), the model has \(network.inputSize) and \(network.outputCount)")
        }
        guard graphTask || monitorExamples <= test.count else {
            throw CLIError.invalidOption(
                "--monitor-examples", "at most the \(test.count) held-out examples of \(all.name) (20% of \(all.count)), got \(monitorExamples)")
        }
        // A graph task monitors the NTK of its one example, the whole graph (k = nodes·classes).
        let probes = graphTask ? test : try test.subset(Array(0..<monitorExamples))
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
        let fingerprint = try self.fingerprint(network: network, modelBytes: modelBytes)
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
        let lossFunction: Loss = loss == .mse ? .meanSquaredError()
            : graphTask ? .groupedSoftmaxCrossEntropy(classes: all.classCount ?? 2) : .softmaxCrossEntropy
        let steps = epochs * ((train.count + batchSize - 1) / batchSize)
        let from = checkpoint.map { ", resuming at step \($0.step)" } ?? ""
        runtime.progress("train: \(all.name) \(train.count)/\(test.count), P = \(network.parameterCount), \(steps) steps\(from), monitor every \(monitorEvery) on \(probes.count) inputs, checkpoint every \(checkpointEvery)")
        let reporter = ProgressReporter<Double>(name: config.run, totalSteps: steps, monitor: monitor, runtime: runtime)
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
        let summary = CommandReport.TrainingSummary(
            testLoss: evaluation.loss, testAccuracy: evaluation.accuracy, records: monitor.records, keptRecords: kept.count,
            trainingSeconds: report.seconds, monitorSeconds: report.callback,
            recordsPath: directory.appendingPathComponent("records.jsonl").path, parameterCount: network.parameterCount,
            skipped: monitor.skipped, skippedWhileBusy: monitor.skippedWhileBusy, asynchronous: monitorAsync,
            warmStart: warmStart, blasThreads: blasThreads, overheadBudget: monitorOverhead,
            checkpointPath: checkpointURL.path, checkpointStep: writer.lastStep, checkpointsWritten: writer.written,
            checkpointSeconds: writer.seconds, resumedFromStep: checkpoint?.step)
        reportFormat.emit(.training(summary), defaultFormat: .json)
    }
}

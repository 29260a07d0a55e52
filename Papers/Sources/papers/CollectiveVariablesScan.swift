import Foundation
import NTKDatasets
import NTKEstimation
import NTKLinearAlgebra
import NTKNetworks
import NTKSpectra

/// Part 2 of arXiv:2410.07451 (paper §3.1, MNIST there): the width × depth × activation scan.
///
/// Fashion-MNIST (Debian's `dataset-fashion-mnist`; the embedded 8×8 digits for `--quick`),
/// dense networks of depth {1, 2, 3, 4} × width {16, 64, 256} × {ReLU, tanh} and two CNN sizes,
/// each trained by Adam and by SGD with the softmax cross-entropy. At a handful of steps the NTK
/// of a fixed probe set (200 training images, 20 per class, × 10 outputs: N = 2000) is measured
/// both ways from the same network state:
/// - the full kernel by the library's `auto` route (`CollectiveVariableEstimator`; `dense` is
///   exact, `kernel-lanczos` an estimate with a 95 % interval) — the route is recorded;
/// - the paper's block protocol: 200 random 20-point blocks (200 × 200 kernels), mean ± s.d.
///   of the block entropies. A block's kernel is the principal submatrix of the full kernel,
///   so the blocks are read off one exact kernel (`ExactNTK.kernel`, structured Gram) with the
///   blocks `BlockSubsampledSpectrum` draws for the same seed (checked against it in `--quick`).
enum CollectiveVariablesScan {
    struct Architecture {
        var kind: String          // "mlp" or "cnn"
        var depth: Int            // hidden layers (MLP) or conv stages (CNN)
        var width: Int            // hidden width (MLP) or channels of the last stage (CNN)
        var channels: [Int] = []  // CNN

        var tag: String { kind == "mlp" ? "d\(depth)-w\(width)" : "cnn-" + channels.map(String.init).joined(separator: "-") }

        func label(inputSize: Int, outputs: Int) -> String {
            if kind == "mlp" {
                return "MLP \(inputSize)-" + Array(repeating: String(width), count: depth).joined(separator: "-") + "-\(outputs)"
            }
            return "CNN conv3×3 " + channels.map(String.init).joined(separator: "-") + " (avgpool 2) → linear \(outputs)"
        }

        /// The paper's two classes (README, "Verdict rules"): small and shallow (depth ≤ 2 and
        /// width ≤ 64) against large or deep (depth ≥ 3 or width 256); CNNs are in neither.
        var sizeClass: String? {
            guard kind == "mlp" else { return nil }
            return depth <= 2 && width <= 64 ? "small" : "large"
        }
    }

    enum OptimizerChoice: String {
        case adam, sgd
    }

    struct Config {
        var dataName: String
        var trainCount: Int        // training subset
        var evalCount: Int         // loss/accuracy subsets (train and test)
        var probesPerClass: Int
        var epochs: Int
        var batchSize: Int
        var recordSteps: [Int]     // besides step 0 and the last step
        var architectures: [Architecture]
        var activations: [ActivationFunction]
        var optimizers: [OptimizerChoice]
        /// Architectures trained by SGD (nil: all).
        var sgdArchitectures: [String]?
        var blocks: Int
        var blockSize: Int
        var adamLearningRate = 1e-3
        var sgdLearningRate = 0.02
        var sgdMomentum = 0.9

        static let full: Config = {
            var archs: [Architecture] = []
            for d in 1...4 { for w in [16, 64, 256] { archs.append(Architecture(kind: "mlp", depth: d, width: w)) } }
            archs.append(Architecture(kind: "cnn", depth: 2, width: 16, channels: [8, 16]))
            archs.append(Architecture(kind: "cnn", depth: 2, width: 32, channels: [16, 32]))
            // SGD: every MLP and the smaller CNN (the larger CNN, ≈ 30 s a run, is left out for time).
            let sgd = archs.map(\.tag).filter { $0 != "cnn-16-32" }
            return Config(dataName: "fashion-mnist", trainCount: 6000, evalCount: 1000, probesPerClass: 20, epochs: 2,
                          batchSize: 64, recordSteps: [10, 40, 94], architectures: archs, activations: [.relu, .tanh],
                          optimizers: [.adam, .sgd], sgdArchitectures: sgd, blocks: 200, blockSize: 20)
        }()

        static let quick: Config = {
            let archs = [Architecture(kind: "mlp", depth: 1, width: 16), Architecture(kind: "mlp", depth: 3, width: 64),
                         Architecture(kind: "cnn", depth: 1, width: 4, channels: [4])]
            return Config(dataName: "digits", trainCount: 1200, evalCount: 500, probesPerClass: 5, epochs: 2,
                          batchSize: 32, recordSteps: [10, 38], architectures: archs, activations: [.relu, .tanh],
                          optimizers: [.adam, .sgd], sgdArchitectures: nil, blocks: 50, blockSize: 10)
        }()
    }

    struct Data {
        var train: Dataset<Double>
        var evalTrain: Dataset<Double>
        var test: Dataset<Double>
        var probes: Matrix<Double>
        var probeIndices: [Int]
        var inputShape: [Int]
    }

    /// The records of one run and what identifies it.
    struct Run {
        var name: String
        var file: String
        var records: [[String: JSONValue]]
    }

    // MARK: Data

    static func loadData(_ config: Config) throws -> Data {
        let train: Dataset<Double>, test: Dataset<Double>
        if config.dataName == "fashion-mnist" {
            train = try DebianDatasets.fashionMNIST(split: .train, limit: config.trainCount, as: Double.self)
            test = try DebianDatasets.fashionMNIST(split: .test, limit: config.evalCount, as: Double.self)
        } else {
            let digits = try EmbeddedDatasets.digits(as: Double.self)
            train = try digits.subset(Array(0..<config.trainCount))
            test = try digits.subset(Array(config.trainCount..<min(digits.count, config.trainCount + config.evalCount)))
        }
        let evalTrain = try train.subset(Array(0..<min(config.evalCount, train.count)))
        // Probes: the first `probesPerClass` training images of each class, in class order.
        guard let labels = train.labels else { throw PaperError.failed("\(config.dataName) has no labels") }
        var probeIndices: [Int] = []
        for c in 0..<10 {
            let ofClass = labels.indices.filter { labels[$0] == c }.prefix(config.probesPerClass)
            guard ofClass.count == config.probesPerClass else { throw PaperError.failed("too few images of class \(c)") }
            probeIndices += ofClass
        }
        let probes = try train.subset(probeIndices).inputs
        return Data(train: train, evalTrain: evalTrain, test: test, probes: probes, probeIndices: probeIndices,
                    inputShape: train.inputShape)
    }

    /// The blocks `BlockSubsampledSpectrum(blocks:blockSize:seed:)` draws from n inputs (its
    /// seeded partial Fisher–Yates), so the same blocks can be read off one full kernel.
    static func blockIndices(count: Int, size: Int, examples n: Int, seed: UInt64) -> [[Int]] {
        var generator = SeededGenerator(seed: seed)
        return (0..<count).map { _ in
            var order = Array(0..<n)
            for i in 0..<size {
                let j = i + Int(generator.next() % UInt64(n - i))
                order.swapAt(i, j)
            }
            return Array(order.prefix(size))
        }
    }

    static let blockSeed: UInt64 = 7

    // MARK: Run

    static func run(_ options: RunOptions) throws -> [Run] {
        let config = options.quick ? Config.quick : Config.full
        let data = try loadData(config)
        let stepsPerEpoch = (data.train.count + config.batchSize - 1) / config.batchSize
        let lastStep = stepsPerEpoch * config.epochs
        let steps = Set([0] + config.recordSteps.filter { $0 > 0 && $0 < lastStep } + [lastStep])
        let blocks = blockIndices(count: config.blocks, size: config.blockSize, examples: data.probes.rows, seed: blockSeed)
        progress("collective-variables scan: \(config.dataName) \(data.train.count) training images (\(data.evalTrain.count) for the train loss, \(data.test.count) test), probes \(data.probes.rows) × 10 outputs (N = \(data.probes.rows * 10)); \(config.epochs) epochs × \(stepsPerEpoch) steps (batch \(config.batchSize)); records at steps \(steps.sorted()); blocks \(config.blocks) × \(config.blockSize) points")
        var runs: [Run] = []
        var checked = !options.quick
        for optimizer in config.optimizers {
            for activation in config.activations {
                let file = "scan-\(optimizer.rawValue)-\(activation.rawValue).jsonl"
                let writer = try JSONLinesWriter(url: options.output.appendingPathComponent(file), truncate: true)
                for arch in config.architectures {
                    if optimizer == .sgd, let subset = config.sgdArchitectures, !subset.contains(arch.tag) { continue }
                    if let only = ProcessInfo.processInfo.environment["PAPERS_SCAN_ONLY"],
                       !only.split(separator: ",").contains(where: { name(optimizer, activation, arch).hasSuffix(String($0)) }) { continue }
                    let started = DispatchTime.now().uptimeNanoseconds
                    let run = try trainRun(arch: arch, activation: activation, optimizer: optimizer, config: config, data: data,
                                           steps: steps, lastStep: lastStep, stepsPerEpoch: stepsPerEpoch, blocks: blocks,
                                           check: !checked || (options.quick && arch.kind == "cnn"), writer: writer, file: file)
                    checked = true
                    runs.append(run)
                    let t = ScanTrajectory(run.records)
                    progress(String(format: "  %@: P = %d, route %@, S %.4f → %.4f (min %.4f), blocks %.4f → %.4f, T/N %.4g → %.4g, loss %.3f → %.3f, test acc %.3f; %.1f s",
                                    run.name, t.parameters, t.route, t.entropy.first!, t.entropy.last!, t.entropy.min()!,
                                    t.blockMean.first!, t.blockMean.last!, t.trace.first!, t.trace.last!, t.loss.first!, t.loss.last!,
                                    t.testAccuracy, Double(DispatchTime.now().uptimeNanoseconds - started) * 1e-9))
                }
            }
        }
        return runs
    }

    static func name(_ optimizer: OptimizerChoice, _ activation: ActivationFunction, _ arch: Architecture) -> String {
        "scan-\(optimizer.rawValue)-\(activation.rawValue)-\(arch.tag)"
    }

    static func trainRun(arch: Architecture, activation: ActivationFunction, optimizer: OptimizerChoice, config: Config,
                         data: Data, steps: Set<Int>, lastStep: Int, stepsPerEpoch: Int, blocks: [[Int]], check: Bool,
                         writer: JSONLinesWriter, file: String) throws -> Run {
        let k = data.train.outputSize
        let spec: ModelSpec = arch.kind == "mlp"
            ? .mlp(inputSize: data.train.inputSize, hiddenSizes: Array(repeating: arch.width, count: arch.depth), outputSize: k,
                   activation: activation)
            : .cnn(inputShape: data.inputShape, channels: arch.channels, outputSize: k, activation: activation)
        var network = try spec.makeNetwork(Double.self, seed: 0)
        let name = name(optimizer, activation, arch)
        let optimizerLabel = optimizer == .adam
            ? "adam(lr=\(config.adamLearningRate), batch \(config.batchSize))"
            : "sgd(lr=\(config.sgdLearningRate), momentum \(config.sgdMomentum), batch \(config.batchSize))"
        var estimator = CollectiveVariableEstimator(kind: .full)
        estimator.route = .auto
        estimator.spectral.seed = 1     // the same probes at every record
        var records: [[String: JSONValue]] = []
        var checkPending = check && arch.kind == "mlp"
        let recorder = ScanRecorder(steps: steps) { network, step in
            var r = try measure(network: network, data: data, blocks: blocks, estimator: estimator,
                                keepBlockEntropies: step == 0 || step == lastStep, viaJacobian: arch.kind == "cnn")
            if checkPending {
                // The blocks read off the full kernel are the library's BlockSubsampledSpectrum blocks.
                let library = try BlockSubsampledSpectrum(blocks: blocks.count, blockSize: blocks[0].count, seed: blockSeed)
                    .estimate(network: network, inputs: data.probes)
                let difference = abs(library.entropy.value - value(r, "block_entropy_mean"))
                guard difference < 1e-8 else {
                    throw PaperError.failed("block entropies off the full kernel differ from BlockSubsampledSpectrum by \(difference)")
                }
                r["block_check_difference"] = .number(difference)
                checkPending = false
            }
            if check, arch.kind == "cnn", step == 0 {
                // J Jᵀ from per-example VJPs is the library's exact kernel (a few probes).
                let few = try Matrix(rows: 3, columns: data.probes.columns, storage: Array(data.probes.storage.prefix(3 * data.probes.columns)))
                let a = try jacobianKernel(network: network, inputs: few)
                let b = try ExactNTK(kind: .full).kernel(network: network, inputs: few).0
                let scale = b.storage.map(abs).max() ?? 1
                let difference = zip(a.storage, b.storage).map { abs($0 - $1) }.max()! / scale
                guard difference < 1e-10 else { throw PaperError.failed("J Jᵀ differs from ExactNTK.kernel by \(difference) (relative)") }
                r["jacobian_check_difference"] = .number(difference)
            }
            r["run"] = .string(name)
            r["optimizer"] = .string(optimizerLabel)
            r["activation"] = .string(activation.rawValue)
            r["architecture"] = .string(arch.label(inputSize: data.train.inputSize, outputs: k))
            r["kind"] = .string(arch.kind)
            r["tag"] = .string(arch.tag)
            r["depth"] = .integer(arch.depth)
            r["width"] = .integer(arch.width)
            r["step"] = .integer(step)
            r["epoch"] = .number(Double(step) / Double(stepsPerEpoch))
            let (trainLoss, trainAccuracy) = try lossAndAccuracy(network, data.evalTrain)
            let (testLoss, testAccuracy) = try lossAndAccuracy(network, data.test)
            r["train_loss"] = .number(trainLoss)
            r["train_accuracy"] = .number(trainAccuracy)
            r["test_loss"] = .number(testLoss)
            r["test_accuracy"] = .number(testAccuracy)
            try writer.append(r)
            records.append(r)
        }
        switch optimizer {
        case .adam:
            let trainer = Trainer(epochs: config.epochs, batchSize: config.batchSize, seed: 0, loss: .softmaxCrossEntropy,
                                  optimizer: Adam<Double>(learningRate: config.adamLearningRate))
            _ = try trainer.train(network: &network, inputs: data.train.inputs, targets: data.train.targets, callbacks: [recorder])
        case .sgd:
            let trainer = Trainer(epochs: config.epochs, batchSize: config.batchSize, seed: 0, loss: .softmaxCrossEntropy,
                                  optimizer: SGD<Double>(learningRate: config.sgdLearningRate, momentum: config.sgdMomentum))
            _ = try trainer.train(network: &network, inputs: data.train.inputs, targets: data.train.targets, callbacks: [recorder])
        }
        return Run(name: name, file: file, records: records)
    }

    /// Mean softmax cross-entropy and accuracy over a data set.
    static func lossAndAccuracy(_ network: Network<Double>, _ data: Dataset<Double>) throws -> (Double, Double) {
        let outputs = try network.forward(data.inputs)
        let loss = try Loss.softmaxCrossEntropy.value(outputs: outputs, targets: data.targets)
        let k = outputs.columns
        var correct = 0
        for i in 0..<outputs.rows {
            var best = 0, label = 0
            for c in 1..<k {
                if outputs.storage[i * k + c] > outputs.storage[i * k + best] { best = c }
                if data.targets.storage[i * k + c] > data.targets.storage[i * k + label] { label = c }
            }
            if best == label { correct += 1 }
        }
        return (loss, Double(correct) / Double(outputs.rows))
    }

    /// One record: the full kernel by the `auto` route, and the block protocol off the exact kernel.
    static func measure(network: Network<Double>, data: Data, blocks: [[Int]], estimator: CollectiveVariableEstimator,
                        keepBlockEntropies: Bool, viaJacobian: Bool) throws -> [String: JSONValue] {
        let start = DispatchTime.now().uptimeNanoseconds
        let plan = try estimator.plan(network: network, examples: data.probes.rows)
        var r: [String: JSONValue] = [
            "parameters": .integer(network.parameterCount),
            "kernel_dimension": .integer(data.probes.rows * network.outputCount),
            "auto_route": .string(plan.route.rawValue),
            "auto_predicted_seconds": .number(plan.chosen.seconds),
        ]
        let kernel: Matrix<Double>
        if !viaJacobian {
            // The library's `auto` route on the full kernel; then the exact kernel for the blocks.
            let estimate = try estimator.estimate(network: network, inputs: data.probes)
            r["route"] = .string(estimate.route.rawValue)
            r["entropy"] = .number(estimate.entropy.value)
            r["entropy_lower"] = .number(estimate.entropy.lower)
            r["entropy_upper"] = .number(estimate.entropy.upper)
            r["entropy_exact"] = .bool(estimate.entropyIsExact)
            r["trace"] = .number(estimate.trace)
            r["effective_rank"] = .number(estimate.effectiveRank.value)
            r["top_eigenvalues"] = .array(estimate.topEigenvalues.prefix(4).map { .number($0) })
            r["matvecs"] = .integer(estimate.matvecs)
            r["full_seconds"] = .number(seconds(since: start))
            kernel = try ExactNTK(kind: .full).kernel(network: network, inputs: data.probes).0
            r["block_kernel"] = .string("structured_gram")
        } else {
            // Convolutions: `auto` picks matrix-free, which costs 15–20 s per record here (its
            // predicted cost is in `auto_predicted_seconds`), and the per-layer Gram products of
            // `ExactNTK.kernel` grow with (N·positions)². So the kernel is formed as J Jᵀ from
            // per-example VJP Jacobian rows, and the kernel-lanczos computation (deflated SLQ on
            // the dense kernel, the library's `SpectralEstimator`) runs on it.
            kernel = try jacobianKernel(network: network, inputs: data.probes)
            var trace = 0.0
            for i in 0..<kernel.rows { trace += kernel[i, i] }
            let report = try SpectralEstimator(estimator.spectral).estimate(try DenseOperator(kernel), traceHint: trace)
            r["route"] = .string("kernel-lanczos")
            r["route_note"] = .string("kernel formed as J Jᵀ (per-example VJPs) by the reproduction, not by the auto route")
            r["entropy"] = .number(report.entropy.value)
            r["entropy_lower"] = .number(report.entropy.lower)
            r["entropy_upper"] = .number(report.entropy.upper)
            r["entropy_exact"] = .bool(false)
            r["trace"] = .number(trace)
            r["effective_rank"] = .number(report.effectiveRank.value)
            r["top_eigenvalues"] = .array(report.topEigenvalues.prefix(4).map { .number($0) })
            r["matvecs"] = .integer(report.applications)
            r["full_seconds"] = .number(seconds(since: start))
            r["block_kernel"] = .string("jacobian_vjp")
        }
        r["trace_mean_diagonal"] = .number((r["trace"]?.doubleValue ?? .nan) / Double(kernel.rows))
        let blockStart = DispatchTime.now().uptimeNanoseconds
        let k = network.outputCount, n = kernel.rows
        let m = blocks[0].count * k
        var sub = Matrix<Double>(rows: m, columns: m)
        var entropies: [Double] = [], traces: [Double] = []
        try kernel.storage.withUnsafeBufferPointer { K in
            for block in blocks {
                let rows = block.flatMap { i in (0..<k).map { i * k + $0 } }
                sub.storage.withUnsafeMutableBufferPointer { S in
                    for (a, ra) in rows.enumerated() {
                        for (b, rb) in rows.enumerated() { S[a * m + b] = K[ra * n + rb] }
                    }
                }
                let s = SpectrumStatistics(eigenvalues: try SymmetricEigen(destroying: &sub).values)
                entropies.append(s.entropy)
                traces.append(s.trace / Double(m))
            }
        }
        let mean = entropies.reduce(0, +) / Double(entropies.count)
        let sd = (entropies.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(entropies.count - 1)).squareRoot()
        r["block_entropy_mean"] = .number(mean)
        r["block_entropy_sd"] = .number(sd)
        r["block_entropy_stderr"] = .number(sd / Double(entropies.count).squareRoot())
        r["block_trace_mean_diagonal"] = .number(traces.reduce(0, +) / Double(traces.count))
        r["block_seconds"] = .number(seconds(since: blockStart))
        r["blocks"] = .integer(blocks.count)
        r["block_size"] = .integer(blocks[0].count)
        if keepBlockEntropies {
            r["block_entropies"] = .array(entropies.map { .number(Double(String(format: "%.7g", $0))!) })
        }
        return r
    }

    /// The full NTK K = J Jᵀ (N·k × N·k, sample-major) from the Jacobian rows of each example:
    /// one forward pass of the example and one VJP with the k unit cotangents (block k).
    static func jacobianKernel(network: Network<Double>, inputs: Matrix<Double>) throws -> Matrix<Double> {
        let n = inputs.rows, k = network.outputCount, p = network.parameterCount, d = inputs.columns
        let rows = n * k
        var jacobian = [Double](repeating: 0, count: rows * p)
        let cache = network.makeForwardCache(capacity: 1)
        let workspace = network.makeBlockWorkspace(batch: 1, block: k)
        var cotangents = [Double](repeating: 0, count: k * k)   // [b = 1, s = k, k]
        for c in 0..<k { cotangents[c * k + c] = 1 }
        try inputs.storage.withUnsafeBufferPointer { x in
            try jacobian.withUnsafeMutableBufferPointer { j in
                try cotangents.withUnsafeBufferPointer { cot in
                    for i in 0..<n {
                        try network.forward(inputs: UnsafeBufferPointer(rebasing: x[(i * d)..<((i + 1) * d)]), batch: 1, into: cache)
                        try network.vjp(cache: cache, outputCotangents: cot.baseAddress!, block: k, workspace: workspace,
                                        parameterCotangents: j.baseAddress! + i * k * p)
                    }
                }
            }
        }
        var kernel = Matrix<Double>(rows: rows, columns: rows)
        try jacobian.withUnsafeBufferPointer { j in
            try kernel.storage.withUnsafeMutableBufferPointer { kp in
                try Double.syrk(.none, n: rows, k: p, alpha: 1, a: j.baseAddress!, lda: p, beta: 0, c: kp.baseAddress!, ldc: rows)
                for a in 0..<rows { for b in 0..<a { kp[a * rows + b] = kp[b * rows + a] } }   // upper → lower
            }
        }
        return kernel
    }

    static func seconds(since start: UInt64) -> Double { Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9 }
    static func value(_ r: [String: JSONValue], _ key: String) -> Double { r[key]?.doubleValue ?? .nan }
}

/// Calls `measure` before training and after the listed steps.
final class ScanRecorder: TrainingCallback {
    typealias Scalar = Double
    let steps: Set<Int>
    let measure: (Network<Double>, Int) throws -> Void

    init(steps: Set<Int>, measure: @escaping (Network<Double>, Int) throws -> Void) {
        self.steps = steps
        self.measure = measure
    }

    func trainingDidBegin(_ context: TrainingContext<Double>) throws -> TrainingDecision {
        try measure(context.network, 0)
        return .continue
    }

    func stepDidEnd(_ context: TrainingContext<Double>) throws -> TrainingDecision {
        if steps.contains(context.step) { try measure(context.network, context.step) }
        return .continue
    }
}

/// One scan run summarized from its records (in step order).
struct ScanTrajectory {
    let name: String, optimizer: String, activation: String, kind: String, tag: String, architecture: String
    let depth: Int, width: Int, parameters: Int, dimension: Int
    let steps: [Double], entropy: [Double], entropyLower: [Double], entropyUpper: [Double]
    let trace: [Double], loss: [Double], blockMean: [Double], blockSD: [Double], blockTrace: [Double]
    let testAccuracy: Double
    let route: String
    let blockProtocol: String
    let blockCount: Int
    let exactCount: Int
    /// Paired block differences S_b(end) − S_b(start) over the same blocks: mean and s.d.
    let blockDelta: (mean: Double, sd: Double, count: Int)?

    init(_ records: [[String: JSONValue]]) {
        let records = records.sorted { ($0["step"]?.doubleValue ?? 0) < ($1["step"]?.doubleValue ?? 0) }
        func v(_ r: [String: JSONValue], _ key: String) -> Double { r[key]?.doubleValue ?? .nan }
        func s(_ key: String) -> String { records.first?[key]?.stringValue ?? "" }
        let first = records.first!, last = records.last!
        name = s("run"); optimizer = s("optimizer"); activation = s("activation"); kind = s("kind"); tag = s("tag")
        architecture = s("architecture")
        depth = Int(v(first, "depth")); width = Int(v(first, "width")); parameters = Int(v(first, "parameters"))
        dimension = Int(v(first, "kernel_dimension"))
        steps = records.map { v($0, "step") }
        entropy = records.map { v($0, "entropy") }
        entropyLower = records.map { v($0, "entropy_lower") }
        entropyUpper = records.map { v($0, "entropy_upper") }
        trace = records.map { v($0, "trace_mean_diagonal") }
        loss = records.map { v($0, "train_loss") }
        blockMean = records.map { v($0, "block_entropy_mean") }
        blockSD = records.map { v($0, "block_entropy_sd") }
        blockTrace = records.map { v($0, "block_trace_mean_diagonal") }
        testAccuracy = v(last, "test_accuracy")
        blockCount = Int(v(first, "blocks"))
        blockProtocol = "\(Int(v(first, "blocks"))) × \(Int(v(first, "block_size")))-point blocks"
        var routes: [String] = []
        for r in records { if let x = r["route"]?.stringValue, !routes.contains(x) { routes.append(x) } }
        route = routes.joined(separator: "+")
        exactCount = records.filter { $0["entropy_exact"]?.boolValue == true }.count
        if case let .array(a)? = first["block_entropies"], case let .array(b)? = last["block_entropies"], a.count == b.count, a.count >= 2 {
            let d = zip(a, b).map { ($1.doubleValue ?? .nan) - ($0.doubleValue ?? .nan) }
            let mean = d.reduce(0, +) / Double(d.count)
            let sd = (d.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(d.count - 1)).squareRoot()
            blockDelta = (mean, sd, d.count)
        } else {
            blockDelta = nil
        }
    }

    var sizeClass: String? { kind == "mlp" ? (depth <= 2 && width <= 64 ? "small" : "large") : nil }
    var delta: Double { entropy.last! - entropy.first! }
    /// Half-width of the 95 % interval of ΔS (0 when both ends are exact): the endpoint
    /// half-widths added in quadrature.
    var deltaHalfWidth: Double {
        let h0 = (entropyUpper.first! - entropyLower.first!) / 2, h1 = (entropyUpper.last! - entropyLower.last!) / 2
        return (h0 * h0 + h1 * h1).squareRoot()
    }
    var blockDeltaValue: Double { blockDelta?.mean ?? (blockMean.last! - blockMean.first!) }
    /// 95 % half-width of the block ΔS from the paired differences (normal quantile).
    var blockDeltaHalfWidth: Double { blockDelta.map { 1.96 * $0.sd / Double($0.count).squareRoot() } ?? .nan }
    var falls: Bool { entropy.last! < entropy.first! }
    var rises: Bool { entropy.last! > entropy.first! }
    /// The entropy dipped below its start at a record between the first and the last.
    var dipsFirst: Bool { entropy.count > 2 && entropy[1..<(entropy.count - 1)].contains { $0 < entropy.first! } }
    var rho: Double? { spearmanCorrelation(trace, loss) }
    var shortOptimizer: String { String(optimizer.prefix { $0 != "(" }) }
}

// MARK: Summary, verdicts and figures (from the records)

extension CollectiveVariablesScan {
    /// The scan runs left in `directory` (`scan-*.jsonl`), grouped by run in file order.
    static func readRuns(_ directory: URL) throws -> [[[String: JSONValue]]] {
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [])
            .filter { $0.hasPrefix("scan-") && $0.hasSuffix(".jsonl") }.sorted()
        var order: [String] = [], runs: [String: [[String: JSONValue]]] = [:]
        for file in files {
            for r in try readRecords(directory.appendingPathComponent(file)) {
                let name = r["run"]?.stringValue ?? file
                if runs[name] == nil { order.append(name) }
                runs[name, default: []].append(r)
            }
        }
        return order.map { runs[$0]! }
    }

    static func runSummary(_ t: ScanTrajectory) -> RunSummary {
        RunSummary(
            name: t.name, architecture: t.architecture, depth: t.depth, width: t.width, activation: t.activation,
            optimizer: t.optimizer, parameters: t.parameters, kernelDimension: t.dimension,
            route: t.route + " (full kernel); blocks: \(t.blockProtocol), principal submatrices of the exact kernel",
            entropyStart: t.entropy.first!, entropyEnd: t.entropy.last!, entropyMin: t.entropy.min()!,
            traceStart: t.trace.first!, traceEnd: t.trace.last!, lossStart: t.loss.first!, lossEnd: t.loss.last!,
            records: "scan-\(t.shortOptimizer)-\(t.activation).jsonl")
    }

    static func median(_ x: [Double]) -> Double {
        let s = x.sorted()
        guard !s.isEmpty else { return .nan }
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    /// The scan's verdicts (rules in the README, "Verdict rules").
    struct Verdicts {
        let runs: [ScanTrajectory]
        init(_ runs: [ScanTrajectory]) { self.runs = runs }

        var small: [ScanTrajectory] { runs.filter { $0.sizeClass == "small" } }
        var large: [ScanTrajectory] { runs.filter { $0.sizeClass == "large" } }
        var groups: [String] {
            var g: [String] = []
            for r in runs where !g.contains(r.shortOptimizer + "/" + r.activation) { g.append(r.shortOptimizer + "/" + r.activation) }
            return g
        }

        /// "adam/relu 3/4, adam/tanh 2/4, …"
        func breakdown(_ set: [ScanTrajectory], _ test: (ScanTrajectory) -> Bool) -> String {
            groups.compactMap { g in
                let members = set.filter { $0.shortOptimizer + "/" + $0.activation == g }
                return members.isEmpty ? nil : "\(g) \(members.filter(test).count)/\(members.count)"
            }.joined(separator: ", ")
        }

        func range(_ set: [ScanTrajectory], _ f: (ScanTrajectory) -> Double) -> String {
            let v = set.map(f)
            guard let lo = v.min(), let hi = v.max() else { return "—" }
            return "[\(signed(lo)), \(signed(hi))]"
        }

        /// ΔS resolved from 0 by its 95 % interval.
        func resolved(_ t: ScanTrajectory) -> Bool { abs(t.delta) > t.deltaHalfWidth }

        var c1Count: Int { small.filter(\.falls).count }
        var c1Holds: Bool { 2 * c1Count > small.count }
        var c1Evidence: String {
            "Part 2 (scan, decides part 2): small and shallow MLPs (depth ≤ 2, width ≤ 64) whose full-kernel entropy (N = \(runs.first?.dimension ?? 0)) ends below its start: "
                + "\(c1Count) of \(small.count) (\(breakdown(small, \.falls))); ΔS range \(range(small, \.delta)) nats, "
                + "\(small.filter { $0.falls && resolved($0) }.count) of the falls resolved by the 95% interval. "
                + "Block protocol (\(runs.first?.blockProtocol ?? "")): \(small.filter { $0.blockDeltaValue < 0 }.count) of \(small.count) fall "
                + "(block ΔS range \(range(small, \.blockDeltaValue))). Part 2 rule: more than half fall → \(c1Holds)."
        }

        var c2Count: Int { large.filter(\.rises).count }
        var c2Holds: Bool { 2 * c2Count > large.count }
        var c2Evidence: String {
            let dipped = large.filter { $0.rises && $0.dipsFirst }.count
            return "Part 2 (scan): large or deep MLPs (depth ≥ 3 or width 256) whose full-kernel entropy ends above its start: "
                + "\(c2Count) of \(large.count) (\(breakdown(large, \.rises))); ΔS range \(range(large, \.delta)) nats; "
                + "\(dipped) of the \(c2Count) rises dip below the start at an intermediate record first. "
                + "Block protocol (\(runs.first?.blockProtocol ?? "")): \(large.filter { $0.blockDeltaValue > 0 }.count) of \(large.count) rise. "
                + "CNNs (in neither class): " + runs.filter { $0.kind == "cnn" }.map { "\($0.name) \(signed($0.delta))" }.joined(separator: ", ")
                + ". Rule: more than half rise → \(c2Holds)."
        }

        var rhos: [Double] { runs.compactMap(\.rho) }
        var c3Count: Int { runs.filter { ($0.rho ?? 0) < 0 }.count }
        var c3Holds: Bool { 2 * c3Count > runs.count }
        var c3Evidence: String {
            let rising = runs.filter { $0.trace.last! > $0.trace.first! && $0.loss.last! < $0.loss.first! }.count
            return "Part 2 (scan, decides part 2): Spearman ρ(T/N, train loss) over each run's \(runs.first?.steps.count ?? 0) records negative in "
                + "\(c3Count) of \(runs.count) runs (\(breakdown(runs) { ($0.rho ?? 0) < 0 })); median ρ \(fmt(median(rhos), 3)); "
                + "T/N(end) > T/N(start) with the loss falling in \(rising) of \(runs.count). Part 2 rule: ρ < 0 in more than half → \(c3Holds)."
        }

        /// (optimizer, architecture) → (ReLU run, tanh run).
        var activationPairs: [(ScanTrajectory, ScanTrajectory)] {
            runs.filter { $0.activation == "relu" }.compactMap { r in
                runs.first { $0.activation == "tanh" && $0.tag == r.tag && $0.shortOptimizer == r.shortOptimizer }.map { (r, $0) }
            }
        }

        /// D_act, D_arch and their ratio for a ΔS measure.
        func c4Statistic(_ f: (ScanTrajectory) -> Double) -> (act: Double, arch: Double, ratio: Double) {
            let act = activationPairs.map { abs(f($0.0) - f($0.1)) }
            var arch: [Double] = []
            for g in groups {
                let members = runs.filter { $0.shortOptimizer + "/" + $0.activation == g }
                for i in members.indices { for j in members.indices where j > i { arch.append(abs(f(members[i]) - f(members[j]))) } }
            }
            let a = median(act), b = median(arch)
            return (a, b, a / b)
        }

        var c4Holds: Bool? {
            guard !activationPairs.isEmpty else { return nil }
            let r = c4Statistic(\.delta).ratio
            return r >= 0.5 && r <= 2
        }
        var c4Evidence: String {
            let full = c4Statistic(\.delta), blocks = c4Statistic(\.blockDeltaValue)
            let flips = activationPairs.filter { ($0.0.delta > 0) != ($0.1.delta > 0) }
            return "Part 2 (scan): D_act = median over the \(activationPairs.count) (optimizer, architecture) pairs of |ΔS(ReLU) − ΔS(tanh)| = \(fmt(full.act, 3)) nats; "
                + "D_arch = median over pairs of architectures with the same optimizer and activation of |ΔS(a) − ΔS(b)| = \(fmt(full.arch, 3)) nats; "
                + "R = D_act/D_arch = \(fmt(full.ratio, 3)) (block protocol: \(fmt(blocks.act, 3)) / \(fmt(blocks.arch, 3)) = \(fmt(blocks.ratio, 3))). "
                + "ReLU and tanh give opposite signs of ΔS in \(flips.count) of \(activationPairs.count) pairs"
                + (flips.isEmpty ? "" : " (" + flips.map { "\($0.0.shortOptimizer) \($0.0.tag)" }.joined(separator: ", ") + ")")
                + ". Rule: 1/2 ≤ R ≤ 2 → \(c4Holds.map { String($0) } ?? "null")."
        }
    }

    // MARK: Figures

    static func figures(_ runs: [ScanTrajectory], output: URL) throws {
        guard !runs.isEmpty else { return }
        var groups: [(String, String)] = []
        for r in runs where !groups.contains(where: { $0 == (r.shortOptimizer, r.activation) }) { groups.append((r.shortOptimizer, r.activation)) }
        let depths = Array(Set(runs.filter { $0.kind == "mlp" }.map(\.depth))).sorted()
        let widths = Array(Set(runs.filter { $0.kind == "mlp" }.map(\.width))).sorted()
        var panels: [HeatMapPanel] = []
        var limit = 0.0
        for (optimizer, activation) in groups {
            for blocks in [false, true] {
                let members = runs.filter { $0.shortOptimizer == optimizer && $0.activation == activation }
                func cell(_ d: Int, _ w: Int) -> ScanTrajectory? { members.first { $0.kind == "mlp" && $0.depth == d && $0.width == w } }
                let values: [[Double?]] = depths.map { d in widths.map { w in cell(d, w).map { blocks ? $0.blockDeltaValue : $0.delta } } }
                let details: [[String]] = depths.map { d in widths.map { w in
                    guard let t = cell(d, w) else { return "" }
                    let h = blocks ? t.blockDeltaHalfWidth : t.deltaHalfWidth
                    let dip = !blocks && t.rises && t.dipsFirst ? ", dip first" : ""
                    return h > 0 ? "± \(String(format: "%.3f", h))\(dip)" : "exact\(dip)"
                } }
                for row in values { for v in row { if let v { limit = max(limit, abs(v)) } } }
                let cnn = members.filter { $0.kind == "cnn" }.map { t -> String in
                    let v = blocks ? t.blockDeltaValue : t.delta, h = blocks ? t.blockDeltaHalfWidth : t.deltaHalfWidth
                    return "\(t.tag): \(String(format: "%+.3f ± %.3f", v, h))"
                }
                panels.append(HeatMapPanel(
                    title: "\(optimizer) · \(activation) · " + (blocks ? (members.first?.blockProtocol ?? "blocks") : "full kernel, N = \(members.first?.dimension ?? 0)"),
                    rowAxis: "depth (hidden layers)", columnAxis: "width (units per hidden layer)",
                    rows: depths.map(String.init), columns: widths.map(String.init), values: values, details: details,
                    notes: cnn.isEmpty ? [] : ["CNNs: " + cnn.joined(separator: "; ")]))
            }
        }
        try HeatMapFigure(
            title: "ΔS = S(end of training) − S(initialization), NTK entropy in nats; ± 95% interval half-width",
            panels: panels, columns: 4, panelWidth: 420,
            scaleLabel: "ΔS (nats): blue = entropy falls (compression), red = rises (structure formation)",
            limit: limit > 0 ? limit : 1
        ).write(to: output.appendingPathComponent("scan-delta-entropy.svg"))

        // Entropy vs step for a few runs per optimizer: the smallest and the largest MLP, a
        // middle one and the larger CNN, ReLU solid and tanh dashed.
        var plots: [LinePlot] = []
        for optimizer in Array(Set(runs.map(\.shortOptimizer))).sorted() {
            let members = runs.filter { $0.shortOptimizer == optimizer }
            let mlps = members.filter { $0.kind == "mlp" }
            let tags = [mlps.min { $0.parameters < $1.parameters }?.tag, mlps.first { $0.depth == 2 && $0.width == 64 }?.tag,
                        mlps.max { $0.parameters < $1.parameters }?.tag,
                        members.filter { $0.kind == "cnn" }.max { $0.parameters < $1.parameters }?.tag].compactMap { $0 }
            var chosen: [(ScanTrajectory, String, Bool)] = []
            for (i, tag) in tags.enumerated() {
                for t in members where t.tag == tag { chosen.append((t, LinePlot.palette[i % 8], t.activation == "tanh")) }
            }
            func series(_ f: @escaping (ScanTrajectory, Int) -> Double) -> [LinePlot.Series] {
                chosen.map { t, color, dashed in
                    .init(name: "\(t.tag) \(t.activation)", points: t.steps.indices.map { (t.steps[$0], f(t, $0)) }, color: color, dashed: dashed)
                }
            }
            let stepAxis = "optimizer step (\(members.first?.optimizer ?? optimizer))"
            let halfWidth = members.flatMap { t in t.entropy.indices.map { (t.entropyUpper[$0] - t.entropyLower[$0]) / 2 } }.max() ?? 0
            let blockError = members.flatMap { t in t.blockSD.map { $0 / Double(t.blockCount).squareRoot() } }.max() ?? 0
            plots.append(LinePlot(title: "\(optimizer): full-kernel entropy (95% half-width ≤ \(fmt(halfWidth, 2)))", xLabel: stepAxis, yLabel: "S (nats)",
                                  series: series { t, i in t.entropy[i] }))
            plots.append(LinePlot(title: "\(optimizer): mean over \(members.first?.blockProtocol ?? "") (s.e. ≤ \(fmt(blockError, 2)))", xLabel: stepAxis, yLabel: "mean block S (nats)",
                                  series: series { t, i in t.blockMean[i] }))
            plots.append(LinePlot(title: "\(optimizer): trace per kernel row", xLabel: stepAxis, yLabel: "T/N (NTK units)", yScale: .logarithmic,
                                  series: series { t, i in t.trace[i] }))
            plots.append(LinePlot(title: "\(optimizer): training loss", xLabel: stepAxis, yLabel: "cross-entropy (nats)", yScale: .logarithmic,
                                  series: series { t, i in t.loss[i] }))
        }
        try SVGFigure(plots: plots, columns: 4, panelWidth: 440, panelHeight: 340)
            .write(to: output.appendingPathComponent("scan-entropy.svg"))
    }
}

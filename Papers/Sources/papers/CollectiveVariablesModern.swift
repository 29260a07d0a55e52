import Foundation
import NTKDatasets
import NTKEstimation
import NTKLinearAlgebra
import NTKNetworks
import NTKSpectra

/// Part 3 of arXiv:2410.07451 (paper §4, "modern architectures"): five architecture families,
/// each trained on its own task, with the exact NTK of a fixed probe set recorded before
/// training and at a handful of steps — entropy S(t), trace T(t)/N, loss(t).
///
/// - CNN: `ModelSpec.cnn` 16-32 channels (ReLU), Fashion-MNIST classification;
/// - ResNet: conv → avg-pool → two residual blocks (conv–ReLU–conv + identity) → avg-pool →
///   linear (ReLU; no batch norm), Fashion-MNIST;
/// - transformer: `Network.transformerEncoder` — each 28×28 image read as a sequence of 28 row
///   tokens of 28 pixels, 2 pre-LN blocks (D = 32, 4 heads, GELU feed-forward 64), mean pooling,
///   linear head; Fashion-MNIST;
/// - GCN: `Network.gcnNodeModel` on a stochastic-block-model graph (4 communities × 50 nodes),
///   the whole graph one example with per-node logits (k = 200 · 4), trained on half the
///   nodes' labels by the per-node softmax cross-entropy (`Loss.groupedSoftmaxCrossEntropy`,
///   unlabeled nodes have zero targets);
/// - auto-encoder: `ModelSpec.autoencoder` 196-256-64-16-64-256-196 (ReLU) on Fashion-MNIST
///   images average-pooled to 14 × 14, MSE reconstruction.
///
/// Every record is exact: the kernel is formed (J Jᵀ from per-example VJPs, or the library's
/// `ExactNTK`) and eigensolved in Double.
enum CollectiveVariablesModern {
    struct Config {
        var trainCount: Int
        var evalCount: Int
        var probesPerClass: Int
        var autoencoderProbes: Int
        var epochs: Int
        var batchSize: Int
        var recordSteps: [Int]
        var graphSteps: Int
        var graphRecordSteps: [Int]
        var communities: [Int]
        var cnnChannels: [Int]
        var resnetWidth: Int
        var transformer: (d: Int, heads: Int, ff: Int, blocks: Int)
        var autoencoder: (encoder: [Int], bottleneck: Int)
        var gcnHidden: [Int]

        static let full = Config(
            trainCount: 6000, evalCount: 1000, probesPerClass: 10, autoencoderProbes: 10, epochs: 2, batchSize: 64,
            recordSteps: [5, 10, 20, 40, 94, 140], graphSteps: 200, graphRecordSteps: [5, 10, 20, 40, 80, 140],
            communities: [50, 50, 50, 50], cnnChannels: [16, 32], resnetWidth: 12, transformer: (32, 4, 64, 2),
            autoencoder: ([256, 64], 16), gcnHidden: [64, 64])
        static let quick = Config(
            trainCount: 640, evalCount: 200, probesPerClass: 2, autoencoderProbes: 3, epochs: 1, batchSize: 64,
            recordSteps: [5], graphSteps: 20, graphRecordSteps: [5], communities: [15, 15, 15],
            cnnChannels: [4, 8], resnetWidth: 4, transformer: (8, 2, 16, 1), autoencoder: ([32], 8), gcnHidden: [16])
    }

    static let file = "modern.jsonl"

    // MARK: Data

    struct ImageData {
        var train: Dataset<Double>
        var evalTrain: Dataset<Double>
        var test: Dataset<Double>
        var probes: Matrix<Double>
    }

    /// Fashion-MNIST (Debian's IDX files): the first `trainCount` training images, the first
    /// `evalCount` of them and of the test images for the losses; probes: the first
    /// `probesPerClass` training images of each class.
    static func images(_ config: Config) throws -> ImageData {
        let train = try DebianDatasets.fashionMNIST(split: .train, limit: config.trainCount, as: Double.self)
        let test = try DebianDatasets.fashionMNIST(split: .test, limit: config.evalCount, as: Double.self)
        let evalTrain = try train.subset(Array(0..<min(config.evalCount, train.count)))
        return ImageData(train: train, evalTrain: evalTrain, test: test,
                         probes: try train.subset(probeIndices(train, perClass: config.probesPerClass)).inputs)
    }

    static func probeIndices(_ data: Dataset<Double>, perClass: Int) throws -> [Int] {
        guard let labels = data.labels else { throw PaperError.failed("\(data.name) has no labels") }
        var indices: [Int] = []
        for c in 0..<(labels.max() ?? 0) + 1 {
            let ofClass = labels.indices.filter { labels[$0] == c }.prefix(perClass)
            guard ofClass.count == perClass else { throw PaperError.failed("too few examples of class \(c)") }
            indices += ofClass
        }
        return indices
    }

    /// 28 × 28 images averaged over 2 × 2 pixels → 14 × 14 (flattened).
    static func pooled(_ x: Matrix<Double>) throws -> Matrix<Double> {
        var out = Matrix<Double>(rows: x.rows, columns: 196)
        for i in 0..<x.rows {
            for r in 0..<14 {
                for c in 0..<14 {
                    var s = 0.0
                    for dr in 0..<2 { for dc in 0..<2 { s += x.storage[i * 784 + (2 * r + dr) * 28 + 2 * c + dc] } }
                    out.storage[i * 196 + r * 14 + c] = s / 4
                }
            }
        }
        return out
    }

    /// The auto-encoder's data set: pooled images as inputs and targets.
    static func reconstruction(_ data: Dataset<Double>) throws -> Dataset<Double> {
        let x = try pooled(data.inputs)
        return try Dataset(name: data.name + "-14x14-reconstruction", inputs: x, targets: x)
    }

    // MARK: Networks

    /// ResNet for 28 × 28 images: conv3×3(1→w) → ReLU → avgpool 2 (14 × 14) → 2 × [x + conv(ReLU(conv(x)))
    /// → ReLU] → avgpool 2 (7 × 7) → flatten → linear(49·w → 10).
    static func resnet(width w: Int) -> ModelSpec {
        var layers: [LayerSpec] = [.conv2d(inChannels: 1, outChannels: w, kernelSize: 3, padding: 1), .activation(.relu),
                                   .avgPool2d(kernelSize: 2)]
        for _ in 0..<2 {
            layers.append(.residual([.conv2d(inChannels: w, outChannels: w, kernelSize: 3, padding: 1), .activation(.relu),
                                     .conv2d(inChannels: w, outChannels: w, kernelSize: 3, padding: 1)]))
            layers.append(.activation(.relu))
        }
        layers += [.avgPool2d(kernelSize: 2), .flatten, .linear(inFeatures: 49 * w, outFeatures: 10)]
        return ModelSpec(inputShape: [1, 28, 28], layers: layers)
    }

    static func transformer(_ config: Config) throws -> Network<Double> {
        let t = config.transformer
        return try Network<Double>.transformerEncoder(
            sequenceLength: 28, tokenFeatures: 28, embedDimension: t.d, headCount: t.heads, feedForwardDimension: t.ff,
            blockCount: t.blocks, outputSize: 10, seed: 0)
    }

    static func transformerLabel(_ config: Config) -> String {
        let t = config.transformer
        return "pre-LN transformer: 28 row tokens × 28 px → D \(t.d), \(t.heads) heads, FF \(t.ff) (GELU), \(t.blocks) blocks, mean pool → 10"
    }

    // MARK: Runs

    struct Task {
        var name: String
        var family: String
        var architecture: String
        var activation: String
        var depth: Int
        var width: Int
        var network: Network<Double>
        var train: Dataset<Double>
        var evalTrain: Dataset<Double>
        var test: Dataset<Double>
        var probes: Matrix<Double>
        var loss: Loss
        var learningRate: Double
        var epochs: Int
        var batchSize: Int
        var steps: Set<Int>
        var stepsPerEpoch: Int
        var kernelVia: String   // "jacobian" or "exact_ntk"
    }

    static func run(_ options: RunOptions) throws -> [[[String: JSONValue]]] {
        let config = options.quick ? Config.quick : Config.full
        let data = try images(config)
        let stepsPerEpoch = (data.train.count + config.batchSize - 1) / config.batchSize
        let last = stepsPerEpoch * config.epochs
        let steps = Set([0] + config.recordSteps.filter { $0 < last } + [last])
        var tasks: [Task] = []
        func imageTask(_ name: String, _ family: String, _ label: String, activation: String, depth: Int, width: Int,
                       _ network: Network<Double>) -> Task {
            Task(name: name, family: family, architecture: label, activation: activation, depth: depth, width: width,
                 network: network, train: data.train, evalTrain: data.evalTrain, test: data.test, probes: data.probes,
                 loss: .softmaxCrossEntropy, learningRate: 1e-3, epochs: config.epochs, batchSize: config.batchSize,
                 steps: steps, stepsPerEpoch: stepsPerEpoch, kernelVia: "jacobian")
        }
        tasks.append(imageTask(
            "modern-cnn", "cnn", "CNN conv3×3 " + config.cnnChannels.map(String.init).joined(separator: "-") + " (avgpool 2) → linear 10",
            activation: "relu", depth: config.cnnChannels.count, width: config.cnnChannels.last!,
            try ModelSpec.cnn(inputShape: [1, 28, 28], channels: config.cnnChannels, outputSize: 10, activation: .relu)
                .makeNetwork(Double.self, seed: 0)))
        tasks.append(imageTask(
            "modern-resnet", "resnet", "ResNet conv3×3 \(config.resnetWidth) ch, avgpool 2, 2 residual blocks, avgpool 2 → linear 10",
            activation: "relu", depth: 5, width: config.resnetWidth, try resnet(width: config.resnetWidth).makeNetwork(Double.self, seed: 0)))
        tasks.append(imageTask("modern-transformer", "transformer", transformerLabel(config), activation: "gelu",
                               depth: config.transformer.blocks, width: config.transformer.d, try transformer(config)))

        // Auto-encoder: 14 × 14 reconstruction, MSE; probes: the first images of each class.
        let ae = config.autoencoder
        let aeTrain = try reconstruction(data.train), aeEval = try reconstruction(data.evalTrain), aeTest = try reconstruction(data.test)
        let aeProbes = try pooled(try data.train.subset(probeIndices(data.train, perClass: 1).prefix(config.autoencoderProbes).map { $0 }).inputs)
        tasks.append(Task(
            name: "modern-autoencoder", family: "autoencoder",
            architecture: "auto-encoder MLP 196-" + (ae.encoder + [ae.bottleneck] + ae.encoder.reversed()).map(String.init).joined(separator: "-") + "-196",
            activation: "relu", depth: 2 * ae.encoder.count + 1, width: ae.encoder.first!,
            network: try ModelSpec.autoencoder(inputSize: 196, encoderSizes: ae.encoder, bottleneck: ae.bottleneck, activation: .relu)
                .makeNetwork(Double.self, seed: 0),
            train: aeTrain, evalTrain: aeEval, test: aeTest, probes: aeProbes, loss: .meanSquaredError(reduction: .mean),
            learningRate: 1e-3, epochs: config.epochs, batchSize: config.batchSize, steps: steps, stepsPerEpoch: stepsPerEpoch,
            kernelVia: "exact_ntk"))

        // GCN: the stochastic-block-model graph as one example; half the nodes labeled.
        let graph = try graphTask(config)
        tasks.append(graph)

        let writer = try JSONLinesWriter(url: options.output.appendingPathComponent(file), truncate: true)
        var runs: [[[String: JSONValue]]] = []
        progress("collective-variables modern: Fashion-MNIST \(data.train.count) training images, probes \(data.probes.rows) × 10 outputs; \(config.epochs) epochs × \(stepsPerEpoch) steps (batch \(config.batchSize)); records at steps \(steps.sorted())")
        for task in tasks {
            let started = DispatchTime.now().uptimeNanoseconds
            let records = try train(task, writer: writer)
            runs.append(records)
            let s = records.map { value($0, "entropy") }, t = records.map { value($0, "trace_mean_diagonal") }
            let l = records.map { value($0, "train_loss") }
            progress(String(format: "  %@: P = %d, N = %d, S %.4f → %.4f (min %.4f), T/N %.4g → %.4g, loss %.4g → %.4g, test acc %.3f; %.1f s",
                            task.name, task.network.parameterCount, Int(value(records[0], "kernel_dimension")), s.first!, s.last!,
                            s.min()!, t.first!, t.last!, l.first!, l.last!, value(records.last!, "test_accuracy"),
                            CollectiveVariablesScan.seconds(since: started)))
        }
        return runs
    }

    static func graphTask(_ config: Config) throws -> Task {
        let sbm = try SyntheticDatasets.stochasticBlockModel(
            communitySizes: config.communities, pIn: 0.1, pOut: 0.01, featureSize: 16, featureSignal: 1, seed: 3, as: Double.self)
        guard let graph = sbm.graph, let labels = sbm.labels else { throw PaperError.failed("the SBM data set has no graph") }
        let n = graph.nodeCount, c = config.communities.count
        // Labeled (training) nodes: every other node of each community; the rest are the test nodes.
        var trainTargets = Matrix<Double>(rows: 1, columns: n * c), testTargets = Matrix<Double>(rows: 1, columns: n * c)
        for i in 0..<n {
            if i % 2 == 0 { trainTargets.storage[i * c + labels[i]] = 1 } else { testTargets.storage[i * c + labels[i]] = 1 }
        }
        let x = try Matrix(rows: 1, columns: n * sbm.inputSize, storage: sbm.inputs.storage)
        let train = try Dataset(name: "sbm-train-nodes", inputs: x, targets: trainTargets)
        let test = try Dataset(name: "sbm-test-nodes", inputs: x, targets: testTargets)
        let network = try Network<Double>.gcnNodeModel(
            nodes: n, edges: graph.edges.map { ($0.source, $0.target) }, inputFeatures: sbm.inputSize, hiddenSizes: config.gcnHidden,
            classes: c, activation: .relu, seed: 0)
        let steps = Set([0] + config.graphRecordSteps.filter { $0 < config.graphSteps } + [config.graphSteps])
        return Task(
            name: "modern-gcn", family: "gcn",
            architecture: "GCN \(sbm.inputSize)-" + config.gcnHidden.map(String.init).joined(separator: "-") + "-\(c) on an SBM graph (\(n) nodes, \(graph.edges.count) edges), whole graph one example, k = \(n)·\(c)",
            activation: "relu", depth: config.gcnHidden.count, width: config.gcnHidden.last!, network: network, train: train,
            evalTrain: train, test: test, probes: x, loss: .groupedSoftmaxCrossEntropy(classes: c), learningRate: 1e-2,
            epochs: config.graphSteps, batchSize: 1, steps: steps, stepsPerEpoch: 1, kernelVia: "exact_ntk")
    }

    static func train(_ task: Task, writer: JSONLinesWriter) throws -> [[String: JSONValue]] {
        var network = task.network
        var records: [[String: JSONValue]] = []
        let trainer = Trainer(epochs: task.epochs, batchSize: task.batchSize, seed: 0, loss: task.loss,
                              optimizer: Adam<Double>(learningRate: task.learningRate))
        let recorder = ScanRecorder(steps: task.steps) { network, step in
            var r = try measure(network: network, probes: task.probes, via: task.kernelVia)
            r["run"] = .string(task.name)
            r["family"] = .string(task.family)
            r["architecture"] = .string(task.architecture)
            r["activation"] = .string(task.activation)
            r["depth"] = .integer(task.depth)
            r["width"] = .integer(task.width)
            r["optimizer"] = .string("adam(lr=\(task.learningRate), batch \(task.batchSize))")
            r["loss_name"] = .string(task.loss.description)
            r["step"] = .integer(step)
            r["epoch"] = .number(Double(step) / Double(task.stepsPerEpoch))
            let train = try trainer.evaluate(network: network, inputs: task.evalTrain.inputs, targets: task.evalTrain.targets)
            let test = try trainer.evaluate(network: network, inputs: task.test.inputs, targets: task.test.targets)
            r["train_loss"] = .number(train.loss)
            r["test_loss"] = .number(test.loss)
            r["train_accuracy"] = train.accuracy.map { .number($0) } ?? .null
            r["test_accuracy"] = test.accuracy.map { .number($0) } ?? .null
            try writer.append(r)
            records.append(r)
        }
        _ = try trainer.train(network: &network, inputs: task.train.inputs, targets: task.train.targets, callbacks: [recorder])
        return records
    }

    /// The exact NTK of the probes: entropy, T/N, effective rank, top eigenvalues (Double).
    static func measure(network: Network<Double>, probes: Matrix<Double>, via: String) throws -> [String: JSONValue] {
        let start = DispatchTime.now().uptimeNanoseconds
        var kernel = via == "jacobian"
            ? try CollectiveVariablesScan.jacobianKernel(network: network, inputs: probes)
            : try ExactNTK(kind: .full).kernel(network: network, inputs: probes).0
        let n = kernel.rows
        var trace = 0.0
        for i in 0..<n { trace += kernel[i, i] }
        let kernelSeconds = CollectiveVariablesScan.seconds(since: start)
        let values = try SymmetricEigen(destroying: &kernel).values
        let s = SpectrumStatistics(eigenvalues: values)
        return [
            "parameters": .integer(network.parameterCount), "kernel_dimension": .integer(n), "examples": .integer(probes.rows),
            "kernel": .string(via == "jacobian" ? "J Jᵀ from per-example VJPs" : "ExactNTK.kernel"),
            "entropy": .number(s.entropy), "entropy_exact": .bool(true), "trace": .number(trace),
            "trace_mean_diagonal": .number(trace / Double(n)), "effective_rank": .number(s.effectiveRank),
            "entropy_normalized": .number(s.normalizedEntropy),
            "top_eigenvalues": .array(values.reversed().prefix(4).map { .number(max($0, 0)) }),
            "kernel_seconds": .number(kernelSeconds), "seconds": .number(CollectiveVariablesScan.seconds(since: start)),
        ]
    }

    static func value(_ r: [String: JSONValue], _ key: String) -> Double { r[key]?.doubleValue ?? .nan }

    /// The part-3 runs left in `directory`, grouped by run in file order.
    static func readRuns(_ directory: URL) throws -> [[[String: JSONValue]]] {
        let url = directory.appendingPathComponent(file)
        guard FileManager.default.fileExists(atPath: url.path) else { return [] }
        var order: [String] = [], runs: [String: [[String: JSONValue]]] = [:]
        for r in try readRecords(url) {
            let name = r["run"]?.stringValue ?? "?"
            if runs[name] == nil { order.append(name) }
            runs[name, default: []].append(r)
        }
        return order.map { runs[$0]! }
    }
}

// MARK: Verdict (C5), summary and figure

/// One part-3 run, from its records in step order.
struct ModernTrajectory {
    let name: String, family: String, architecture: String, activation: String, optimizer: String
    let depth: Int, width: Int, parameters: Int, dimension: Int
    let steps: [Double], entropy: [Double], trace: [Double], loss: [Double], testAccuracy: Double?

    init(_ records: [[String: JSONValue]]) {
        let records = records.sorted { ($0["step"]?.doubleValue ?? 0) < ($1["step"]?.doubleValue ?? 0) }
        func v(_ r: [String: JSONValue], _ key: String) -> Double { r[key]?.doubleValue ?? .nan }
        func s(_ key: String) -> String { records.first?[key]?.stringValue ?? "" }
        name = s("run"); family = s("family"); architecture = s("architecture"); activation = s("activation")
        optimizer = s("optimizer")
        depth = Int(v(records[0], "depth")); width = Int(v(records[0], "width"))
        parameters = Int(v(records[0], "parameters")); dimension = Int(v(records[0], "kernel_dimension"))
        steps = records.map { v($0, "step") }
        entropy = records.map { v($0, "entropy") }
        trace = records.map { v($0, "trace_mean_diagonal") }
        loss = records.map { v($0, "train_loss") }
        testAccuracy = records.last?["test_accuracy"]?.doubleValue
    }

    var delta: Double { entropy.last! - entropy.first! }
    var rises: Bool { delta > 0 }
    /// Every record at or above the one before it (no dip at all).
    var monotone: Bool { zip(entropy, entropy.dropFirst()).allSatisfy { $1 >= $0 } }
    /// The entropy went below its start at an intermediate record.
    var dipsFirst: Bool { entropy.count > 2 && entropy[1..<(entropy.count - 1)].contains { $0 < entropy.first! } }
    var minimumStep: Int { Int(steps[entropy.indices.min { entropy[$0] < entropy[$1] }!]) }
    var rho: Double? { spearmanCorrelation(trace, loss) }

    var summary: RunSummary {
        RunSummary(name: name, architecture: architecture, depth: depth, width: width, activation: activation,
                   optimizer: optimizer, parameters: parameters, kernelDimension: dimension,
                   route: "exact (kernel formed in Double, dense eigensolver)", entropyStart: entropy.first!,
                   entropyEnd: entropy.last!, entropyMin: entropy.min()!, traceStart: trace.first!, traceEnd: trace.last!,
                   lossStart: loss.first!, lossEnd: loss.last!, records: CollectiveVariablesModern.file)
    }
}

extension CollectiveVariablesModern {
    /// C5 (README, "Verdict rules"): holds iff the exact entropy ends above its start in every
    /// one of the five architectures (structure formation everywhere); reported beside it how
    /// many rise monotonically, how many dip first, and whether T/N rises as the loss falls.
    static func c5(_ runs: [ModernTrajectory]) -> (holds: Bool?, evidence: String) {
        guard !runs.isEmpty else { return (nil, "Part 3 (modern architectures): no records.") }
        let rising = runs.filter(\.rises)
        let monotone = runs.filter(\.monotone).map(\.family)
        let dips = rising.filter(\.dipsFirst).map(\.family)
        let traceRises = runs.filter { ($0.rho ?? 0) < 0 && $0.trace.last! > $0.trace.first! }.count
        var e = "Part 3 (exact NTK of each task's probes): S(end) > S(start) in \(rising.count) of \(runs.count) architectures; "
        e += runs.map { r in
            "\(r.family) (P = \(r.parameters), N = \(r.dimension)): S \(fmt(r.entropy.first!)) → \(fmt(r.entropy.last!)) (ΔS = \(signed(r.delta)), min \(fmt(r.entropy.min()!)) at step \(r.minimumStep)), T/N \(fmt(r.trace.first!)) → \(fmt(r.trace.last!)), loss \(fmt(r.loss.first!)) → \(fmt(r.loss.last!))"
        }.joined(separator: "; ")
        e += ". Monotone (never below the previous record): \(monotone.isEmpty ? "none" : monotone.joined(separator: ", ")); rises that dip below S(start) first: \(dips.isEmpty ? "none" : dips.joined(separator: ", ")). T/N rises while the loss falls (ρ < 0) in \(traceRises) of \(runs.count). Rule: S(end) > S(start) in all → \(rising.count == runs.count)."
        return (rising.count == runs.count, e)
    }

    static func figure(_ runs: [ModernTrajectory]) -> SVGFigure {
        let stepAxis = "optimizer step (Adam)"
        func series(_ key: KeyPath<ModernTrajectory, [Double]>, relative: Bool = false) -> [LinePlot.Series] {
            runs.enumerated().map { i, r in
                let y = r[keyPath: key]
                return .init(name: r.family, points: zip(r.steps, y).map { (x: $0, y: relative ? $1 - y.first! : $1) },
                             color: LinePlot.palette[i % LinePlot.palette.count], dashed: r.family == "gcn")
            }
        }
        let delta = LinePlot(title: "Entropy change S(t) − S(0), exact (every marker an exact value)", xLabel: stepAxis,
                             yLabel: "ΔS (nats)", series: series(\.entropy, relative: true),
                             references: [.init(label: "S(0)", value: 0)])
        let entropy = LinePlot(title: "NTK entropy S(t), exact", xLabel: stepAxis, yLabel: "entropy S (nats)",
                               series: series(\.entropy))
        let trace = LinePlot(title: "NTK trace per kernel row T/N, exact", xLabel: stepAxis,
                             yLabel: "T / N (NTK units: output² per unit θ²)", yScale: .logarithmic, series: series(\.trace))
        let loss = LinePlot(title: "Training loss (CE; auto-encoder: MSE; GCN: labeled nodes)", xLabel: stepAxis,
                            yLabel: "loss (nats; AE: pixel²)", yScale: .logarithmic, series: series(\.loss))
        return SVGFigure(plots: [delta, entropy, trace, loss], columns: 2)
    }
}

import Foundation
import NTKDatasets
import NTKEstimation
import NTKLinearAlgebra
import NTKNetworks
import NTKSpectra

/// Part 4 of the reproduction of arXiv:2410.07451: where the paper could not go.
///
/// The full NTK of 1000 Fashion-MNIST inputs × 10 outputs (N = 10⁴: a kernel the paper's
/// block protocol could not form) tracked through training, matrix-free — exact trace from
/// per-example gradients, deflated SLQ entropy with its 95 % interval on the structured NTK
/// product — beside the paper's protocol on the same inputs and network states: 200 random
/// 20-point blocks (200 × 200 kernels, exact), mean ± s.d. of their entropies. Two sub-runs, each
/// ≤ 10 min on 2 cores:
/// - `n10k-mlp`: the scan's largest network (MLP 784-256-256-256-256-10, ReLU, Adam, the scan's
///   training exactly: run `scan-adam-relu-d4-w256`);
/// - `n10k-transformer`: part 3's transformer (run `modern-transformer`, the same training).
///
/// At every record also the "kinetic energy" relation of gradient flow: for θ̇ = −∇_θ L = −Jᵀg
/// with g = ∂L/∂f (L the mean cross-entropy over the 1000 inputs), ‖θ̇‖² = gᵀ K g; the left side
/// from one VJP, the right from one NTK product, and gᵀKg/(‖g‖² T/N), the factor by which the
/// loss gradient is aligned with the large-eigenvalue directions (1 for a direction drawn
/// uniformly at random): dL/dt = −gᵀKg under gradient flow, so T/N sets the effective step
/// size of an unaligned gradient.
enum CollectiveVariablesFullKernel {
    struct Config {
        var trainCount: Int
        var evalCount: Int
        var probesPerClass: Int
        var epochs: Int
        var batchSize: Int
        /// Record steps besides 0 and the last: the MLP's, the transformer's (fewer: its NTK
        /// products cost ~5× the MLP's here).
        var recordSteps: [Int]
        var transformerRecordSteps: [Int]
        var blocks: Int
        var blockSize: Int
        /// NTK products per record of the matrix-free entropy (a budget: the estimator stops
        /// at its 1 % tolerance or here, whichever comes first).
        var maxMatvecs: Int
        var mlpWidths: [Int]
        var transformer: CollectiveVariablesModern.Config

        static let full = Config(trainCount: 6000, evalCount: 1000, probesPerClass: 100, epochs: 2, batchSize: 64,
                                 recordSteps: [5, 10, 20, 40, 70, 94, 140], transformerRecordSteps: [10, 40, 94],
                                 blocks: 200, blockSize: 20, maxMatvecs: 400,
                                 mlpWidths: [256, 256, 256, 256], transformer: .full)
        static let quick = Config(trainCount: 320, evalCount: 100, probesPerClass: 10, epochs: 1, batchSize: 64,
                                  recordSteps: [2], transformerRecordSteps: [2], blocks: 20, blockSize: 5, maxMatvecs: 200, mlpWidths: [32, 32],
                                  transformer: .quick)
    }

    static let parts = ["n10k-mlp", "n10k-transformer"]

    static func file(_ part: String) -> String { "\(part).jsonl" }

    static func run(_ part: String, options: RunOptions) throws -> [[String: JSONValue]] {
        var config = options.quick ? Config.quick : Config.full
        if let m = ProcessInfo.processInfo.environment["PAPERS_N10K_MATVECS"].flatMap(Int.init) { config.maxMatvecs = m }
        if let s = ProcessInfo.processInfo.environment["PAPERS_N10K_STEPS"] {
            config.recordSteps = s.split(separator: ",").compactMap { Int($0) }
            config.transformerRecordSteps = config.recordSteps
        }
        let train = try DebianDatasets.fashionMNIST(split: .train, limit: config.trainCount, as: Double.self)
        let test = try DebianDatasets.fashionMNIST(split: .test, limit: config.evalCount, as: Double.self)
        let evalTrain = try train.subset(Array(0..<min(config.evalCount, train.count)))
        let probeSet = try train.subset(CollectiveVariablesModern.probeIndices(train, perClass: config.probesPerClass))
        let stepsPerEpoch = (train.count + config.batchSize - 1) / config.batchSize
        let last = stepsPerEpoch * config.epochs
        let recordSteps = part == "n10k-mlp" ? config.recordSteps : config.transformerRecordSteps
        let steps = Set([0] + recordSteps.filter { $0 > 0 && $0 < last } + [last])
        let blocks = CollectiveVariablesScan.blockIndices(count: config.blocks, size: config.blockSize, examples: probeSet.count,
                                                         seed: CollectiveVariablesScan.blockSeed)
        var network: Network<Double>
        let architecture: String, family: String, depth: Int, width: Int, activation: String
        if part == "n10k-mlp" {
            network = try Network<Double>.mlp(inputSize: 784, hiddenSizes: config.mlpWidths, outputSize: 10, activation: .relu, seed: 0)
            architecture = "MLP 784-" + config.mlpWidths.map(String.init).joined(separator: "-") + "-10"
            family = "mlp"; depth = config.mlpWidths.count; width = config.mlpWidths.last!; activation = "relu"
        } else {
            network = try CollectiveVariablesModern.transformer(config.transformer)
            architecture = CollectiveVariablesModern.transformerLabel(config.transformer)
            family = "transformer"; depth = config.transformer.transformer.blocks; width = config.transformer.transformer.d
            activation = "gelu"
        }
        let n = probeSet.count, k = 10
        progress("collective-variables \(part): \(architecture), P = \(network.parameterCount); \(n) inputs × \(k) outputs (N = \(n * k)) matrix-free (≤ \(config.maxMatvecs) NTK products a record) and \(config.blocks) blocks of \(config.blockSize) points; \(config.epochs) epochs × \(stepsPerEpoch) steps; records at steps \(steps.sorted())")
        var estimator = CollectiveVariableEstimator(kind: .full)
        estimator.route = .matrixFree
        estimator.spectral.seed = 1                  // the same probes at every record
        estimator.spectral.maxApplications = config.maxMatvecs
        // The NTK product: structured for the MLP (two GEMMs per layer from cached signals);
        // JVP∘VJP for the transformer, where one structured product measured 0.69 s against
        // 0.28 s (attention and layer norms have no structured rule and go through per-layer VJPs).
        estimator.operatorPreference = part == "n10k-mlp" ? .structured : .jvpVJP
        let writer = try JSONLinesWriter(url: options.output.appendingPathComponent(file(part)), truncate: true)
        let trainer = Trainer(epochs: config.epochs, batchSize: config.batchSize, seed: 0, loss: .softmaxCrossEntropy,
                              optimizer: Adam<Double>(learningRate: 1e-3))
        var records: [[String: JSONValue]] = []
        let recorder = ScanRecorder(steps: steps) { network, step in
            let started = DispatchTime.now().uptimeNanoseconds
            var r = try measure(network: network, probes: probeSet, blocks: blocks, estimator: estimator,
                                keepBlockEntropies: step == 0 || step == last)
            r["run"] = .string(part)
            r["family"] = .string(family)
            r["architecture"] = .string(architecture)
            r["activation"] = .string(activation)
            r["depth"] = .integer(depth)
            r["width"] = .integer(width)
            r["optimizer"] = .string("adam(lr=0.001, batch \(config.batchSize))")
            r["step"] = .integer(step)
            r["epoch"] = .number(Double(step) / Double(stepsPerEpoch))
            let trainEval = try trainer.evaluate(network: network, inputs: evalTrain.inputs, targets: evalTrain.targets)
            let testEval = try trainer.evaluate(network: network, inputs: test.inputs, targets: test.targets)
            r["train_loss"] = .number(trainEval.loss)
            r["train_accuracy"] = trainEval.accuracy.map { .number($0) } ?? .null
            r["test_loss"] = .number(testEval.loss)
            r["test_accuracy"] = testEval.accuracy.map { .number($0) } ?? .null
            r["record_seconds"] = .number(CollectiveVariablesScan.seconds(since: started))
            try writer.append(r)
            records.append(r)
            progress(String(format: "    step %3d: S %.4f [%.4f, %.4f] (%d products, %.0f s), blocks %.4f ± %.4f (%.0f s), T/N %.4g, kinetic rel. diff %.1e, alignment %.3g, loss %.4f",
                            step, value(r, "entropy"), value(r, "entropy_lower"), value(r, "entropy_upper"), Int(value(r, "matvecs")),
                            value(r, "full_seconds"), value(r, "block_entropy_mean"), value(r, "block_entropy_sd"),
                            value(r, "block_seconds"), value(r, "trace_mean_diagonal"), value(r, "kinetic_relative_difference"),
                            value(r, "kinetic_alignment"), trainEval.loss))
        }
        _ = try trainer.train(network: &network, inputs: train.inputs, targets: train.targets, callbacks: [recorder])
        return records
    }

    /// One record: the full kernel matrix-free, the blocks exactly, and the kinetic-energy check.
    static func measure(network: Network<Double>, probes: Dataset<Double>, blocks: [[Int]], estimator: CollectiveVariableEstimator,
                        keepBlockEntropies: Bool) throws -> [String: JSONValue] {
        let start = DispatchTime.now().uptimeNanoseconds
        let estimate = try estimator.estimate(network: network, inputs: probes.inputs)
        let n = probes.count, k = network.outputCount, dimension = n * k
        var r: [String: JSONValue] = [
            "parameters": .integer(network.parameterCount), "kernel_dimension": .integer(dimension),
            "examples": .integer(n), "route": .string(estimate.route.rawValue), "operator": .string(estimate.operatorName),
            "entropy": .number(estimate.entropy.value), "entropy_lower": .number(estimate.entropy.lower),
            "entropy_upper": .number(estimate.entropy.upper), "entropy_stderr": .number(estimate.entropy.standardError),
            "entropy_exact": .bool(false), "trace": .number(estimate.trace),
            "trace_mean_diagonal": .number(estimate.trace / Double(dimension)),
            "effective_rank": .number(estimate.effectiveRank.value),
            "top_eigenvalues": .array(estimate.topEigenvalues.prefix(4).map { .number($0) }),
            "deflation_rank": .integer(estimate.deflationRank), "probes": .integer(estimate.probes),
            "matvecs": .integer(estimate.matvecs), "full_seconds": .number(CollectiveVariablesScan.seconds(since: start)),
        ]

        // The paper's protocol on the same inputs: each block's exact 200 × 200 kernel — by
        // `ExactNTK` (structured Gram products) for the MLP, as J Jᵀ from per-example VJPs for
        // the transformer (ExactNTK took 2.7 s a block there, J Jᵀ 0.1 s).
        let blockStart = DispatchTime.now().uptimeNanoseconds
        let exact = ExactNTK(kind: .full)
        let viaJacobian = !network.body.layers.allSatisfy { $0 is Linear<Double> || $0 is Activation<Double> }
        var entropies: [Double] = [], traces: [Double] = []
        for block in blocks {
            let inputs = try Matrix(rows: block.count, columns: probes.inputSize, storage: block.flatMap { probes.inputs.row($0) })
            let s: SpectrumStatistics
            if viaJacobian {
                var kernel = try CollectiveVariablesScan.jacobianKernel(network: network, inputs: inputs)
                s = SpectrumStatistics(eigenvalues: try SymmetricEigen(destroying: &kernel).values)
            } else {
                s = try exact.spectrum(network: network, inputs: inputs).statistics
            }
            entropies.append(s.entropy)
            traces.append(s.trace / Double(block.count * k))
        }
        r["block_kernel"] = .string(viaJacobian ? "J Jᵀ from per-example VJPs" : "ExactNTK (structured Gram)")
        let mean = entropies.reduce(0, +) / Double(entropies.count)
        let sd = (entropies.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(entropies.count - 1)).squareRoot()
        r["block_entropy_mean"] = .number(mean)
        r["block_entropy_sd"] = .number(sd)
        r["block_entropy_stderr"] = .number(sd / Double(entropies.count).squareRoot())
        r["block_trace_mean_diagonal"] = .number(traces.reduce(0, +) / Double(traces.count))
        r["blocks"] = .integer(blocks.count)
        r["block_size"] = .integer(blocks[0].count)
        r["block_seconds"] = .number(CollectiveVariablesScan.seconds(since: blockStart))
        if keepBlockEntropies { r["block_entropies"] = .array(entropies.map { .number(Double(String(format: "%.7g", $0))!) }) }

        // Kinetic energy: ‖Jᵀg‖² (one VJP) against gᵀ K g (one NTK product).
        let kineticStart = DispatchTime.now().uptimeNanoseconds
        let loss = Loss.softmaxCrossEntropy
        let outputs = try network.forward(probes.inputs)
        let (lossValue, g) = try loss.evaluate(outputs: outputs, targets: probes.targets)
        let (_, gradient) = try loss.gradient(of: network, inputs: probes.inputs, targets: probes.targets)
        let velocity = gradient.reduce(0) { $0 + $1 * $1 }
        let ntk = try EmpiricalNTK(network: network, inputs: probes.inputs, kind: .full)
        let gRow = try Matrix(rows: 1, columns: dimension, storage: g.storage)
        var kg = Matrix<Double>(rows: 1, columns: dimension)
        try ntk.apply(gRow, into: &kg)
        let quadratic = zip(g.storage, kg.storage).reduce(0) { $0 + $1.0 * $1.1 }
        let gNorm = g.storage.reduce(0) { $0 + $1 * $1 }
        let traceMean = estimate.trace / Double(dimension)
        r["kinetic_loss"] = .number(lossValue)
        r["kinetic_velocity_squared"] = .number(velocity)
        r["kinetic_gKg"] = .number(quadratic)
        r["kinetic_relative_difference"] = .number(abs(velocity - quadratic) / max(abs(quadratic), .leastNormalMagnitude))
        r["kinetic_g_norm_squared"] = .number(gNorm)
        r["kinetic_alignment"] = .number(quadratic / (gNorm * traceMean))
        if let top = estimate.topEigenvalues.first { r["kinetic_rayleigh_over_lambda_max"] = .number(quadratic / (gNorm * top)) }
        r["kinetic_seconds"] = .number(CollectiveVariablesScan.seconds(since: kineticStart))
        return r
    }

    static func value(_ r: [String: JSONValue], _ key: String) -> Double { r[key]?.doubleValue ?? .nan }

    static func readRuns(_ directory: URL) throws -> [String: [[String: JSONValue]]] {
        var runs: [String: [[String: JSONValue]]] = [:]
        for part in parts {
            let url = directory.appendingPathComponent(file(part))
            if FileManager.default.fileExists(atPath: url.path) { runs[part] = try readRecords(url) }
        }
        return runs
    }
}

/// One part-4 run from its records (in step order).
struct FullKernelTrajectory {
    let name: String, family: String, architecture: String, activation: String, optimizer: String
    let depth: Int, width: Int, parameters: Int, dimension: Int
    let steps: [Double], entropy: [Double], lower: [Double], upper: [Double], trace: [Double], loss: [Double]
    let blockMean: [Double], blockSD: [Double], blockTrace: [Double]
    let kineticDifference: [Double], alignment: [Double], matvecs: [Double], recordSeconds: [Double]
    let blockDelta: (mean: Double, sd: Double, count: Int)?

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
        lower = records.map { v($0, "entropy_lower") }
        upper = records.map { v($0, "entropy_upper") }
        trace = records.map { v($0, "trace_mean_diagonal") }
        loss = records.map { v($0, "train_loss") }
        blockMean = records.map { v($0, "block_entropy_mean") }
        blockSD = records.map { v($0, "block_entropy_sd") }
        blockTrace = records.map { v($0, "block_trace_mean_diagonal") }
        kineticDifference = records.map { v($0, "kinetic_relative_difference") }
        alignment = records.map { v($0, "kinetic_alignment") }
        matvecs = records.map { v($0, "matvecs") }
        recordSeconds = records.map { v($0, "record_seconds") }
        if case let .array(a)? = records.first?["block_entropies"], case let .array(b)? = records.last?["block_entropies"],
           a.count == b.count, a.count >= 2 {
            let d = zip(a, b).map { ($1.doubleValue ?? .nan) - ($0.doubleValue ?? .nan) }
            let mean = d.reduce(0, +) / Double(d.count)
            let sd = (d.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(d.count - 1)).squareRoot()
            blockDelta = (mean, sd, d.count)
        } else {
            blockDelta = nil
        }
    }

    var delta: Double { entropy.last! - entropy.first! }
    var deltaHalfWidth: Double {
        let h0 = (upper.first! - lower.first!) / 2, h1 = (upper.last! - lower.last!) / 2
        return (h0 * h0 + h1 * h1).squareRoot()
    }
    var blockDeltaValue: Double { blockDelta?.mean ?? (blockMean.last! - blockMean.first!) }
    var blockDeltaHalfWidth: Double { blockDelta.map { 1.96 * $0.sd / Double($0.count).squareRoot() } ?? .nan }
    /// Block mean minus full-kernel entropy at each record.
    var bias: [Double] { zip(blockMean, entropy).map { $0 - $1 } }
    var rhoFull: Double? { spearmanCorrelation(steps, entropy) }
    var rhoBlocks: Double? { spearmanCorrelation(steps, blockMean) }

    var summary: RunSummary {
        RunSummary(name: name, architecture: architecture, depth: depth, width: width, activation: activation,
                   optimizer: optimizer, parameters: parameters, kernelDimension: dimension,
                   route: "matrix-free (structured NTK product, exact trace, deflated SLQ entropy with 95% interval); blocks: 200 × 20-point exact kernels",
                   entropyStart: entropy.first!, entropyEnd: entropy.last!, entropyMin: entropy.min()!,
                   traceStart: trace.first!, traceEnd: trace.last!, lossStart: loss.first!, lossEnd: loss.last!,
                   records: CollectiveVariablesFullKernel.file(name))
    }

    /// How the block protocol reads this run, in words and numbers.
    var evidence: String {
        let maxDiff = kineticDifference.max() ?? .nan
        return "\(name) (\(architecture), P = \(parameters), N = \(dimension)): full kernel S \(fmt(entropy.first!)) → \(fmt(entropy.last!)) (ΔS = \(signed(delta)) ± \(fmt(deltaHalfWidth, 2)), min \(fmt(entropy.min()!))); blocks \(fmt(blockMean.first!)) ± \(fmt(blockSD.first!, 2)) → \(fmt(blockMean.last!)) ± \(fmt(blockSD.last!, 2)) (paired ΔS = \(signed(blockDeltaValue)) ± \(fmt(blockDeltaHalfWidth, 2))); block − full at each record \(bias.map { signed($0) }.joined(separator: ", ")) nats; Spearman ρ(S, step) full \(rhoFull.map { fmt($0, 3) } ?? "–"), blocks \(rhoBlocks.map { fmt($0, 3) } ?? "–"); T/N \(fmt(trace.first!)) → \(fmt(trace.last!)) (blocks \(fmt(blockTrace.first!)) → \(fmt(blockTrace.last!))); kinetic relation ‖θ̇‖² = gᵀKg to \(String(format: "%.1e", maxDiff)) (largest relative difference over \(steps.count) records), alignment gᵀKg/(‖g‖² T/N) \(alignment.map { fmt($0, 3) }.joined(separator: ", ")); \(Int(matvecs.reduce(0, +))) NTK products, \(fmt(recordSeconds.reduce(0, +), 3)) s of records"
    }
}

extension CollectiveVariablesFullKernel {
    static func figure(_ runs: [FullKernelTrajectory]) -> SVGFigure {
        var plots: [LinePlot] = []
        for r in runs {
            let axis = "optimizer step (Adam, batch 64)"
            let full = LinePlot.Series(name: "full kernel N = \(r.dimension) (matrix-free, 95% interval band)",
                                       points: zip(r.steps, r.entropy).map { ($0, $1) }, color: LinePlot.palette[0],
                                       band: r.steps.indices.map { (r.steps[$0], r.lower[$0], r.upper[$0]) })
            let blocks = LinePlot.Series(name: "\(200) × 20-point blocks: mean (band ± 1 s.d.)",
                                         points: zip(r.steps, r.blockMean).map { ($0, $1) }, color: LinePlot.palette[1],
                                         band: r.steps.indices.map { (r.steps[$0], r.blockMean[$0] - r.blockSD[$0], r.blockMean[$0] + r.blockSD[$0]) })
            plots.append(LinePlot(title: "\(r.name): NTK entropy, full kernel vs blocks", xLabel: axis, yLabel: "entropy S (nats)",
                                  series: [full, blocks]))
            let d0 = r.entropy.first!, b0 = r.blockMean.first!
            plots.append(LinePlot(
                title: "\(r.name): entropy change from step 0", xLabel: axis, yLabel: "S(t) − S(0) (nats)",
                series: [.init(name: "full kernel (95% band)", points: zip(r.steps, r.entropy).map { ($0, $1 - d0) }, color: LinePlot.palette[0],
                               band: r.steps.indices.map { (r.steps[$0], r.lower[$0] - d0, r.upper[$0] - d0) }),
                         .init(name: "block mean", points: zip(r.steps, r.blockMean).map { ($0, $1 - b0) }, color: LinePlot.palette[1])],
                references: [.init(label: "0", value: 0)]))
            plots.append(LinePlot(
                title: "\(r.name): trace per row and gradient alignment", xLabel: axis, yLabel: "T/N (NTK units); alignment (1)",
                yScale: .logarithmic,
                series: [.init(name: "T/N full kernel (exact)", points: zip(r.steps, r.trace).map { ($0, $1) }, color: LinePlot.palette[2]),
                         .init(name: "T/N blocks (mean)", points: zip(r.steps, r.blockTrace).map { ($0, $1) }, color: LinePlot.palette[3], dashed: true),
                         .init(name: "gᵀKg / (‖g‖² T/N)", points: zip(r.steps, r.alignment).map { ($0, $1) }, color: LinePlot.palette[4])]))
        }
        return SVGFigure(plots: plots, columns: 3, panelWidth: 480, panelHeight: 340)
    }

    /// The part-4 finding, computed from the records: the bias of the block protocol (block mean
    /// − full-kernel S) at every record, and whether it reads the trend the same way (sign of ΔS).
    static func findings(_ runs: [FullKernelTrajectory]) -> (holds: Bool?, evidence: String) {
        guard !runs.isEmpty else { return (nil, "Part 4 (N = 10⁴): no records.") }
        let allBelow = runs.allSatisfy { $0.bias.allSatisfy { $0 < 0 } }
        let sameSign = runs.filter { ($0.delta > 0) == ($0.blockDeltaValue > 0) }.count
        let ratio = runs.map { $0.blockDeltaValue / $0.delta }
        let maxKinetic = runs.flatMap(\.kineticDifference).max() ?? .nan
        let e = "Part 4: " + runs.map(\.evidence).joined(separator: ". ")
            + ". The block mean lies below the full-kernel entropy at every record: \(allBelow); the block protocol gives ΔS of the same sign in \(sameSign) of \(runs.count) runs, with ΔS_blocks/ΔS_full = \(ratio.map { fmt($0, 3) }.joined(separator: ", ")). Kinetic relation holds to \(String(format: "%.1e", maxKinetic)) at every record (rule: < 1e-8 → \(maxKinetic < 1e-8))."
        return (maxKinetic < 1e-8, e)
    }
}

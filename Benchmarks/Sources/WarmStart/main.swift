// Warm start across monitor records (issue #13, item 2): products of a warm-started record
// against a cold one at the same rtol, and the calibration of warm-started intervals against
// the exact entropy, over many probe seeds, on the NTKs of a real training trajectory.
//
// Workload: MLP 784-H-H-10 (tanh, Double) trained by SGD (momentum 0.9, MSE, batch 64) on
// Fashion-MNIST (Debian's dataset-fashion-mnist, training split); every `every` steps the full
// NTK ((n·k)×(n·k), k = 10) of n held-out test images is formed once in Double
// (StructuredExactNTK) and its exact spectrum taken (LAPACK dsyevd). Every estimate runs on a
// DenseOperator of that kernel: the estimator sees only an operator, so the products it spends
// and its statistics are those of the matrix-free route (whose Double products agree with the
// formed kernel to rounding), while 100 seeds stay affordable.
//
// Per seed s and record t: a cold estimate (SpectralEstimator defaults with the monitor's
// settings: exact trace hint, rtol, maxApplications) and a warm one continuing seed s's chain
// (record 0 is cold; record t ≥ 1 starts from record t − 1's WarmStart). Coverage: the share of
// intervals holding the exact entropy (statistical interval; and widened by the reported bias
// bound, as the monitor's exact_in_interval does). Common random numbers: the error of
// Ŝ(t) − Ŝ(t−1) along warm chains against cold estimates with unrelated seeds.
//
// Usage (release): warm-start [hidden=1024,1024] [n=200] [records=8] [every=20] [seeds=100]
//   [workers=2] [threads=1] [rtol=0.01] [maxApplications=400] [exact=1] [trainSamples=6000]
//   [lr=0.05] [activation=tanh] [out=results/warm-start.md]
import Foundation
import NTKDatasets
import NTKEstimation
import NTKLinearAlgebra
import NTKNetworks
import NTKSpectra

func emit(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }

let options: [String: String] = {
    var options: [String: String] = [:]
    for arg in CommandLine.arguments.dropFirst() {
        let parts = arg.split(separator: "=", maxSplits: 1).map(String.init)
        if parts.count == 2 { options[parts[0]] = parts[1] }
    }
    return options
}()
func ints(_ key: String, _ fallback: [Int]) -> [Int] {
    options[key].map { $0.split(separator: ",").compactMap { Int($0) } } ?? fallback
}
let hidden = ints("hidden", [1024, 1024])
let n = ints("n", [200])[0]
let recordCount = ints("records", [8])[0]
let every = ints("every", [20])[0]
let seeds = ints("seeds", [100])[0]
let workers = max(1, ints("workers", [2])[0])
let threads = ints("threads", [1])[0]
let rtol = Double(options["rtol"] ?? "0.01") ?? 0.01
let maxApplications = ints("maxApplications", [400])[0]
let doExact = ints("exact", [1])[0] != 0
let trainSamples = ints("trainSamples", [6000])[0]
let learningRate = Double(options["lr"] ?? "0.05") ?? 0.05
let activationName = options["activation"] ?? "tanh"
let outPath = options["out"] ?? "results/warm-start.md"
let defaults = SpectralEstimator.Configuration()
let warmSteps = ints("warmSteps", [defaults.warmRefreshSteps])[0]
let warmRounds = ints("warmRounds", [defaults.warmRefreshRounds])[0]
let warmGuards = ints("warmGuards", [defaults.warmGuardVectors])[0]
let warmFloor = Double(options["warmFloor"] ?? "") ?? defaults.warmVectorFloor
let ritzTolerance = Double(options["ritz"] ?? "") ?? defaults.ritzTolerance
let startStep = ints("start", [0])[0]

try BLASThreads.set(threads)
_ = AllocationPolicy.keepFreedMemory()

final class Collector<T: Sendable>: @unchecked Sendable {
    private var items: [T] = []
    private let lock = NSLock()
    func append(_ item: T) { lock.lock(); items.append(item); lock.unlock() }
    var all: [T] { lock.lock(); defer { lock.unlock() }; return items }
}

/// Snapshots the parameters at steps 0, every, 2·every, … and stops after `count`.
final class Snapshots: TrainingCallback {
    var parameters: [[Double]] = []
    var steps: [Int] = []
    let every: Int, count: Int, start: Int
    init(every: Int, count: Int, start: Int) { self.every = every; self.count = count; self.start = start }
    func take(_ c: TrainingContext<Double>) -> TrainingDecision {
        if c.step >= start, (c.step - start) % every == 0, parameters.count < count, steps.last != c.step {
            parameters.append(c.network.parameters); steps.append(c.step)
        }
        return parameters.count >= count ? .stop : .continue
    }
    func trainingDidBegin(_ c: TrainingContext<Double>) throws -> TrainingDecision { take(c) }
    func stepDidEnd(_ c: TrainingContext<Double>) throws -> TrainingDecision { take(c) }
}

func quantile(_ xs: [Double], _ p: Double) -> Double {
    guard !xs.isEmpty else { return .nan }
    let s = xs.sorted()
    return s[min(s.count - 1, max(0, Int((p * Double(s.count)).rounded(.up)) - 1))]
}
func median(_ xs: [Double]) -> Double {
    guard !xs.isEmpty else { return .nan }
    let s = xs.sorted(), c = s.count
    return c % 2 == 1 ? s[c / 2] : (s[c / 2 - 1] + s[c / 2]) / 2
}

struct Run: Sendable {
    var value: Double, lower: Double, upper: Double, bias: Double
    var applications: Int, deflationApplications: Int, seconds: Double, rank: Int, probes: Int
    var usage: WarmStartUsage
    init(_ r: SpectralReport) {
        value = r.entropy.value; lower = r.entropy.lower; upper = r.entropy.upper; bias = r.entropy.biasBound ?? 0
        applications = r.applications; deflationApplications = r.warmStart.deflationApplications
        seconds = r.seconds; rank = r.deflationRank; probes = r.probes; usage = r.warmStart
    }
    func covers(_ s: Double, widened: Bool) -> Bool {
        let w = widened ? bias : 0
        return lower - w <= s && s <= upper + w
    }
}
struct SeedRecord: Sendable { var seed: Int; var cold: Run; var warm: Run; var state: WarmStart }

var markdown: [String] = []
@MainActor func md(_ line: String) { markdown.append(line); emit(line) }

let activation = ActivationFunction(rawValue: activationName) ?? .tanh
let architecture = "784-" + hidden.map(String.init).joined(separator: "-") + "-10"
md("# Warm start across records: products and calibration (NTKSpectra)")
md("")
md("Command: `cd Benchmarks && swift build -c release --scratch-path .build-warm && .build-warm/release/warm-start "
    + CommandLine.arguments.dropFirst().joined(separator: " ") + "`")
md("")
md("openblas_core \(BLASThreads.coreName), BLAS threads \(BLASThreads.count), \(workers) seed workers; "
    + "MLP \(architecture) \(activationName) (Double), Fashion-MNIST: \(trainSamples) training images, "
    + "probe set the first \(n) test images (N = \(n * 10)); SGD lr \(learningRate), momentum 0.9, MSE, batch 64; "
    + "a record every \(every) steps; estimator: SpectralEstimator defaults, rtol \(rtol), maxApplications \(maxApplications), exact trace; "
    + "warm refresh \(warmSteps) steps × ≤ \(warmRounds) rounds, \(warmGuards) guard vectors, vector floor \(warmFloor); Ritz acceptance \(ritzTolerance)·θ_max (cold and warm); first record at step \(startStep).")
md("")

let trainSet = try DebianDatasets.fashionMNIST(split: .train, limit: trainSamples, as: Double.self)
let testSet = try DebianDatasets.fashionMNIST(split: .test, limit: n, as: Double.self)
var network = try Network<Double>.mlp(inputSize: 784, hiddenSizes: hidden, outputSize: 10, activation: activation, seed: 1)
let snapshots = Snapshots(every: every, count: recordCount, start: startStep)
let trainer = Trainer(epochs: 1000, batchSize: 64, seed: 1, loss: .meanSquaredError(),
                      optimizer: SGD<Double>(learningRate: learningRate, momentum: 0.9))
var t0 = Date()
_ = try trainer.train(network: &network, inputs: trainSet.inputs, targets: trainSet.targets, callbacks: [snapshots])
emit(String(format: "trained to step %d in %.1f s (P = %d)", snapshots.steps.last ?? 0, Date().timeIntervalSince(t0),
            network.parameterCount))

var states = [WarmStart?](repeating: nil, count: seeds)
var perRecord: [[SeedRecord]] = []
var exactS: [Double] = []
md("| record | step | exact S | T | kernel s | dsyevd s | cold matvecs (median) | warm matvecs (median) | ratio of medians | median per-seed ratio | warm fell back | reused vectors (median) | deflation rank cold / warm | cold s / warm s (median) | coverage cold | coverage warm | warm ± bias bound |")
md("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for (t, parameters) in snapshots.parameters.enumerated() {
    network.parameters = parameters
    t0 = Date()
    let kernel = try StructuredExactNTK().kernel(network: network, inputs: testSet.inputs, kind: .full)
    let kernelSeconds = Date().timeIntervalSince(t0)
    var diagonalSum = 0.0
    for i in 0..<kernel.rows { diagonalSum += kernel[i, i] }
    let trace = diagonalSum
    var exact = Double.nan, eigenSeconds = 0.0
    if doExact {
        t0 = Date()
        let values = try SymmetricEigen(kernel).values
        eigenSeconds = Date().timeIntervalSince(t0)
        exact = SpectrumStatistics(eigenvalues: values).entropy
    }
    exactS.append(exact)
    let collector = Collector<SeedRecord>()
    let previous = states
    DispatchQueue.concurrentPerform(iterations: workers) { w in
        do {
            let op = try DenseOperator(kernel)
            var seed = w
            while seed < seeds {
                var config = SpectralEstimator.Configuration()
                config.seed = UInt64(seed) &* 0x9E37_79B9 &+ 17
                config.rtol = rtol
                config.maxApplications = maxApplications
                config.warmRefreshSteps = warmSteps
                config.warmRefreshRounds = warmRounds
                config.warmGuardVectors = warmGuards
                config.warmVectorFloor = warmFloor
                config.ritzTolerance = ritzTolerance
                let estimator = SpectralEstimator(config)
                let cold = try estimator.estimate(op, traceHint: trace, warmStart: nil)
                let warm = t == 0 ? cold : try estimator.estimate(op, traceHint: trace, warmStart: previous[seed])
                collector.append(SeedRecord(seed: seed, cold: Run(cold.report), warm: Run(warm.report), state: warm.warmStart))
                seed += workers
            }
        } catch {
            emit("record \(t) worker \(w) failed: \(error)")
        }
    }
    let results = collector.all.sorted { $0.seed < $1.seed }
    for r in results { states[r.seed] = r.state }
    perRecord.append(results)
    let coldApps = results.map { Double($0.cold.applications) }, warmApps = results.map { Double($0.warm.applications) }
    let ratios = results.map { Double($0.warm.applications) / Double($0.cold.applications) }
    func coverage(_ runs: [Run], widened: Bool) -> String {
        guard doExact, !runs.isEmpty else { return "—" }
        let c = Double(runs.filter { $0.covers(exact, widened: widened) }.count) / Double(runs.count)
        return String(format: "%.3f", c)
    }
    md(String(format: "| %d | %d | %.5f | %.5g | %.1f | %.1f | %.0f | %.0f | %.3f | %.3f | %d/%d | %.0f | %.0f / %.0f | %.2f / %.2f | %@ | %@ | %@ |",
              t, snapshots.steps[t], exact, trace, kernelSeconds, eigenSeconds, median(coldApps), median(warmApps),
              median(warmApps) / median(coldApps), median(ratios),
              results.filter { $0.warm.usage.fellBack }.count, results.count,
              median(results.map { Double($0.warm.usage.reusedVectors) }),
              median(results.map { Double($0.cold.rank) }), median(results.map { Double($0.warm.rank) }),
              median(results.map { $0.cold.seconds }), median(results.map { $0.warm.seconds }),
              coverage(results.map(\.cold), widened: false), coverage(results.map(\.warm), widened: false),
              coverage(results.map(\.warm), widened: true)))
}
md("")
// Summary over warm-started records (t ≥ 1).
let warmRecords = perRecord.dropFirst().flatMap { $0 }
let coldRecords = perRecord.dropFirst().flatMap { $0 }
let coldApps = coldRecords.map { Double($0.cold.applications) }, warmApps = warmRecords.map { Double($0.warm.applications) }
md(String(format: "**Records 1…%d (warm-started), %d seeds: median matvecs cold %.0f, warm %.0f, ratio of medians %.3f; "
    + "median per-(seed, record) ratio %.3f, 90th percentile %.3f; mean matvecs cold %.1f, warm %.1f (ratio %.3f).**",
    perRecord.count - 1, seeds, median(coldApps), median(warmApps), median(warmApps) / median(coldApps),
    median(warmRecords.map { Double($0.warm.applications) / Double($0.cold.applications) }),
    quantile(warmRecords.map { Double($0.warm.applications) / Double($0.cold.applications) }, 0.9),
    coldApps.reduce(0, +) / Double(max(1, coldApps.count)), warmApps.reduce(0, +) / Double(max(1, warmApps.count)),
    warmApps.reduce(0, +) / max(1, coldApps.reduce(0, +))))
md(String(format: "Deflation matvecs (pilot or refresh) median: cold %.0f, warm %.0f; warm fell back to the cold pilot in %d of %d records.",
    median(coldRecords.map { Double($0.cold.deflationApplications) }), median(warmRecords.map { Double($0.warm.deflationApplications) }),
    warmRecords.filter { $0.warm.usage.fellBack }.count, warmRecords.count))
if doExact {
    func cover(_ runs: [(Run, Double)], widened: Bool) -> (Double, Double) {
        let p = Double(runs.filter { $0.0.covers($0.1, widened: widened) }.count) / Double(max(1, runs.count))
        return (p, (p * (1 - p) / Double(max(1, runs.count))).squareRoot())
    }
    let warmPairs = perRecord.enumerated().dropFirst().flatMap { t, rs in rs.map { ($0.warm, exactS[t]) } }
    let coldPairs = perRecord.enumerated().flatMap { t, rs in rs.map { ($0.cold, exactS[t]) } }
    let (wc, ws) = cover(warmPairs, widened: false), (wb, wbs) = cover(warmPairs, widened: true)
    let (cc, cs) = cover(coldPairs, widened: false)
    md(String(format: "Coverage of nominal 95%% intervals against the exact entropy: warm-started %.3f ± %.3f (%d intervals: %d seeds × %d records), "
        + "warm ± bias bound %.3f ± %.3f; cold %.3f ± %.3f (%d intervals).",
        wc, ws, warmPairs.count, seeds, perRecord.count - 1, wb, wbs, cc, cs, coldPairs.count))
    // Common random numbers: error of Ŝ(t) − Ŝ(t−1).
    var chain: [Double] = [], sameSeedCold: [Double] = [], independent: [Double] = []
    var level: [Double] = []
    for t in 1..<perRecord.count {
        let truth = exactS[t] - exactS[t - 1]
        for (i, r) in perRecord[t].enumerated() {
            let p = perRecord[t - 1][i]
            let other = perRecord[t - 1][(i + 1) % perRecord[t - 1].count]
            chain.append(r.warm.value - p.warm.value - truth)
            sameSeedCold.append(r.cold.value - p.cold.value - truth)
            independent.append(r.cold.value - other.cold.value - truth)
            level.append(r.warm.value - exactS[t])
        }
    }
    func rms(_ x: [Double]) -> Double { (x.reduce(0) { $0 + $1 * $1 } / Double(max(1, x.count))).squareRoot() }
    md("")
    md(String(format: "Common random numbers — RMS error of the record-to-record difference Ŝ(t) − Ŝ(t−1) against the exact difference: "
        + "warm chain (same probes, carried deflation) %.2e; cold records with the same probe stream %.2e; cold records with unrelated seeds %.2e. "
        + "RMS error of a warm record's level Ŝ(t) itself: %.2e.",
        rms(chain), rms(sameSeedCold), rms(independent), rms(level)))
}
md("")
try (markdown.joined(separator: "\n") + "\n").write(toFile: outPath, atomically: true, encoding: .utf8)
emit("wrote \(outPath)")

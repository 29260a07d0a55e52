// Calibration of the estimators' nominal 95% intervals over many probe seeds, on a fixed NTK.
//
// The NTK (full kernel, (n·k)×(n·k), sample-major) of an MLP 64-256-256-10 on the first n
// inputs of NTKDatasets.EmbeddedDatasets.digits is materialized ONCE in Double
// (StructuredExactNTK on a Double copy of the Float network's weights), its exact spectrum
// taken with LAPACK dsyevd, and every estimator then runs on a DenseOperator of that kernel:
// the estimator only sees an operator, so its statistics are those of the matrix-free run,
// while 200+ seeds stay affordable.
//
// Per seed: entropy by deflated SLQ (default SpectralEstimator, exact trace hint) and by plain
// SLQ (deflation off, same defaults, exact trace hint); trace by Hutchinson (fixed probes),
// Hutch++ and XTrace (fixed applications). Coverage = share of seeds whose interval holds the
// exact value, with its binomial standard error √(p(1−p)/seeds).
// Then, on the first `ladderSeeds` seeds, fixed-probe runs (minProbes = maxProbes = m, the
// probe sequence of a seed is a prefix of the longer run's) give the applications spent to
// reach 1% entropy error: the first m of the ladder whose realized |S − S_exact|/S_exact ≤ 1%.
//
// Usage (release): calibration [nets=tanh,relu] [n=300] [seeds=200] [workers=2] [threads=1]
//   [hutchinson=64] [hpp=60] [xtrace=60] [ladderSeeds=100] [deflatedLadder=8,16,32,64]
//   [plainLadder=16,32,64,128,256] [plainProbes=16] [out=results/calibration.md]
// Plain SLQ runs `plainProbes` probes per lockstep round (the library default is 4) so that its
// many probes cost wide block products; deflated SLQ keeps every library default.
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
        guard parts.count == 2 else {
            FileHandle.standardError.write(Data("ignoring argument \(arg): expected key=value\n".utf8))
            continue
        }
        options[parts[0]] = parts[1]
    }
    return options
}()
func ints(_ key: String, _ fallback: [Int]) -> [Int] {
    options[key].map { $0.split(separator: ",").compactMap { Int($0) } } ?? fallback
}
let nets = options["nets"].map { $0.split(separator: ",").map(String.init) } ?? ["tanh", "relu"]
let n = ints("n", [300])[0]
let seeds = ints("seeds", [200])[0]
let workers = max(1, ints("workers", [2])[0])
let threads = ints("threads", [1])[0]
let hutchinsonProbes = ints("hutchinson", [64])[0]
let hppApplications = ints("hpp", [60])[0]
let xtraceApplications = ints("xtrace", [60])[0]
let ladderSeeds = min(seeds, ints("ladderSeeds", [100])[0])
let deflatedLadder = ints("deflatedLadder", [8, 16, 32, 64])
let plainLadder = ints("plainLadder", [16, 32, 64, 128, 256])
let plainProbes = ints("plainProbes", [16])[0]
let outPath = options["out"] ?? "results/calibration.md"

try BLASThreads.set(threads)

/// Thread-safe result collection (workers append; the main thread reads after they join).
final class Collector<T: Sendable>: @unchecked Sendable {
    private var items: [T] = []
    private let lock = NSLock()
    func append(_ item: T) { lock.lock(); items.append(item); lock.unlock() }
    var all: [T] { lock.lock(); defer { lock.unlock() }; return items }
}

struct SeedResult: Sendable {
    var seed: Int
    /// name → (value, lower, upper, applications)
    var estimates: [String: [Double]]
    var error: String?
}

func quantile(_ xs: [Double], _ p: Double) -> Double {
    guard !xs.isEmpty else { return .nan }
    let s = xs.sorted()
    let i = min(s.count - 1, max(0, Int((p * Double(s.count)).rounded(.up)) - 1))
    return s[i]
}
func median(_ xs: [Double]) -> Double { quantile(xs, 0.5) }

/// Runs `body(seed, op)` over `seeds` seeds on `workers` threads, each with its own operator.
func parallelSeeds(_ count: Int, kernel: Matrix<Double>,
                   _ body: @escaping @Sendable (Int, DenseOperator) throws -> [String: [Double]]) -> [SeedResult] {
    let collector = Collector<SeedResult>()
    DispatchQueue.concurrentPerform(iterations: workers) { w in
        do {
            let op = try DenseOperator(kernel)
            var seed = w
            while seed < count {
                if seed % 25 == 0 { emit("  seed \(seed)/\(count)") }
                do { collector.append(SeedResult(seed: seed, estimates: try body(seed, op), error: nil)) } catch {
                    collector.append(SeedResult(seed: seed, estimates: [:], error: "\(error)"))
                }
                seed += workers
            }
        } catch {
            collector.append(SeedResult(seed: -1, estimates: [:], error: "\(error)"))
        }
    }
    return collector.all.sorted { $0.seed < $1.seed }
}

var markdown: [String] = []
@MainActor func md(_ line: String) { markdown.append(line); emit(line) }

let command = "cd Benchmarks && swift build -c release --product calibration && .build/release/calibration "
    + CommandLine.arguments.dropFirst().joined(separator: " ")
md("# Calibration of nominal 95% intervals (NTKSpectra)")
md("")
md("Command: `\(command)`")
md("")
md("OpenBLAS core \(BLASThreads.coreName), BLAS threads \(BLASThreads.count), \(workers) seed workers in parallel. "
    + "Kernel materialized once (StructuredExactNTK, Double, from the Float network's weights); "
    + "every estimator sees only a DenseOperator of it. Coverage ± binomial standard error √(p(1−p)/seeds).")
md("")

let digits = try EmbeddedDatasets.digits(as: Float.self)
let inputsFloat = try digits.subset(Array(0..<n)).inputs
let inputs = try Matrix<Double>(rows: inputsFloat.rows, columns: inputsFloat.columns,
                            storage: inputsFloat.storage.map { Double($0) })

for name in nets {
    guard let activation = ActivationFunction(rawValue: name) else {
        FileHandle.standardError.write(Data("unknown activation \(name)\n".utf8)); continue
    }
    let floatNet = try Network<Float>.mlp(inputSize: 64, hiddenSizes: [256, 256], outputSize: 10,
                                          activation: activation, seed: 1)
    var net = try Network<Double>.mlp(inputSize: 64, hiddenSizes: [256, 256], outputSize: 10,
                                      activation: activation, seed: 1)
    net.parameters = floatNet.parameters.map { Double($0) }
    var t0 = Date()
    let kernel = try StructuredExactNTK().kernel(network: net, inputs: inputs, kind: .full)
    let kernelSeconds = Date().timeIntervalSince(t0)
    t0 = Date()
    let eigenvalues = try SymmetricEigen(kernel).values
    let eigenSeconds = Date().timeIntervalSince(t0)
    let stats = SpectrumStatistics(eigenvalues: eigenvalues)
    let exactT = stats.trace, exactS = stats.entropy
    let top10 = eigenvalues.sorted(by: >).prefix(10).reduce(0, +) / exactT
    let dim = kernel.rows

    md("## \(name) MLP 64-256-256-10 (Float weights), n = \(n) digits inputs, N = n·k = \(dim), P = \(net.parameterCount)")
    md("")
    md(String(format: "Exact: T = %.6g, S = %.6f (S/log N = %.4f), top-10 eigenvalues hold %.1f%% of the trace, "
        + "participation ratio %.2f. Kernel %.2f s + dsyevd %.2f s.",
        exactT, exactS, stats.normalizedEntropy, 100 * top10, stats.participationRatio, kernelSeconds, eigenSeconds))
    md("")

    // Coverage runs.
    t0 = Date()
    let results = parallelSeeds(seeds, kernel: kernel) { seed, op in
        let s = UInt64(seed) &* 0x9E37_79B9 &+ 17
        var out: [String: [Double]] = [:]
        func record(_ key: String, _ e: MonteCarloEstimate, applications: Int) {
            out[key] = [e.value, e.lower, e.upper, Double(applications), e.seconds]
        }
        var config = SpectralEstimator.Configuration()
        config.seed = s
        let deflated = try SpectralEstimator(config).estimate(op, traceHint: exactT)
        record("S deflated SLQ (default)", deflated.entropy, applications: deflated.applications)
        out["S deflated SLQ (default)"]?.append(Double(deflated.deflationRank))
        // The interval the tool uses to judge an exact value: statistical ± the deterministic
        // Lanczos bias bound (SpectralMonitor / `validate`'s exact_in_interval).
        var widened = deflated.entropy
        widened.lower -= deflated.entropy.biasBound ?? 0
        widened.upper += deflated.entropy.biasBound ?? 0
        record("S deflated SLQ ± bias bound", widened, applications: deflated.applications)
        config.deflation = false
        config.topK = 0
        config.probes = plainProbes
        let plain = try SpectralEstimator(config).estimate(op, traceHint: exactT)
        record("S plain SLQ", plain.entropy, applications: plain.applications)
        let h = try Hutchinson(probesPerRound: 16, stopping: .samples(hutchinsonProbes), seed: s).estimate(op)
        record("T Hutchinson", h, applications: h.applications)
        let hpp = try HutchPlusPlus(applications: hppApplications, seed: s).estimate(op)
        record("T Hutch++", hpp, applications: hpp.applications)
        let x = try XTrace(applications: xtraceApplications, seed: s).estimate(op)
        record("T XTrace", x, applications: x.applications)
        return out
    }
    let coverageSeconds = Date().timeIntervalSince(t0)
    let failures = results.filter { $0.error != nil }
    for f in failures.prefix(3) { emit("seed \(f.seed) failed: \(f.error ?? "")") }
    let ok = results.filter { $0.error == nil }
    md("Coverage over \(ok.count) seeds (\(failures.count) failed), \(String(format: "%.0f", coverageSeconds)) s:")
    md("")
    md("| estimator | budget | coverage ± s.e. | mean rel. half-width | realized rel. error: median / 90th pct / max | RMS rel. error | applications: median / 90th pct |")
    md("|---|---|---|---|---|---|---|")
    let budgets = [
        "S deflated SLQ (default)": "rtol 1%, ≥8 probes, exact T",
        "S deflated SLQ ± bias bound": "same runs, interval widened by the bias bound",
        "S plain SLQ": "rtol 1%, ≥8, ≤64 probes (\(plainProbes)/round), exact T, no pilot",
        "T Hutchinson": "\(hutchinsonProbes) probes",
        "T Hutch++": "\(hppApplications) applications",
        "T XTrace": "\(xtraceApplications) applications",
    ]
    for key in ["S deflated SLQ (default)", "S deflated SLQ ± bias bound", "S plain SLQ", "T Hutchinson", "T Hutch++", "T XTrace"] {
        let truth = key.hasPrefix("S") ? exactS : exactT
        let rows = ok.compactMap { $0.estimates[key] }
        guard !rows.isEmpty else { continue }
        let covered = Double(rows.filter { $0[1] <= truth && truth <= $0[2] }.count) / Double(rows.count)
        let se = (covered * (1 - covered) / Double(rows.count)).squareRoot()
        let errors = rows.map { abs($0[0] - truth) / abs(truth) }
        let rms = (errors.map { $0 * $0 }.reduce(0, +) / Double(errors.count)).squareRoot()
        let halfWidths = rows.map { ($0[2] - $0[1]) / 2 / abs(truth) }
        let apps = rows.map { $0[3] }
        md(String(format: "| %@ | %@ | %.3f ± %.3f | %.2f%% | %.2f%% / %.2f%% / %.2f%% | %.2f%% | %.0f / %.0f |",
                  key, budgets[key] ?? "", covered, se, 100 * halfWidths.reduce(0, +) / Double(rows.count),
                  100 * median(errors), 100 * quantile(errors, 0.9), 100 * (errors.max() ?? 0), 100 * rms,
                  median(apps), quantile(apps, 0.9)))
    }
    let ranks = ok.compactMap { $0.estimates["S deflated SLQ (default)"]?.last }
    md("")
    md(String(format: "Deflation rank (default estimator): median %.0f, range %.0f–%.0f.",
              median(ranks), ranks.min() ?? 0, ranks.max() ?? 0))
    md("")

    // Matvecs to 1% entropy error: fixed-probe ladders.
    guard ladderSeeds > 0 else { continue }
    t0 = Date()
    let ladder = parallelSeeds(ladderSeeds, kernel: kernel) { seed, op in
        let s = UInt64(seed) &* 0x9E37_79B9 &+ 17
        var out: [String: [Double]] = [:]
        for (label, deflation, steps) in [("deflated", true, deflatedLadder), ("plain", false, plainLadder)] {
            var rowApps: [Double] = [], rowErrors: [Double] = [], rowCovered: [Double] = []
            for m in steps {
                var config = SpectralEstimator.Configuration()
                config.seed = s
                config.deflation = deflation
                if !deflation { config.topK = 0; config.probes = plainProbes }
                config.minProbes = m
                config.maxProbes = m
                let r = try SpectralEstimator(config).estimate(op, traceHint: exactT)
                rowApps.append(Double(r.applications))
                rowErrors.append(abs(r.entropy.value - exactS) / exactS)
                rowCovered.append(r.entropy.lower <= exactS && exactS <= r.entropy.upper ? 1 : 0)
            }
            out[label + ".apps"] = rowApps
            out[label + ".err"] = rowErrors
            out[label + ".cov"] = rowCovered
        }
        return out
    }
    let ladderSeconds = Date().timeIntervalSince(t0)
    let lok = ladder.filter { $0.error == nil }
    md("Applications to reach 1% entropy error (first ladder rung with realized |S − S_exact| ≤ 1% S_exact; "
        + "\(lok.count) seeds, \(String(format: "%.0f", ladderSeconds)) s; Lanczos depth 30, exact T; dense path: "
        + "N = \(dim) matvec-equivalents for the kernel columns):")
    md("")
    md("| SLQ | ladder (probes) | applications to 1%: median / 90th pct | seeds never reaching 1% |")
    md("|---|---|---|---|")
    for (label, steps) in [("deflated", deflatedLadder), ("plain", plainLadder)] {
        var reach: [Double] = []
        var never = 0
        for r in lok {
            guard let apps = r.estimates[label + ".apps"], let errs = r.estimates[label + ".err"] else { continue }
            if let i = errs.firstIndex(where: { $0 <= 0.01 }) { reach.append(apps[i]) } else {
                never += 1; reach.append(.infinity)
            }
        }
        let fmt = { (x: Double) in x.isFinite ? String(format: "%.0f", x) : "> ladder" }
        md("| \(label) | \(steps.map(String.init).joined(separator: ",")) | \(fmt(median(reach))) / \(fmt(quantile(reach, 0.9))) | \(never) / \(lok.count) |")
    }
    md("")
    md("Per rung (fixed probes): realized relative entropy error and coverage of the 95% interval:")
    md("")
    md("| SLQ | probes | applications median | error median / 90th pct | RMS error | coverage ± s.e. |")
    md("|---|---|---|---|---|---|")
    for (label, steps) in [("deflated", deflatedLadder), ("plain", plainLadder)] {
        for (i, m) in steps.enumerated() {
            let apps = lok.compactMap { $0.estimates[label + ".apps"]?[i] }
            let errs = lok.compactMap { $0.estimates[label + ".err"]?[i] }
            let cov = lok.compactMap { $0.estimates[label + ".cov"]?[i] }
            guard !errs.isEmpty else { continue }
            let p = cov.reduce(0, +) / Double(cov.count)
            let rms = (errs.map { $0 * $0 }.reduce(0, +) / Double(errs.count)).squareRoot()
            md(String(format: "| %@ | %d | %.0f | %.2f%% / %.2f%% | %.2f%% | %.3f ± %.3f |", label, m, median(apps),
                      100 * median(errs), 100 * quantile(errs, 0.9), 100 * rms, p,
                      (p * (1 - p) / Double(cov.count)).squareRoot()))
        }
    }
    md("")
}

if options["out"] != "none" {
    try (markdown.joined(separator: "\n") + "\n").write(toFile: outPath, atomically: true, encoding: .utf8)
    emit("wrote \(outPath)")
}

// Accuracy versus cost of the trace and entropy estimators on real NTKs, matrix-free.
//
// Workloads: MLP 64-256-256-10 (Float weights, tanh or ReLU) on the first n inputs of
// NTKDatasets.EmbeddedDatasets.digits; full kernel, N = 10·n. Every estimator runs on the
// matrix-free StructuredNTK<Float> operator (wrapped as a SymmetricOperator), so seconds are
// real network work. Methods and budgets (applications = matvecs):
//   Hutchinson (fixed probes), Hutch++ and XTrace (fixed applications), the exact trace from
//   per-example gradient norms (StructuredNTK.exactTrace; its seconds converted to
//   matvec-equivalents at the operator's measured seconds per matvec), plain SLQ and deflated
//   SLQ (SpectralEstimator, fixed probes: minProbes = maxProbes, 16 probes per round, no trace
//   hint: trace and entropy from the same probes), and deflated SLQ with the exact trace.
// Exact values where N ≤ exactLimit: the dense kernel (StructuredExactNTK, Double, from the
// Float weights) and LAPACK dsyevd. The dense path's cost is drawn as a reference: N
// matvec-equivalents (ExactNTK's kernel-columns route applies the operator to N unit vectors)
// and the measured seconds of the structured dense kernel + dsyevd. Above exactLimit the
// trace error uses the exact per-example trace and the entropy reports only its relative
// 95% half-width. Repeats: `reps` seeds where exact values exist, 1 otherwise; errors are RMS.
//
// Usage (release): accuracy-cost [workloads=tanh:100,tanh:300,tanh:1000,tanh:1797]
//   [threads=2] [exactLimit=3000] [reps=2] [roundWidth=16] [dtype=float32|float64] [out=results]
// (dtype=float64 runs the network, and so the operator, in Double; workload names get "-f64".)
// Budgets shrink with N to fit ~10 minutes on a shared 2-core machine: plain SLQ 8, 32, 128
// probes (N ≤ 1000), 8, 32 (N ≤ exactLimit), 8 (larger); deflated SLQ 8, 16, 32 (exact sizes) or 8;
// deflated SLQ + exact T only at exact sizes; `reps` seeds only for N ≤ 1000, else one.
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
let workloads: [(activation: String, n: Int)] =
    (options["workloads"] ?? "tanh:100,tanh:300,tanh:1000,tanh:1797").split(separator: ",").compactMap {
        let p = $0.split(separator: ":")
        guard p.count == 2, let n = Int(p[1]) else { return nil }
        return (String(p[0]), n)
    }
let threads = Int(options["threads"] ?? "2") ?? 2
let exactLimit = Int(options["exactLimit"] ?? "3000") ?? 3000
let repsExact = max(1, Int(options["reps"] ?? "2") ?? 2)
let outDir = options["out"] ?? "results"
/// Probes per lockstep round of the SLQ runs (SpectralEstimator's default is 4).
let roundWidth = max(1, Int(options["roundWidth"] ?? "16") ?? 16)

try BLASThreads.set(threads)
emit("openblas_core=\(BLASThreads.coreName) threads=\(BLASThreads.count)")

struct Row {
    var workload: String, n: Int, dim: Int, method: String, budget: Int, reps: Int
    var matvecs: Double, seconds: Double
    var traceValue: Double?, traceError: Double?, traceHalfWidth: Double?
    var entropyValue: Double?, entropyError: Double?, entropyHalfWidth: Double?
}
var rows: [Row] = []
var references: [String: (matvecs: Double, seconds: Double?)] = [:]
var spectra: [String: String] = [:]

/// Network arithmetic of the matrix-free operator: float32 (default) or float64.
let dtype = options["dtype"] ?? "float32"
let clock = ContinuousClock()
func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18 }

@MainActor func run<T: BLASScalar>(_: T.Type, activationName: String, n: Int) throws {
    let digits = try EmbeddedDatasets.digits(as: T.self)
    guard let activation = ActivationFunction(rawValue: activationName) else {
        emit("unknown activation \(activationName)"); return
    }
    let x = try digits.subset(Array(0..<min(n, digits.inputs.rows))).inputs
    let floatNet = try Network<T>.mlp(inputSize: 64, hiddenSizes: [256, 256], outputSize: 10,
                                          activation: activation, seed: 1)
    let structured = try StructuredNTK(network: floatNet, inputs: x, kind: .full, batchSize: 256,
                                       cacheBudgetBytes: 2 << 30)
    let dim = structured.dimension
    let op = try ClosureOperator(dimension: dim) { input, output in try structured.apply(input, into: &output) }
    let name = "\(activationName)-N\(dim)" + (T.self == Double.self ? "-f64" : "")
    emit("== \(name): plan \(structured.plan.storage.rawValue), P = \(floatNet.parameterCount)")

    // Seconds per matvec (block of 16, after one warm-up).
    var g = SeededGenerator(seed: 9)
    var v = Matrix<Double>(rows: 16, columns: dim)
    ProbeDistribution.rademacher.fill(&v, using: &g)
    var u = Matrix<Double>(rows: 16, columns: dim)
    try structured.apply(v, into: &u)
    var t0 = clock.now
    try structured.apply(v, into: &u)
    let secondsPerMatvec = seconds(clock.now - t0) / 16
    emit(String(format: "   %.4f s per matvec (block 16)", secondsPerMatvec))

    // Exact trace from per-example gradient norms.
    t0 = clock.now
    let exactTrace = try structured.exactTrace()
    let exactTraceSeconds = seconds(clock.now - t0)

    // Dense exact values where affordable.
    var exactEntropy: Double? = nil
    var top10: Double? = nil
    if dim <= exactLimit {
        var net = try Network<Double>.mlp(inputSize: 64, hiddenSizes: [256, 256], outputSize: 10,
                                          activation: activation, seed: 1)
        net.parameters = floatNet.parameters.map { Double($0) }
        let xd = try Matrix<Double>(rows: x.rows, columns: x.columns, storage: x.storage.map { Double($0) })
        t0 = clock.now
        let kernel = try StructuredExactNTK().kernel(network: net, inputs: xd, kind: .full)
        let values = try SymmetricEigen(kernel).values
        let denseSeconds = seconds(clock.now - t0)
        let stats = SpectrumStatistics(eigenvalues: values)
        exactEntropy = stats.entropy
        top10 = values.sorted(by: >).prefix(10).reduce(0, +) / stats.trace
        references[name] = (Double(dim), denseSeconds)
        emit(String(format: "   exact: T = %.6g (per-example rule %.6g, rel diff %.1e), S = %.6f, top-10 share %.3f, dense %.2f s",
                    stats.trace, exactTrace, abs(stats.trace - exactTrace) / stats.trace, stats.entropy, top10!, denseSeconds))
    } else {
        references[name] = (Double(dim), nil)
    }
    rows.append(Row(workload: name, n: n, dim: dim, method: "exact trace (per-example)", budget: 0, reps: 1,
                    matvecs: exactTraceSeconds / secondsPerMatvec, seconds: exactTraceSeconds,
                    traceValue: exactTrace, traceError: nil, traceHalfWidth: 0,
                    entropyValue: nil, entropyError: nil, entropyHalfWidth: nil))

    let reps = exactEntropy != nil && dim <= 1000 ? repsExact : 1
    /// Runs `body` over `reps` seeds and appends one row with RMS errors and mean costs.
    func measure(_ method: String, _ budget: Int,
                 _ body: (UInt64) throws -> (trace: MonteCarloEstimate?, entropy: MonteCarloEstimate?, matvecs: Int, seconds: Double)) throws {
        var mv = 0.0, sec = 0.0, te = 0.0, ee = 0.0, th = 0.0, eh = 0.0
        var tv: Double? = nil, ev: Double? = nil
        for r in 0..<reps {
            let result = try body(UInt64(1000 + r))
            mv += Double(result.matvecs); sec += result.seconds
            if let t = result.trace {
                tv = t.value; te += pow((t.value - exactTrace) / exactTrace, 2); th += t.halfWidth / exactTrace
            }
            if let e = result.entropy {
                ev = e.value; eh += e.halfWidth / abs(e.value)
                if let exactEntropy { ee += pow((e.value - exactEntropy) / exactEntropy, 2) }
            }
        }
        let k = Double(reps)
        let row = Row(workload: name, n: n, dim: dim, method: method, budget: budget, reps: reps,
                      matvecs: mv / k, seconds: sec / k,
                      traceValue: tv, traceError: tv == nil ? nil : (te / k).squareRoot(), traceHalfWidth: tv == nil ? nil : th / k,
                      entropyValue: ev, entropyError: ev == nil || exactEntropy == nil ? nil : (ee / k).squareRoot(),
                      entropyHalfWidth: ev == nil ? nil : eh / k)
        rows.append(row)
        emit(String(format: "   %@ [%d]: %.0f mv, %.2f s, trace err %@, entropy err %@ (±%@)", method, budget, row.matvecs,
                    row.seconds, row.traceError.map { String(format: "%.2e", $0) } ?? "-",
                    row.entropyError.map { String(format: "%.2e", $0) } ?? "-",
                    row.entropyHalfWidth.map { String(format: "%.2e", $0) } ?? "-"))
    }

    for m in [16, 64, 256] where m <= (dim > exactLimit ? 64 : 256) {
        try measure("Hutchinson", m) { s in
            let e = try Hutchinson(probesPerRound: 16, stopping: .samples(m), seed: s).estimate(op)
            return (e, nil, e.applications, e.seconds)
        }
    }
    for m in [30, 90, 270] where m <= (dim > exactLimit ? 90 : 270) {
        try measure("Hutch++", m) { s in
            let e = try HutchPlusPlus(applications: m, seed: s).estimate(op)
            return (e, nil, e.applications, e.seconds)
        }
        try measure("XTrace", m) { s in
            let e = try XTrace(applications: m, seed: s).estimate(op)
            return (e, nil, e.applications, e.seconds)
        }
    }
    func slq(deflation: Bool, probes: Int, hint: Double?) -> (UInt64) throws -> (MonteCarloEstimate?, MonteCarloEstimate?, Int, Double) {
        { s in
            var c = SpectralEstimator.Configuration()
            c.seed = s
            c.deflation = deflation
            if !deflation { c.topK = 0 }
            c.probes = roundWidth
            c.minProbes = probes
            c.maxProbes = probes
            let r = try SpectralEstimator(c).estimate(op, traceHint: hint)
            if deflation {
                emit(String(format: "     seed %llu: deflation rank %d, deflated trace share %.3f, top residual/θ %.1e",
                            s, r.deflationRank, r.deflatedTraceShare,
                            (r.topResidualNorms.first ?? 0) / max(r.topEigenvalues.first ?? 1, .leastNormalMagnitude)))
            }
            if deflation, top10 == nil, hint == nil {
                top10 = r.topEigenvalues.prefix(10).reduce(0, +) / exactTrace
            }
            return (hint == nil ? r.trace : nil, r.entropy, r.applications, r.seconds)
        }
    }
    for m in (dim > exactLimit ? [8] : dim > 1000 ? [8, 32] : [8, 32, 128]) {
        try measure("plain SLQ", m, slq(deflation: false, probes: m, hint: nil))
    }
    for m in (dim > exactLimit ? [8] : [8, 16, 32]) {
        try measure("deflated SLQ", m, slq(deflation: true, probes: m, hint: nil))
    }
    for m in (dim > exactLimit ? [] : [8, 16]) {
        try measure("deflated SLQ + exact T", m, slq(deflation: true, probes: m, hint: exactTrace))
    }
    spectra[name] = top10.map { String(format: "%.3f%@", $0, exactEntropy == nil ? " (Ritz values)" : "") } ?? "?"
}
for (activationName, n) in workloads {
    if dtype == "float64" { try run(Double.self, activationName: activationName, n: n) } else {
        try run(Float.self, activationName: activationName, n: n)
    }
}

// CSV.
func f(_ x: Double?) -> String { x.map { String(format: "%.6g", $0) } ?? "" }
var csv = "workload,n,N,method,budget,reps,matvecs,seconds,trace,trace_rel_err_rms,trace_rel_halfwidth,entropy,entropy_rel_err_rms,entropy_rel_halfwidth,dense_matvec_equiv,dense_seconds,top10_trace_share\n"
for r in rows {
    let ref = references[r.workload]
    csv += "\(r.workload),\(r.n),\(r.dim),\(r.method),\(r.budget),\(r.reps),\(f(r.matvecs)),\(f(r.seconds)),"
        + "\(f(r.traceValue)),\(f(r.traceError)),\(f(r.traceHalfWidth)),\(f(r.entropyValue)),\(f(r.entropyError)),"
        + "\(f(r.entropyHalfWidth)),\(f(ref?.matvecs)),\(f(ref?.seconds ?? nil)),\(spectra[r.workload] ?? "")\n"
}
try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true)
try csv.write(toFile: "\(outDir)/accuracy-cost.csv", atomically: true, encoding: .utf8)
emit("wrote \(outDir)/accuracy-cost.csv")

// Figures: one SVG per workload, log-log: trace and entropy error against matvecs and seconds.
let methods = ["Hutchinson", "Hutch++", "XTrace", "plain SLQ", "deflated SLQ", "deflated SLQ + exact T", "exact trace (per-example)"]
for name in Array(Set(rows.map(\.workload))).sorted() {
    let mine = rows.filter { $0.workload == name }
    let ref = references[name]
    let hasExactEntropy = mine.contains { $0.entropyError != nil }
    func series(_ x: (Row) -> Double, _ y: (Row) -> Double?) -> [LinePlot.Series] {
        methods.enumerated().compactMap { i, m in
            let pts = mine.filter { $0.method == m }.compactMap { r in y(r).map { (x: x(r), y: max($0, 1e-7)) } }
            return pts.isEmpty ? nil : LinePlot.Series(name: m, points: pts, color: LinePlot.palette[i % LinePlot.palette.count])
        }
    }
    let entropyY: (Row) -> Double? = hasExactEntropy ? { $0.entropyError } : { $0.entropyHalfWidth }
    let entropyLabel = hasExactEntropy ? "entropy relative error (RMS)" : "entropy relative 95% half-width (no exact value)"
    let traceY: (Row) -> Double? = { r in r.method.hasPrefix("exact") ? nil : r.traceError }
    var refMatvec: [LinePlot.ReferenceLine] = []
    if let ref { refMatvec.append(.init(label: "dense: N matvecs", value: ref.matvecs, vertical: true)) }
    var refSeconds: [LinePlot.ReferenceLine] = []
    if let s = ref?.seconds { refSeconds.append(.init(label: "dense kernel + dsyevd", value: s, vertical: true)) }
    var exactTraceRefs = refMatvec
    if let e = mine.first(where: { $0.method.hasPrefix("exact") }) {
        exactTraceRefs.append(.init(label: "exact per-example trace", value: e.matvecs, vertical: true))
    }
    let plots = [
        LinePlot(title: "\(name): trace", xLabel: "matvecs", yLabel: "trace relative error (RMS)",
                 xScale: .logarithmic, yScale: .logarithmic, series: series({ $0.matvecs }, traceY), references: exactTraceRefs),
        LinePlot(title: "\(name): entropy", xLabel: "matvecs", yLabel: entropyLabel,
                 xScale: .logarithmic, yScale: .logarithmic, series: series({ $0.matvecs }, entropyY), references: refMatvec),
        LinePlot(title: "\(name): trace", xLabel: "seconds", yLabel: "trace relative error (RMS)",
                 xScale: .logarithmic, yScale: .logarithmic, series: series({ $0.seconds }, traceY), references: refSeconds),
        LinePlot(title: "\(name): entropy", xLabel: "seconds", yLabel: entropyLabel,
                 xScale: .logarithmic, yScale: .logarithmic, series: series({ $0.seconds }, entropyY), references: refSeconds),
    ]
    let path = "\(outDir)/accuracy-cost-\(name).svg"
    try SVGFigure(plots: plots, columns: 2).write(to: URL(fileURLWithPath: path))
    emit("wrote \(path)")
}
for (name, share) in spectra.sorted(by: { $0.key < $1.key }) { emit("spectrum \(name): top-10 trace share \(share)") }

// Block NTK products per second: StructuredNTK (cached backprop signals) vs EmpiricalNTK
// (JVP∘VJP, forward caches kept), on a tanh MLP 64 → W → W → k over n inputs.
// Usage (release build): structured-matvec [widths=512,1024,2048] [ks=1,10] [blocks=1,16]
//   [n=1024] [repeats=5] [wideLimit=1024] [threads=2] [traceN=128]
// Then the exact trace (per-example gradient norms) of both operators at the first width,
// k = 10, on traceN inputs (0 skips it).
// Blocks wider than 1 run only for W ≤ wideLimit (keeps the default grid under ~5 minutes).
// Prints a Markdown table: medians over `repeats` timed products after one warm-up each.
import Foundation
import NTKLinearAlgebra
import NTKNetworks
import NTKSpectra

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : 0.5 * (s[s.count / 2 - 1] + s[s.count / 2])
}

/// Writes a line to standard output unbuffered (progress shows while the grid runs).
func emit(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }

let options: [String: String] = {
    var options: [String: String] = [:]
    for arg in CommandLine.arguments.dropFirst() {
        let parts = arg.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2 else {
            FileHandle.standardError.write(Data("ignoring argument \(arg): expected key=value\n".utf8))
            continue
        }
        options[parts[0]] = parts[1]
    }
    return options
}()
func list(_ key: String, _ fallback: [Int]) -> [Int] {
    options[key].map { $0.split(separator: ",").compactMap { Int($0) } } ?? fallback
}
let widths = list("widths", [512, 1024, 2048])
let ks = list("ks", [1, 10])
let blocks = list("blocks", [1, 16])
let n = list("n", [1024])[0]
let repeats = max(1, list("repeats", [5])[0])
let wideLimit = list("wideLimit", [1024])[0]
let threads = list("threads", [2])[0]
let traceN = list("traceN", [128])[0]
let inputSize = 64, batchSize = 256, budget = 8 << 30

try BLASThreads.set(threads)
emit("openblas_core=\(BLASThreads.coreName) threads=\(BLASThreads.count) n=\(n) input=\(inputSize) batch=\(batchSize) repeats=\(repeats) (median over repeats after 1 warm-up)")
emit("MLP 64→W→W→k, tanh, full kernel; rate = block products per second (s vectors each)")
emit("")
emit("| W | k | dtype | s | plan | cache MiB | setup s | structured /s | jvp_vjp /s | ratio | max rel diff |")
emit("|---|---|---|---|---|---|---|---|---|---|---|")

func run<T: BLASScalar>(_: T.Type, width: Int, k: Int) throws {
    let net = try Network<T>.mlp(inputSize: inputSize, hiddenSizes: [width, width], outputSize: k, activation: .tanh, seed: 1)
    var g = SeededGenerator(seed: 2)
    let x = try Matrix<T>(rows: n, columns: inputSize, storage: [T].gaussian(count: n * inputSize, using: &g))
    let setupStart = DispatchTime.now().uptimeNanoseconds
    let structured = try StructuredNTK(network: net, inputs: x, kind: .full, batchSize: batchSize, cacheBudgetBytes: budget)
    let setup = Double(DispatchTime.now().uptimeNanoseconds - setupStart) * 1e-9
    let empirical = try EmpiricalNTK(network: net, inputs: x, kind: .full, batchSize: batchSize, cacheBudgetBytes: budget)
    for s in blocks where s == 1 || width <= wideLimit {
        let v = try Matrix(rows: s, columns: structured.dimension,
                           storage: [Double].gaussian(count: s * structured.dimension, using: &g))
        var us = Matrix<Double>(rows: s, columns: structured.dimension), ue = us
        var ts: [Double] = [], te: [Double] = []
        for r in 0...repeats {
            var t0 = DispatchTime.now().uptimeNanoseconds
            try structured.apply(v, into: &us)
            let a = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
            t0 = DispatchTime.now().uptimeNanoseconds
            try empirical.apply(v, into: &ue)
            let b = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
            if r > 0 { ts.append(a); te.append(b) }
        }
        let scale = ue.storage.map(abs).max() ?? 1
        let diff = zip(us.storage, ue.storage).map { abs($0 - $1) }.max() ?? 0
        let rs = 1 / median(ts), re = 1 / median(te)
        emit(String(format: "| %d | %d | %@ | %d | %@ | %.0f | %.2f | %.2f | %.2f | %.2f | %.1e |",
                     width, k, T.precisionName, s, structured.plan.storage.rawValue,
                     Double(structured.plan.bytesHeld) / Double(1 << 20), setup, rs, re, rs / re, diff / scale))
    }
}

for width in widths {
    for k in ks {
        try run(Float.self, width: width, k: k)
        try run(Double.self, width: width, k: k)
    }
}

/// Seconds of one exactTrace() call of each operator (no warm-up needed: no cached state is reused).
func traceTimes<T: BLASScalar>(_: T.Type, width: Int, k: Int, n: Int) throws {
    let net = try Network<T>.mlp(inputSize: inputSize, hiddenSizes: [width, width], outputSize: k, activation: .tanh, seed: 1)
    var g = SeededGenerator(seed: 3)
    let x = try Matrix<T>(rows: n, columns: inputSize, storage: [T].gaussian(count: n * inputSize, using: &g))
    let structured = try StructuredNTK(network: net, inputs: x, kind: .full, batchSize: batchSize, cacheBudgetBytes: budget)
    let empirical = try EmpiricalNTK(network: net, inputs: x, kind: .full, batchSize: batchSize, cacheBudgetBytes: budget)
    var t0 = DispatchTime.now().uptimeNanoseconds
    let a = try structured.exactTrace()
    let ts = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
    t0 = DispatchTime.now().uptimeNanoseconds
    let b = try empirical.exactTrace()
    let te = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
    emit(String(format: "| %d | %d | %@ | %d | %.4f | %.3f | %.0f | %.1e |", width, k, T.precisionName, n, ts, te, te / ts,
                abs(a - b) / b))
}

if traceN > 0, let width = widths.first {
    emit("")
    emit("Exact trace from per-example gradient norms (structured: free Linear rule from cached δ; jvp_vjp: one-hot VJPs)")
    emit("")
    emit("| W | k | dtype | n | structured s | jvp_vjp s | ratio | rel diff |")
    emit("|---|---|---|---|---|---|---|---|")
    try traceTimes(Float.self, width: width, k: 10, n: traceN)
    try traceTimes(Double.self, width: width, k: 10, n: traceN)
}

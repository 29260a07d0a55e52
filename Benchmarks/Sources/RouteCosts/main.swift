// The route cost model against measured times, and `auto` against the best route.
//
// Workloads: tanh MLPs 64-W-W-10 (PyTorch-style init from a seed, Float network) on n Gaussian
// inputs, full kernel N = 10·n. For each (W, N) every route is forced in turn (dense,
// kernel-lanczos, matrix-free; a route is skipped when it does not fit the memory budget or
// its predicted time exceeds `maxPredicted` seconds), then `auto`; each run is a full
// `CollectiveVariableEstimator.estimate` to rtol 1% (the exact trace, the entropy), timed
// in-process. Prints one JSON line per run and a markdown table with, per cell: measured
// and predicted seconds per route, the route `auto` chose and its time against the best
// measured route, and the median |log(predicted/measured)| over all runs.
//
// Usage (release): route-costs [widths=256,1024] [sizes=1000,3000,10240,20480,40960]
//   [threads=2] [maxPredicted=240] [budgetMiB=8192] [seed=0]
import Foundation
import NTKLinearAlgebra
import NTKNetworks
import NTKSpectra

func emit(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }

let options: [String: String] = Dictionary(uniqueKeysWithValues: CommandLine.arguments.dropFirst().compactMap { arg in
    let parts = arg.split(separator: "=", maxSplits: 1).map(String.init)
    return parts.count == 2 ? (parts[0], parts[1]) : nil
})
func list(_ key: String, _ fallback: String) -> [Int] {
    (options[key] ?? fallback).split(separator: ",").compactMap { Int($0) }
}
let widths = list("widths", "256,1024")
let sizes = list("sizes", "1000,3000,10240,20480,40960")
let threads = Int(options["threads"] ?? "2") ?? 2
let maxPredicted = Double(options["maxPredicted"] ?? "240") ?? 240
let budget = (Int(options["budgetMiB"] ?? "8192") ?? 8192) << 20
let seed = UInt64(options["seed"] ?? "0") ?? 0

AllocationPolicy.keepFreedMemory()
try BLASThreads.set(threads)
let rates = MachineRates.measured()
emit(String(format: "openblas_core=%@ threads=%d dgemm=%.1f sgemm=%.1f GFLOP/s bandwidth=%.1f GB/s",
            BLASThreads.coreName, BLASThreads.count, rates.doubleGEMM / 1e9, rates.floatGEMM / 1e9,
            rates.memoryBandwidth / 1e9))

struct Run { var width: Int; var dimension: Int; var route: SpectralRoute; var chosen: SpectralRoute
    var measured: Double; var predicted: Double; var entropy: Double; var matvecs: Int; var peak: Int }
var runs: [Run] = []
var table: [String] = ["| W | N | P | dense s (pred) | kernel-lanczos s (pred) | matrix-free s (pred) | auto → route, s | auto / best |",
                       "|---|---|---|---|---|---|---|---|"]
for width in widths {
    for dimension in sizes {
        let n = dimension / 10
        let network = try Network<Float>.mlp(inputSize: 64, hiddenSizes: [width, width], outputSize: 10, seed: seed)
        var generator = SeededGenerator(seed: seed &+ 7)
        let inputs = try Matrix<Float>(rows: n, columns: 64, storage: [Float].gaussian(count: n * 64, using: &generator))
        var estimator = CollectiveVariableEstimator()
        estimator.memoryBudgetBytes = budget
        estimator.rates = rates
        let plan = try estimator.plan(network: network, examples: n)
        var measured: [SpectralRoute: Double] = [:]
        var cells: [String] = []
        for route in SpectralRoute.concrete {
            let prediction = plan.predictions.first { $0.route == route }!
            guard prediction.fits, prediction.seconds <= maxPredicted else {
                cells.append(prediction.fits ? String(format: "skipped (%.0f)", prediction.seconds)
                                             : "does not fit (\(RoutePlanner.bytesDescription(prediction.bytes)))")
                continue
            }
            estimator.route = route
            let result = try estimator.estimate(network: network, inputs: inputs)
            measured[route] = result.seconds
            let run = Run(width: width, dimension: dimension, route: route, chosen: route, measured: result.seconds,
                          predicted: prediction.seconds, entropy: result.entropy.value, matvecs: result.matvecs,
                          peak: result.peakResidentBytes ?? 0)
            runs.append(run)
            cells.append(String(format: "%.2f (%.2f)", result.seconds, prediction.seconds))
            emit(String(format: "{\"width\": %d, \"N\": %d, \"route\": \"%@\", \"seconds\": %.4f, \"predicted_seconds\": %.4f, \"predicted_bytes\": %d, \"entropy\": %.6f, \"matvecs\": %d, \"peak_resident_bytes\": %d, \"openblas_core\": \"%@\"}",
                        width, dimension, route.rawValue as NSString, result.seconds, prediction.seconds, prediction.bytes,
                        result.entropy.value, result.matvecs, run.peak, BLASThreads.coreName as NSString))
        }
        estimator.route = .auto
        let chosen = plan.route
        let best = measured.values.min() ?? .nan
        // auto runs the route it plans; its time is that route's measured time (re-running it
        // would double the benchmark's length for the same figure).
        let autoSeconds = measured[chosen]
        let autoCell = autoSeconds.map { String(format: "%@, %.2f", chosen.rawValue as NSString, $0) } ?? "\(chosen.rawValue), not run"
        let ratio = autoSeconds.map { String(format: "%.2f", $0 / best) } ?? "—"
        table.append("| \(width) | \(dimension) | \(network.parameterCount) | " + cells.joined(separator: " | ") + " | \(autoCell) | \(ratio) |")
    }
}
let logErrors = runs.map { abs(Double.log($0.predicted / $0.measured)) }.sorted()
let median = logErrors.isEmpty ? Double.nan : logErrors[logErrors.count / 2]
emit("")
for line in table { emit(line) }
emit("")
emit(String(format: "median |log(predicted / measured)| = %.2f (a factor of %.2f) over %d runs", median, Double.exp(median), runs.count))

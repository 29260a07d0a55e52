import Dispatch
import Foundation
import NTKLinearAlgebra
import NTKNetworks
import NTKSpectra

/// Seroussi, Naveh & Ringel, "Separation of scales and a thermodynamic description of feature
/// learning in some CNNs", Nat. Commun. 14, 908 (2023), arXiv:2112.15383 — claims S1–S3.
///
/// Parts (one record per width; every chain is a Langevin sampler started from a prior sample):
/// - `fcn`: f(x) = a·erf(W² erf(W¹x/√d)/√N)/√N, N(0, 1) weights (NTK parameterization, no
///   biases), widths N;
/// - `cnn`: the paper's toy CNN, f(x) = Σ_{c,i} a_{ci} erf(w_c·x̃_i/√S)/√(C·L) on L = 4
///   non-overlapping patches x̃_i of size S = 4, C channels (the width).
/// Data: d = 16 Gaussian inputs, a one-channel CNN teacher y = Σᵢ h(β·x̃ᵢ)/√(2L) with
/// h(z) = z + (z² − 1)/√2 (so both students can express it). Langevin dynamics on
/// Σᵢ ½(f(xᵢ) − yᵢ)² with temperature T = σ² and weight decay γ = T (the posterior of a N(0, 1)
/// prior with observation noise σ²). Per sample: every layer's conjugate kernel over train and
/// test inputs (`ConjugateKernels`), the hidden pre-activations' moments over units, the test
/// outputs; per width, one chain's exact per-layer NTK traces at init and at the end
/// (`LayerwiseNTK.exactTraces`), the GP predictions with the adapted and the NNGP kernels
/// (`GaussianProcessRegression`).
enum SlowVariablesReproduction: Reproduction {
    static let name = "kernels-slow-variables"
    static let paper = "arXiv:2112.15383"
    static let parts = ["fcn", "cnn"]

    struct Grid {
        /// Widths of the FCN (hidden units) and of the CNN (channels).
        var fcnWidths: [Int]
        var cnnWidths: [Int]
        var chains: Int
        /// Langevin steps before the first posterior sample, then samples every `sampleEvery`.
        var burnIn: Int
        var sampleEvery: Int
        var samplesPerChain: Int
        var trainCount: Int
        var testCount: Int

        /// The FCN stops at N = 512: its N² layer made N = 1024 cost ~600 CPU-s alone (the budget is
        /// 10 min on 2 cores for everything); the CNN spans 64–1024 channels.
        static let full = Grid(fcnWidths: [64, 128, 256, 512], cnnWidths: [64, 128, 256, 512, 1024], chains: 8, burnIn: 1000,
                               sampleEvery: 200, samplesPerChain: 3, trainCount: 64, testCount: 256)
        static let quick = Grid(fcnWidths: [64, 256], cnnWidths: [64, 256], chains: 4, burnIn: 150, sampleEvery: 50,
                                samplesPerChain: 2, trainCount: 32, testCount: 64)
        var steps: Int { burnIn + sampleEvery * (samplesPerChain - 1) }
        func widths(_ net: String) -> [Int] { net == "fcn" ? fcnWidths : cnnWidths }
    }

    static let inputDimension = 16, patchSize = 4
    static var patches: Int { inputDimension / patchSize }
    /// T = σ² (the GP's noise) and γ = T (prior variance 1 per weight).
    static let temperature = 0.1
    /// η: the stiffest data direction has curvature λ_max(K_NTK) ≈ 30 (n = 64), so ηλ ≈ 0.9 < 2; the
    /// prior directions relax in 1/(ηγ) ≈ 333 steps (burn-in: 3 of them).
    static let learningRate = 0.03

    /// x ~ N(0, I_d) (train then test rows) and the teacher's targets.
    static func data(_ grid: Grid) -> (x: Matrix<Double>, y: Matrix<Double>, all: Matrix<Double>, yAll: [Double]) {
        var g = SeededGenerator(seed: 2112_15383)
        var beta = (0..<patchSize).map { _ in g.nextGaussian() }
        let norm = beta.reduce(0) { $0 + $1 * $1 }.squareRoot()
        beta = beta.map { $0 / norm }
        let n = grid.trainCount + grid.testCount
        let all = Matrix<Double>(rows: n, columns: inputDimension) { _, _ in g.nextGaussian() }
        let yAll = (0..<n).map { i -> Double in
            var sum = 0.0
            for p in 0..<patches {
                let z = (0..<patchSize).reduce(0) { $0 + beta[$1] * all[i, p * patchSize + $1] }
                sum += z + (z * z - 1) / 2.0.squareRoot()
            }
            return sum / (2.0 * Double(patches)).squareRoot()
        }
        let x = Matrix<Double>(rows: grid.trainCount, columns: inputDimension) { all[$0, $1] }
        let y = Matrix<Double>(rows: grid.trainCount, columns: 1) { i, _ in yAll[i] }
        return (x, y, all, yAll)
    }

    static func spec(_ net: String, width: Int) -> ModelSpec {
        let p = Parameterization.ntk(weightScale: 1, biasScale: 0)
        if net == "fcn" {
            return ModelSpec(inputShape: [inputDimension], layers: [
                .linear(inFeatures: inputDimension, outFeatures: width, bias: false), .activation(.erf),
                .linear(inFeatures: width, outFeatures: width, bias: false), .activation(.erf),
                .linear(inFeatures: width, outFeatures: 1, bias: false),
            ], parameterization: p)
        }
        return ModelSpec(inputShape: [1, 1, inputDimension], layers: [
            .conv2d(inChannels: 1, outChannels: width, kernelSize: SpatialSize(1, patchSize), stride: SpatialSize(1, patchSize),
                    bias: false),
            .activation(.erf), .flatten, .linear(inFeatures: width * patches, outFeatures: 1, bias: false),
        ], parameterization: p)
    }

    /// Chain layers whose outputs are hidden pre-activations (weight layers before the readout),
    /// with their spatial positions L (units = features / L).
    static func preActivationLayers(_ net: String) -> [(layer: Int, positions: Int)] {
        net == "fcn" ? [(0, 1), (2, 1)] : [(0, patches)]
    }

    /// The layer whose (normalized) conjugate kernel is the readout's prior kernel.
    static func readoutInputLayer(_ net: String) -> Int { net == "fcn" ? 3 : 2 }

    /// Infinite-width (NNGP) value of every layer's normalized conjugate kernel, in closed form
    /// for erf (Williams 1997): E[erf(u)erf(v)] = (2/π) arcsin(2Σ_uv / √((1 + 2Σ_uu)(1 + 2Σ_vv))).
    static func nngp(_ net: String, inputs x: Matrix<Double>) -> [Matrix<Double>] {
        let n = x.rows, d = x.columns
        func erfKernel(_ s: Matrix<Double>) -> Matrix<Double> {
            Matrix(rows: n, columns: n) { i, j in
                2 / Double.pi * Foundation.asin(2 * s[i, j] / ((1 + 2 * s[i, i]) * (1 + 2 * s[j, j])).squareRoot())
            }
        }
        let linear = Matrix<Double>(rows: n, columns: n) { i, j in (0..<d).reduce(0) { $0 + x[i, $1] * x[j, $1] } / Double(d) }
        if net == "fcn" {
            let a1 = erfKernel(linear), a2 = erfKernel(a1)
            return [linear, a1, a1, a2, a2]
        }
        var act = Matrix<Double>(rows: n, columns: n)
        for p in 0..<patches {
            let s = Matrix<Double>(rows: n, columns: n) { i, j in
                (0..<patchSize).reduce(0) { $0 + x[i, p * patchSize + $1] * x[j, p * patchSize + $1] } / Double(patchSize)
            }
            let k = erfKernel(s)
            for e in act.storage.indices { act.storage[e] += k.storage[e] / Double(patches) }
        }
        return [linear, act, act, act]
    }

    /// A(K, yyᵀ) = yᵀKy / (‖K‖_F ‖y‖²) on the first `n` rows and columns of K.
    static func alignment(_ k: Matrix<Double>, _ y: [Double], n: Int) -> Double {
        var quad = 0.0, frob = 0.0, yy = 0.0
        for i in 0..<n {
            yy += y[i] * y[i]
            for j in 0..<n { quad += y[i] * k[i, j] * y[j]; frob += k[i, j] * k[i, j] }
        }
        return quad / (frob.squareRoot() * yy)
    }

    // MARK: Chains

    /// What one chain contributes (init = its prior sample, post = its posterior samples).
    struct ChainResult: Sendable {
        var alignmentInit: [Double] = []
        var alignmentPost: [Double] = []
        /// Per pre-activation layer: [site][power 1…4] sums over units, and the unit count per site.
        var momentsInit: [[Double]] = []
        var momentsPost: [[Double]] = []
        var countInit: [Double] = []
        var countPost: [Double] = []
        var lossPost: [Double] = []
        var traces: (initial: [Double], final: [Double])? = nil
    }

    struct WidthAccumulator: Sendable {
        var kernelInit: ElementwiseMoments
        var kernelPost: ElementwiseMoments
        var outputsPost: ElementwiseMoments
        var chains: [Int: ChainResult] = [:]

        mutating func merge(_ other: WidthAccumulator) throws {
            try kernelInit.merge(other.kernelInit)
            try kernelPost.merge(other.kernelPost)
            try outputsPost.merge(other.outputsPost)
            for (k, v) in other.chains { chains[k] = v }
        }
    }

    static func runChain(net: String, width: Int, chain: Int, grid: Grid, data d: (x: Matrix<Double>, y: Matrix<Double>, all: Matrix<Double>, yAll: [Double]),
                         into acc: inout WidthAccumulator) throws {
        var network: Network<Double> = try spec(net, width: width).makeNetwork(Double.self, seed: UInt64(1000 * width + chain))
        var result = ChainResult()
        let n = grid.trainCount
        let layers = preActivationLayers(net), readout = readoutInputLayer(net)
        func measure(initial: Bool) throws {
            let ck = try ConjugateKernels(network: network, inputs: d.all)
            var aligns: [Double] = []
            for l in 0..<ck.layerCount {
                let k = try ck.kernel(layer: l)
                aligns.append(alignment(k, d.yAll, n: n))
                if l == readout { try (initial ? acc.kernelInit.add(k.storage) : acc.kernelPost.add(k.storage)) }
            }
            if initial { result.alignmentInit = aligns } else {
                result.alignmentPost = result.alignmentPost.isEmpty ? aligns : zip(result.alignmentPost, aligns).map { $0 + $1 }
            }
            // Pre-activation moments over units, per (test input, position) site.
            var moments: [[Double]] = [], counts: [Double] = []
            for (layer, positions) in layers {
                let phi = ck.features[layer]
                let units = phi.columns / positions
                var m = [Double](repeating: 0, count: grid.testCount * positions * 4)
                for t in 0..<grid.testCount {
                    let row = n + t
                    for p in 0..<positions {
                        var s1 = 0.0, s2 = 0.0, s3 = 0.0, s4 = 0.0
                        for c in 0..<units {
                            let h = phi[row, c * positions + p]
                            let h2 = h * h
                            s1 += h; s2 += h2; s3 += h2 * h; s4 += h2 * h2
                        }
                        let base = (t * positions + p) * 4
                        m[base] = s1; m[base + 1] = s2; m[base + 2] = s3; m[base + 3] = s4
                    }
                }
                moments.append(m)
                counts.append(Double(units))
            }
            if initial { result.momentsInit = moments; result.countInit = counts } else {
                result.momentsPost = result.momentsPost.isEmpty ? moments : zip(result.momentsPost, moments).map { zip($0, $1).map { $0 + $1 } }
                result.countPost = result.countPost.isEmpty ? counts : zip(result.countPost, counts).map { $0 + $1 }
                let f = ck.features[ck.layerCount - 1]
                try acc.outputsPost.add((0..<grid.testCount).map { f[n + $0, 0] })
                var loss = 0.0
                for i in 0..<n { loss += 0.5 * (f[i, 0] - d.yAll[i]) * (f[i, 0] - d.yAll[i]) }
                result.lossPost.append(loss / Double(n))
            }
        }
        try measure(initial: true)
        let tracesInit = chain == 0 ? try LayerwiseNTK(network: network).exactTraces(inputs: d.x) : []
        var optimizer = Langevin<Double>(learningRate: learningRate, temperature: temperature, weightDecay: temperature,
                                         seed: UInt64(7_000_000 + 1000 * width + chain))
        let loss = Loss.meanSquaredError(reduction: .halfSquaredNorm)
        let scale = Double(n)  // (1/n)Σ½(f − y)² → Σ½(f − y)²
        for step in 1...grid.steps {
            var (value, gradient) = try loss.gradient(of: network, inputs: d.x, targets: d.y)
            guard value.isFinite else { throw PaperError.failed("\(net) width \(width) chain \(chain): loss not finite at step \(step)") }
            for j in gradient.indices { gradient[j] *= scale }
            try optimizer.step(parameters: &network.parameters, gradient: gradient)
            if step >= grid.burnIn, (step - grid.burnIn) % grid.sampleEvery == 0 { try measure(initial: false) }
        }
        let samples = Double(grid.samplesPerChain)
        result.alignmentPost = result.alignmentPost.map { $0 / samples }
        if chain == 0 { result.traces = (tracesInit, try LayerwiseNTK(network: network).exactTraces(inputs: d.x)) }
        acc.chains[chain] = result
    }

    /// All chains of one width on `workers` threads (chain k on worker k mod workers, OpenBLAS
    /// pinned to one thread, as `NetworkEnsemble`).
    static func runWidth(net: String, width: Int, grid: Grid, workers: Int,
                         data d: (x: Matrix<Double>, y: Matrix<Double>, all: Matrix<Double>, yAll: [Double])) throws -> WidthAccumulator {
        let nAll = d.all.rows
        let empty = WidthAccumulator(kernelInit: ElementwiseMoments(length: nAll * nAll), kernelPost: ElementwiseMoments(length: nAll * nAll),
                                     outputsPost: ElementwiseMoments(length: grid.testCount))
        let count = min(workers, grid.chains)
        let slots = Slots(count: count)
        let body: @Sendable (Int) -> Void = { w in
            var acc = empty
            do {
                for chain in stride(from: w, to: grid.chains, by: count) {
                    try runChain(net: net, width: width, chain: chain, grid: grid, data: d, into: &acc)
                }
                slots.set(w, .success(acc))
            } catch { slots.set(w, .failure(error)) }
        }
        if count == 1 { body(0) } else {
            let threads = BLASThreads.count
            try BLASThreads.set(1)
            defer { try? BLASThreads.set(threads) }
            DispatchQueue.concurrentPerform(iterations: count, execute: body)
        }
        var merged = empty
        for w in 0..<count { try merged.merge(slots.get(w).get()) }
        return merged
    }

    final class Slots: @unchecked Sendable {
        private let lock = NSLock()
        private var results: [Result<WidthAccumulator, any Error>?]
        init(count: Int) { results = Array(repeating: nil, count: count) }
        func set(_ w: Int, _ r: Result<WidthAccumulator, any Error>) { lock.lock(); results[w] = r; lock.unlock() }
        func get(_ w: Int) throws -> Result<WidthAccumulator, any Error> {
            lock.lock(); defer { lock.unlock() }
            guard let r = results[w] else { throw PaperError.failed("a worker did not finish") }
            return r
        }
    }

    // MARK: Statistics of one width

    /// Excess kurtosis (Fisher's G₂) averaged over sites from pooled power sums, and its jackknife standard
    /// error over chains.
    static func kurtosis(_ moments: [[Double]], _ counts: [Double]) -> (value: Double, se: Double) {
        func pooled(_ keep: [Int]) -> Double {
            let sites = moments[keep[0]].count / 4
            var total = 0.0
            for s in 0..<sites {
                var m = [0.0, 0.0, 0.0, 0.0], n = 0.0
                for c in keep { for q in 0..<4 { m[q] += moments[c][s * 4 + q] }; n += counts[c] }
                let m1 = m[0] / n, m2 = m[1] / n, m3 = m[2] / n, m4 = m[3] / n
                let mu2 = m2 - m1 * m1
                let mu4 = m4 - 4 * m1 * m3 + 6 * m1 * m1 * m2 - 3 * m1 * m1 * m1 * m1
                // Fisher's bias-corrected G₂ (the plug-in g₂ has mean ≈ −6/n for Gaussian data).
                let g2 = mu4 / (mu2 * mu2) - 3
                total += ((n + 1) * g2 + 6) * (n - 1) / ((n - 2) * (n - 3))
            }
            return total / Double(sites)
        }
        let all = Array(moments.indices)
        let value = pooled(all)
        guard all.count > 2 else { return (value, .nan) }
        let leaveOut = all.map { c in pooled(all.filter { $0 != c }) }
        let mean = leaveOut.reduce(0, +) / Double(all.count)
        let se = (Double(all.count - 1) / Double(all.count) * leaveOut.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }).squareRoot()
        return (value, se)
    }

    static func meanAndError(_ x: [Double]) -> (mean: Double, se: Double) {
        let m = RunningMoments(x)
        return (m.mean, m.standardError)
    }

    static func record(net: String, width: Int, grid: Grid, acc: WidthAccumulator, seconds: Double, parameters: Int,
                       data d: (x: Matrix<Double>, y: Matrix<Double>, all: Matrix<Double>, yAll: [Double])) throws -> [String: JSONValue] {
        let chains = (0..<grid.chains).compactMap { acc.chains[$0] }
        let n = grid.trainCount, nAll = d.all.rows, layerCount = chains[0].alignmentInit.count
        let nngpKernels = nngp(net, inputs: d.all)
        var r: [String: JSONValue] = [
            "part": .string(net), "width": .integer(width), "chains": .integer(chains.count),
            "samples_per_chain": .integer(grid.samplesPerChain), "burn_in": .integer(grid.burnIn),
            "sample_every": .integer(grid.sampleEvery), "temperature": .number(temperature), "weight_decay": .number(temperature),
            "learning_rate": .number(learningRate), "parameters": .integer(parameters), "seconds": .number(seconds),
            "train": .integer(n), "test": .integer(grid.testCount),
        ]
        // S2: alignment per layer (init, posterior, paired change per chain, NNGP).
        var layerFields: [JSONValue] = []
        for l in 0..<layerCount {
            let a0 = meanAndError(chains.map { $0.alignmentInit[l] }), a1 = meanAndError(chains.map { $0.alignmentPost[l] })
            let delta = meanAndError(chains.map { $0.alignmentPost[l] - $0.alignmentInit[l] })
            layerFields.append(.object([
                "layer": .integer(l), "alignment_init": .number(a0.mean), "alignment_init_se": .number(a0.se),
                "alignment_post": .number(a1.mean), "alignment_post_se": .number(a1.se),
                "delta_alignment": .number(delta.mean), "delta_alignment_se": .number(delta.se),
                "alignment_nngp": .number(alignment(nngpKernels[l], d.yAll, n: n)),
            ]))
        }
        r["layers"] = .array(layerFields)
        // S1: excess kurtosis of hidden pre-activations (init and posterior).
        var kurt: [JSONValue] = []
        for (q, (layer, positions)) in preActivationLayers(net).enumerated() {
            let k0 = kurtosis(chains.map { $0.momentsInit[q] }, chains.map { $0.countInit[q] })
            let k1 = kurtosis(chains.map { $0.momentsPost[q] }, chains.map { $0.countPost[q] })
            kurt.append(.object(["layer": .integer(layer), "positions": .integer(positions),
                                 "kurtosis_init": .number(k0.value), "kurtosis_init_se": .number(k0.se),
                                 "kurtosis_post": .number(k1.value), "kurtosis_post_se": .number(k1.se)]))
        }
        r["preactivations"] = .array(kurt)
        // S3: GP predictions of the posterior-mean test outputs.
        let target = acc.outputsPost.mean
        let outputVariance = acc.outputsPost.variance
        func gpPrediction(_ k: Matrix<Double>) throws -> [Double] {
            let train = Matrix<Double>(rows: n, columns: n) { k[$0, $1] }
            let cross = Matrix<Double>(rows: grid.testCount, columns: n) { k[n + $0, $1] }
            let gp = try GaussianProcessRegression(kernel: train, targets: d.y, noiseVariance: temperature)
            return try gp.mean(crossKernel: cross).storage
        }
        func mse(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } / Double(a.count) }
        let adapted = try Matrix<Double>(rows: nAll, columns: nAll, storage: acc.kernelPost.mean)
        let initial = try Matrix<Double>(rows: nAll, columns: nAll, storage: acc.kernelInit.mean)
        let nngpReadout = nngpKernels[readoutInputLayer(net)]
        let pAdapted = try gpPrediction(adapted), pNNGP = try gpPrediction(nngpReadout), pInit = try gpPrediction(initial)
        let yTest = Array(d.yAll[n...])
        func relativeDifference(_ a: Matrix<Double>, _ b: Matrix<Double>) -> Double {
            (zip(a.storage, b.storage).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } / b.storage.reduce(0) { $0 + $1 * $1 }).squareRoot()
        }
        let targetPower = target.reduce(0) { $0 + $1 * $1 } / Double(target.count)
        r["gp"] = .object([
            "mse_adapted": .number(mse(pAdapted, target)), "mse_nngp": .number(mse(pNNGP, target)),
            "mse_init_kernel": .number(mse(pInit, target)), "target_mean_square": .number(targetPower),
            "target_sampling_variance": .number(outputVariance.reduce(0, +) / Double(outputVariance.count) / Double(acc.outputsPost.count)),
            "posterior_output_variance": .number(outputVariance.reduce(0, +) / Double(outputVariance.count)),
            "network_test_mse_vs_teacher": .number(mse(target, yTest)),
            "gp_adapted_test_mse_vs_teacher": .number(mse(pAdapted, yTest)),
            "gp_nngp_test_mse_vs_teacher": .number(mse(pNNGP, yTest)),
            "samples": .integer(acc.outputsPost.count),
            "init_kernel_vs_nngp": .number(relativeDifference(initial, nngpReadout)),
            "adapted_kernel_vs_nngp": .number(relativeDifference(adapted, nngpReadout)),
        ])
        // Equilibration: training loss at each sample time (mean over chains).
        let lossTimes = (0..<grid.samplesPerChain).map { s in meanAndError(chains.map { $0.lossPost[s] }).mean }
        r["loss_at_samples"] = .array(lossTimes.map { .number($0) })
        if let t = chains[0].traces {
            r["ntk_layer_traces_init"] = .array(t.initial.map { .number($0) })
            r["ntk_layer_traces_final"] = .array(t.final.map { .number($0) })
        }
        return r
    }

    // MARK: Run

    static func run(_ options: RunOptions) throws {
        let started = DispatchTime.now().uptimeNanoseconds
        let selected: [String]
        switch options.part {
        case nil, "all": selected = parts
        case let part? where parts.contains(part): selected = [part]
        case let part?: throw PaperError.usage("unknown part '\(part)' of \(name) (parts: \(parts.joined(separator: ", ")), all)")
        }
        let grid = options.quick ? Grid.quick : Grid.full
        let workers = ProcessInfo.processInfo.environment["PAPERS_WORKERS"].flatMap { Int($0) }
            ?? ProcessInfo.processInfo.activeProcessorCount
        let d = data(grid)
        var partEntries: [String: JSONValue] = [:]
        for part in selected {
            let partStarted = DispatchTime.now().uptimeNanoseconds
            let writer = try JSONLinesWriter(url: options.output.appendingPathComponent("\(part).jsonl"), truncate: true)
            for width in grid.widths(part) {
                let t0 = DispatchTime.now().uptimeNanoseconds
                let acc = try runWidth(net: part, width: width, grid: grid, workers: workers, data: d)
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
                let parameters = try spec(part, width: width).makeNetwork(Double.self, seed: 0).parameterCount
                let r = try record(net: part, width: width, grid: grid, acc: acc, seconds: seconds, parameters: parameters, data: d)
                try writer.append(r)
                let c = Cell(r)
                progress(String(format: "  %@ width %4d: ΔA(readout input) %+.4f ± %.4f  κ_post(last pre-act) %+.4f ± %.4f  GP mse adapted %.3e nngp %.3e  loss %@  %.1f s",
                                part, width, c.deltaAlignment[readoutInputLayer(part)], c.deltaAlignmentSE[readoutInputLayer(part)],
                                c.kurtosisPost.last ?? .nan, c.kurtosisPostSE.last ?? .nan, c.mseAdapted, c.mseNNGP,
                                c.lossAtSamples.map { fmt($0, 3) }.joined(separator: "→"), seconds))
            }
            partEntries[part] = .object([
                "name": .string(part),
                "command": .string("Papers/run \(name)" + (options.quick ? " --quick" : "") + " --part \(part)"),
                "seconds": .number(Double(DispatchTime.now().uptimeNanoseconds - partStarted) * 1e-9),
                "load_average": .number(loadAverage())])
        }
        var cells: [String: [Cell]] = [:]
        for part in parts {
            let url = options.output.appendingPathComponent("\(part).jsonl")
            if FileManager.default.fileExists(atPath: url.path) { cells[part] = try readRecords(url).map(Cell.init) }
        }
        let previous = try? CollectiveVariablesReproduction.previousParts(options.output.appendingPathComponent("summary.json"))
        for part in parts where partEntries[part] == nil {
            if let entry = previous?[part] { partEntries[part] = entry }
        }
        try SlowVariablesFigures.write(cells, output: options.output)
        let claims = [claimS1(cells), claimS2(cells), claimS3(cells), claimX1(cells)]
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) * 1e-9
        var summary = PaperSummary(paper: paper, command: options.command, seconds: seconds, quick: options.quick, claims: claims, runs: [])
        summary.parts = parts.compactMap { partEntries[$0] }
        try summary.write(to: options.output.appendingPathComponent("summary.json"))
        for c in claims { print("\(c.id) holds: \(c.holds.map { String($0) } ?? "null") — \(c.evidence)") }
        print(String(format: "%@ (%@): %.1f s; results in %@", name, selected.joined(separator: " + "), seconds, options.output.path))
    }

    static func loadAverage() -> Double {
        guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8),
              let first = text.split(separator: " ").first, let value = Double(first) else { return .nan }
        return value
    }

    // MARK: Records read back

    struct Cell {
        var net: String, width: Int, chains: Int
        var alignmentInit: [Double], alignmentPost: [Double], alignmentNNGP: [Double]
        var deltaAlignment: [Double], deltaAlignmentSE: [Double]
        var kurtosisLayers: [Int], kurtosisInit: [Double], kurtosisInitSE: [Double], kurtosisPost: [Double], kurtosisPostSE: [Double]
        var mseAdapted: Double, mseNNGP: Double, mseInit: Double, targetSamplingVariance: Double, targetMeanSquare: Double
        var lossAtSamples: [Double]
        var tracesInit: [Double], tracesFinal: [Double]

        init(_ r: [String: JSONValue]) {
            net = { if case let .string(s)? = r["part"] { return s } else { return "" } }()
            width = r["width"]?.int ?? 0
            chains = r["chains"]?.int ?? 0
            func objects(_ key: String) -> [[String: JSONValue]] {
                guard case let .array(a)? = r[key] else { return [] }
                return a.compactMap { if case let .object(o) = $0 { return o } else { return nil } }
            }
            let layers = objects("layers")
            alignmentInit = layers.map { $0["alignment_init"]?.double ?? .nan }
            alignmentPost = layers.map { $0["alignment_post"]?.double ?? .nan }
            alignmentNNGP = layers.map { $0["alignment_nngp"]?.double ?? .nan }
            deltaAlignment = layers.map { $0["delta_alignment"]?.double ?? .nan }
            deltaAlignmentSE = layers.map { $0["delta_alignment_se"]?.double ?? .nan }
            let pre = objects("preactivations")
            kurtosisLayers = pre.map { $0["layer"]?.int ?? 0 }
            kurtosisInit = pre.map { $0["kurtosis_init"]?.double ?? .nan }
            kurtosisInitSE = pre.map { $0["kurtosis_init_se"]?.double ?? .nan }
            kurtosisPost = pre.map { $0["kurtosis_post"]?.double ?? .nan }
            kurtosisPostSE = pre.map { $0["kurtosis_post_se"]?.double ?? .nan }
            var gp: [String: JSONValue] = [:]
            if case let .object(o)? = r["gp"] { gp = o }
            mseAdapted = gp["mse_adapted"]?.double ?? .nan
            mseNNGP = gp["mse_nngp"]?.double ?? .nan
            mseInit = gp["mse_init_kernel"]?.double ?? .nan
            targetSamplingVariance = gp["target_sampling_variance"]?.double ?? .nan
            targetMeanSquare = gp["target_mean_square"]?.double ?? .nan
            lossAtSamples = r["loss_at_samples"]?.doubles ?? []
            tracesInit = r["ntk_layer_traces_init"]?.doubles ?? []
            tracesFinal = r["ntk_layer_traces_final"]?.doubles ?? []
        }
    }

    // MARK: Verdicts (from the records only)

    static func fitLine(_ x: [Double], _ y: [Double]) -> (intercept: Double, slope: Double, r2: Double) {
        FiniteWidthFluctuationsReproduction.fitLine(x, y)
    }

    static func sorted(_ cells: [String: [Cell]], _ net: String) -> [Cell] { (cells[net] ?? []).sorted { $0.width < $1.width } }

    /// S1 rule: (a) no hidden pre-activation's posterior |κ| is significantly above 0.1 at any
    /// width (|κ| − 2 SE ≤ 0.1: nearly Gaussian); (b) for each net, the deepest hidden pre-activation's posterior κ, over the
    /// widths where it is resolved (|κ| > 2 SE, at least 3 widths), falls as a power of the width
    /// with a fitted exponent of log|κ| vs log N in [−1.5, −0.5] (∝ 1/N). If fewer than 3 widths
    /// are resolved for a net, (b) is not measured there and says so.
    static func claimS1(_ cells: [String: [Cell]]) -> Claim {
        let statement = "S1: hidden pre-activations are nearly Gaussian over the posterior ensemble, with an excess kurtosis shrinking ∝ 1/width"
        var nearly = true, slopeOK = true, measured = 0, notes: [String] = []
        for net in Self.parts {
            let c = sorted(cells, net)
            guard c.count >= 2 else { continue }
            for q in c[0].kurtosisLayers.indices {
                nearly = nearly && c.allSatisfy { abs($0.kurtosisPost[q]) - 2 * $0.kurtosisPostSE[q] <= 0.1 }
            }
            let q = c[0].kurtosisLayers.count - 1
            let resolved = c.filter { abs($0.kurtosisPost[q]) > 2 * $0.kurtosisPostSE[q] }
            let values = c.map { "N \($0.width): \(signed($0.kurtosisPost[q], 2)) ± \(fmt($0.kurtosisPostSE[q], 2)) (init \(signed($0.kurtosisInit[q], 2)) ± \(fmt($0.kurtosisInitSE[q], 2)))" }
            if resolved.count >= 3 {
                measured += 1
                let fit = fitLine(resolved.map { Foundation.log(Double($0.width)) }, resolved.map { Foundation.log(abs($0.kurtosisPost[q])) })
                slopeOK = slopeOK && fit.slope >= -1.5 && fit.slope <= -0.5
                notes.append("\(net) layer \(c[0].kurtosisLayers[q]): slope of log|κ| vs log N \(signed(fit.slope)) over \(resolved.map(\.width)); " + values.joined(separator: ", "))
            } else {
                notes.append("\(net) layer \(c[0].kurtosisLayers[q]): only \(resolved.count) width(s) resolved (|κ| > 2 SE), slope not measured; " + values.joined(separator: ", "))
            }
        }
        guard !notes.isEmpty else { return Claim(id: "S1", statement: statement, holds: nil, evidence: "no part run with ≥ 2 widths") }
        let holds: Bool? = !nearly ? false : (measured == 0 ? nil : slopeOK)
        return Claim(id: "S1", statement: statement, holds: holds,
                     evidence: "rule: no hidden pre-activation |κ_post| − 2 SE > 0.1, and the deepest one's fitted exponent in [−1.5, −0.5] over widths with |κ| > 2 SE (≥ 3 widths; else not measured); nearly Gaussian: \(nearly); " + notes.joined(separator: "; "))
    }

    /// S2 rule, on the readout's input kernel (last hidden activation): (a) at the smallest width
    /// its alignment with yyᵀ rises under training by more than 2 SE (paired over chains); (b) at
    /// the largest width the rise is below half the smallest width's (it fades as width grows).
    /// Holds when (a) and (b) hold for every net run.
    static func claimS2(_ cells: [String: [Cell]]) -> Claim {
        let statement = "S2: at finite width the kernels adapt to the data (alignment with yyᵀ rises, more at smaller width) and stay at their initialization/NNGP value as width grows"
        var holds = true, notes: [String] = [], any = false
        for net in Self.parts {
            let c = sorted(cells, net)
            guard c.count >= 2 else { continue }
            any = true
            let l = readoutInputLayer(net)
            let small = c.first!, large = c.last!
            let a = small.deltaAlignment[l] - 2 * small.deltaAlignmentSE[l] > 0
            let b = large.deltaAlignment[l] < small.deltaAlignment[l] / 2
            holds = holds && a && b
            let positive = c.filter { $0.deltaAlignment[l] > 0 }
            let slope = positive.count >= 2 ? fitLine(positive.map { Foundation.log(Double($0.width)) }, positive.map { Foundation.log($0.deltaAlignment[l]) }).slope : .nan
            let perLayer = (0..<(small.deltaAlignment.count - 1)).map { k in
                "layer \(k): " + c.map { "\(signed($0.deltaAlignment[k], 2))" }.joined(separator: " ")
            }
            notes.append("\(net) (readout input = layer \(l)): ΔA = " + c.map { "N \($0.width) \(signed($0.deltaAlignment[l], 3)) ± \(fmt($0.deltaAlignmentSE[l], 2)) (A_init \(fmt($0.alignmentInit[l], 3)), A_post \(fmt($0.alignmentPost[l], 3)))" }.joined(separator: ", ")
                         + "; A_NNGP \(fmt(small.alignmentNNGP[l], 3)); slope of log ΔA vs log N \(signed(slope)); (a) \(a), (b) \(b); all hidden layers ΔA by width: " + perLayer.joined(separator: "; "))
        }
        guard any else { return Claim(id: "S2", statement: statement, holds: nil, evidence: "no part run with ≥ 2 widths") }
        return Claim(id: "S2", statement: statement, holds: holds,
                     evidence: "rule: on the readout's input kernel, ΔA(smallest N) > 2 SE and ΔA(largest N) < ΔA(smallest N)/2, for every net; " + notes.joined(separator: "; "))
    }

    /// S3 rule: the GP with the posterior-averaged (adapted) readout kernel predicts the networks'
    /// posterior-mean test outputs with a lower MSE than the GP with the NNGP kernel at each of the
    /// two smallest widths, and is never worse than 1.1× the NNGP's error at any width, for every net.
    static func claimS3(_ cells: [String: [Cell]]) -> Claim {
        let statement = "S3: a GP with the adapted (data-aware) kernel predicts the trained networks' mean outputs better than the NNGP kernel"
        var holds = true, notes: [String] = [], any = false
        for net in Self.parts {
            let c = sorted(cells, net)
            guard c.count >= 2 else { continue }
            any = true
            let smallest = c.prefix(2).allSatisfy { $0.mseAdapted < $0.mseNNGP }
            let never = c.allSatisfy { $0.mseAdapted <= 1.1 * $0.mseNNGP }
            holds = holds && smallest && never
            notes.append("\(net): " + c.map { "N \($0.width) adapted \(fmt($0.mseAdapted, 3)) vs NNGP \(fmt($0.mseNNGP, 3)) (init-kernel GP \(fmt($0.mseInit, 3)); E f̄² \(fmt($0.targetMeanSquare, 3)), sampling floor ≈ \(fmt($0.targetSamplingVariance, 2)))" }.joined(separator: ", "))
        }
        guard any else { return Claim(id: "S3", statement: statement, holds: nil, evidence: "no part run with ≥ 2 widths") }
        return Claim(id: "S3", statement: statement, holds: holds,
                     evidence: "rule: MSE(adapted) < MSE(NNGP) at the two smallest widths and ≤ 1.1× at every width, for every net; " + notes.joined(separator: "; "))
    }

    /// X1 (ours) rule: the per-layer NTK trace shares tr K_l / tr K (exact, one chain) move more
    /// under Langevin training at the smallest width than at the largest (Σ_l |Δ share_l|), for every net.
    static func claimX1(_ cells: [String: [Cell]]) -> Claim {
        let statement = "X1 (ours): the per-layer NTK trace shares tr K_l / tr K move under training at small width and stay at their initial values as width grows"
        var holds = true, notes: [String] = [], any = false
        func shares(_ t: [Double]) -> [Double] { t.dropLast().map { $0 / t.last! } }
        for net in Self.parts {
            let c = sorted(cells, net).filter { !$0.tracesInit.isEmpty && !$0.tracesFinal.isEmpty }
            guard c.count >= 2 else { continue }
            any = true
            func moved(_ cell: Cell) -> Double { zip(shares(cell.tracesInit), shares(cell.tracesFinal)).reduce(0) { $0 + abs($1.1 - $1.0) } }
            holds = holds && moved(c.first!) > moved(c.last!)
            notes.append("\(net): " + c.map { cell in
                "N \(cell.width) shares " + shares(cell.tracesInit).map { fmt($0, 3) }.joined(separator: "/") + " → "
                    + shares(cell.tracesFinal).map { fmt($0, 3) }.joined(separator: "/") + " (Σ|Δ| \(fmt(moved(cell), 3)), tr K \(fmt(cell.tracesInit.last!, 4)) → \(fmt(cell.tracesFinal.last!, 4)))"
            }.joined(separator: ", "))
        }
        guard any else { return Claim(id: "X1", statement: statement, holds: nil, evidence: "no part run with ≥ 2 widths") }
        return Claim(id: "X1", statement: statement, holds: holds,
                     evidence: "rule: Σ_l |Δ share_l| at the smallest width > at the largest, for every net (one chain per width, exact traces); " + notes.joined(separator: "; "))
    }
}

import Foundation
import NTKLinearAlgebra
import NTKNetworks
import NTKSpectra

/// Bordelon & Pehlevan, "Dynamics of finite width kernel and prediction fluctuations in mean
/// field neural networks", NeurIPS 2023, arXiv:2304.03408 — claims B1–B3 — and, as a bonus,
/// Hanin & Nica, "Finite depth and width corrections to the neural tangent kernel", ICLR 2020,
/// arXiv:1909.05989 (H1).
///
/// Parts (each one `NetworkEnsemble` per cell; records one JSON line per cell):
/// - `two-layer` (B1, B2): f(x) = (1/(γ₀N)) Σᵢ aᵢ tanh(wᵢ·x/√D), N(0, 1) parameters, no biases,
///   full-batch GD on ½·mean squared error with η = η₀γ₀²N, η₀ = min(4, 2/γ₀), for a time η₀·steps = 240; P = 16 Gaussian inputs in D = 16,
///   a fixed teacher; the exact P×P kernel K̂ = γ₀²N·K and predictions on 8 test inputs at
///   initialization and after training, over widths × γ₀ × seeds.
/// - `deep` (B3): the same with two and three hidden layers (depth 3 and 4).
/// - `hanin-nica` (H1): one input, ReLU nets (He scale √2, no biases) of depth × width, the
///   exact K(x, x) = ‖∇_θ f(x)‖² over seeds; log(E[K²]/E[K]²) against β = Σ_l 1/n_l.
enum FiniteWidthFluctuationsReproduction: Reproduction {
    static let name = "finite-width-fluctuations"
    static let paper = "arXiv:2304.03408 (+ arXiv:1909.05989)"
    static let parts = ["two-layer", "two-layer-wide", "deep", "hanin-nica"]

    /// The grid of one run (full or quick).
    struct Grid {
        var widths: [Int]
        /// The two-layer cells of part `two-layer-wide` (the issue's N = 2048: as costly as all of
        /// `two-layer`'s widths together, so a part of its own to keep each part ≤ 10 min).
        var wideWidths: [Int]
        var gammas: [Double]
        var seeds: Int
        /// Training time T = η₀ · steps (gradient-flow units of the rescaled kernel).
        var time: Double
        var deepWidths: [Int]
        var deepDepths: [Int]
        var deepSeeds: Int
        var haninDepths: [Int]
        var haninWidths: [Int]
        var haninSeeds: Int

        static let full = Grid(widths: [128, 256, 512, 1024], wideWidths: [2048], gammas: [0.05, 0.25, 0.5, 1, 2], seeds: 200, time: 240,
                               deepWidths: [64, 128], deepDepths: [3, 4], deepSeeds: 200,
                               haninDepths: [2, 4, 8, 16], haninWidths: [32, 64, 128], haninSeeds: 3000)
        static let quick = Grid(widths: [64, 128, 256], wideWidths: [384], gammas: [0.05, 0.5, 2], seeds: 40, time: 160,
                                deepWidths: [64], deepDepths: [3], deepSeeds: 40,
                                haninDepths: [2, 4], haninWidths: [32, 64], haninSeeds: 200)
    }

    static let inputDimension = 16, trainCount = 16, testCount = 8
    /// η₀(γ₀) = min(4, 2/γ₀): with L = (1/P)Σ½(f − y)², GD reads f ← f − (η₀/P) K̂ (f − y), and a
    /// step moves the hidden pre-activations by O(η₀γ₀); η₀ = 8 diverged at γ₀ = 2 (two layers)
    /// and η₀ = 4 at γ₀ = 1 (depth 4), so η₀γ₀ ≤ 2. Every cell trains for the same time
    /// T = η₀ · steps (`Grid.time`), i.e. the same gradient-flow horizon.
    static func eta0(_ gamma0: Double) -> Double { min(4, 2 / gamma0) }
    static func steps(_ gamma0: Double, time: Double) -> Int { Int((time / eta0(gamma0)).rounded(.up)) }

    /// P Gaussian inputs x ~ N(0, I_D) and a fixed teacher y = β·x/√D + ((β·x)²/D − 1)/√2, β ~ N(0, I_D).
    static func data() -> (x: Matrix<Double>, y: Matrix<Double>, test: Matrix<Double>) {
        var g = SeededGenerator(seed: 2304_03408)
        let d = inputDimension
        let beta = (0..<d).map { _ in g.nextGaussian() }
        let x = Matrix<Double>(rows: trainCount, columns: d) { _, _ in g.nextGaussian() }
        let test = Matrix<Double>(rows: testCount, columns: d) { _, _ in g.nextGaussian() }
        let y = Matrix<Double>(rows: trainCount, columns: 1) { i, _ in
            let z = (0..<d).reduce(0) { $0 + beta[$1] * x[i, $1] } / Double(d).squareRoot()
            return z + (z * z - 1) / 2.0.squareRoot()
        }
        return (x, y, test)
    }

    static func run(_ options: RunOptions) throws {
        let started = DispatchTime.now().uptimeNanoseconds
        let selected: [String]
        switch options.part {
        case nil, "all": selected = parts
        case let part? where parts.contains(part): selected = [part]
        case let part?: throw PaperError.usage("unknown part '\(part)' of \(name) (parts: \(parts.joined(separator: ", ")), all)")
        }
        let grid = options.quick ? Grid.quick : Grid.full
        // PAPERS_WORKERS overrides the worker count (1: serial, OpenBLAS threads as set) for timing.
        let workers = ProcessInfo.processInfo.environment["PAPERS_WORKERS"].flatMap { Int($0) }
            ?? ProcessInfo.processInfo.activeProcessorCount
        var partEntries: [String: JSONValue] = [:]
        for part in selected {
            let partStarted = DispatchTime.now().uptimeNanoseconds
            let writer = try JSONLinesWriter(url: options.output.appendingPathComponent("\(part).jsonl"), truncate: true)
            switch part {
            case "two-layer":
                try meanFieldCells(depths: [2], widths: grid.widths, gammas: grid.gammas, seeds: grid.seeds, time: grid.time,
                                   workers: workers, part: part, writer: writer)
            case "two-layer-wide":
                try meanFieldCells(depths: [2], widths: grid.wideWidths, gammas: grid.gammas, seeds: grid.seeds, time: grid.time,
                                   workers: workers, part: part, writer: writer)
            case "deep":
                try meanFieldCells(depths: grid.deepDepths, widths: grid.deepWidths, gammas: grid.gammas, seeds: grid.deepSeeds,
                                   time: grid.time, workers: workers, part: part, writer: writer)
            default:
                try haninNicaCells(grid, workers: workers, writer: writer)
            }
            partEntries[part] = .object([
                "name": .string(part),
                "command": .string("Papers/run \(name)" + (options.quick ? " --quick" : "") + " --part \(part)"),
                "seconds": .number(Double(DispatchTime.now().uptimeNanoseconds - partStarted) * 1e-9)])
        }
        // Parts not run now contribute the records (and times) an earlier run left in the output.
        var records: [String: [[String: JSONValue]]] = [:]
        for part in parts {
            let url = options.output.appendingPathComponent("\(part).jsonl")
            if FileManager.default.fileExists(atPath: url.path) { records[part] = try readRecords(url) }
        }
        let previous = try? CollectiveVariablesReproduction.previousParts(options.output.appendingPathComponent("summary.json"))
        for part in parts where partEntries[part] == nil {
            if let entry = previous?[part] { partEntries[part] = entry }
        }
        // The two-layer claims read every two-layer width, from both parts.
        let twoLayer = ((records["two-layer"] ?? []) + (records["two-layer-wide"] ?? [])).map(Cell.init)
        let deep = (records["deep"] ?? []).map(Cell.init)
        let hanin = (records["hanin-nica"] ?? []).map(HaninCell.init)
        try FluctuationFigures.write(twoLayer: twoLayer, deep: deep, hanin: hanin, output: options.output)
        let claims = [claimB1(twoLayer), claimB2(twoLayer), claimB3(deep), claimH1(hanin)]
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) * 1e-9
        var summary = PaperSummary(paper: paper, command: options.command, seconds: seconds, quick: options.quick,
                                   claims: claims, runs: [])
        summary.parts = parts.compactMap { partEntries[$0] }
        try summary.write(to: options.output.appendingPathComponent("summary.json"))
        for c in claims { print("\(c.id) holds: \(c.holds.map { String($0) } ?? "null") — \(c.evidence)") }
        print(String(format: "%@ (%@): %.1f s; results in %@", name, selected.joined(separator: " + "), seconds, options.output.path))
    }

    // MARK: Ensembles

    static func meanFieldCells(depths: [Int], widths: [Int], gammas: [Double], seeds: Int, time: Double, workers: Int,
                               part: String, writer: JSONLinesWriter) throws {
        let (x, y, test) = data()
        for depth in depths {
            for width in widths {
                for gamma0 in gammas {
                    let spec = ModelSpec.mlp(inputSize: inputDimension, hiddenSizes: Array(repeating: width, count: depth - 1),
                                             outputSize: 1, activation: .tanh, bias: false,
                                             parameterization: .meanField(gamma0: gamma0))
                    let scale = gamma0 * gamma0 * Double(width)
                    let eta0 = eta0(gamma0), steps = steps(gamma0, time: time)
                    let ensemble = NetworkEnsemble(spec: spec, seeds: (0..<seeds).map { UInt64($0) }, steps: steps,
                                                   learningRate: eta0 * scale, kernelScale: scale, kind: .full, topCount: 3,
                                                   workers: workers)
                    let r = try ensemble.run(inputs: x, targets: y, testInputs: test)
                    var record: [String: JSONValue] = [
                        "part": .string(part), "depth": .integer(depth), "width": .integer(width), "gamma0": .number(gamma0),
                        "seeds": .integer(seeds), "steps": .integer(steps), "eta0": .number(eta0), "time": .number(time),
                        "learning_rate": .number(ensemble.learningRate), "kernel_scale": .number(scale),
                        "parameters": .integer(r.parameterCount), "seconds": .number(r.seconds), "workers": .integer(r.workers),
                    ]
                    record["initial"] = .object(snapshotFields(r.initial))
                    record["final"] = .object(snapshotFields(r.final))
                    try writer.append(record)
                    let c = Cell(record)
                    progress(String(format: "  %@ depth %d N %4d γ₀ %-4g  Var K̂ %.3e → %.3e  Var f %.3e → %.3e  SNR %.3g → %.3g  loss %.2e → %.2e  %.1f s",
                                    part, depth, width, gamma0, c.initial.kernelVariance, c.final.kernelVariance,
                                    c.initial.predictionVariance, c.final.predictionVariance, c.initial.signalToNoise,
                                    c.final.signalToNoise, c.initial.loss, c.final.loss, r.seconds))
                }
            }
        }
    }

    static func snapshotFields(_ s: NetworkEnsemble.Snapshot) -> [String: JSONValue] {
        let k = s.kernel
        return [
            "kernel_mean": .array(k.mean.storage.map { .number($0) }),
            "kernel_variance": .array(k.variance.storage.map { .number($0) }),
            "mean_entry_variance": .number(k.meanEntryVariance), "signal_to_noise": .number(k.signalToNoise),
            "trace_mean": .number(k.trace.mean), "trace_variance": .number(k.trace.variance),
            "entropy_mean": .number(k.entropy.mean), "entropy_variance": .number(k.entropy.variance),
            "lambda_max_mean": .number(k.topEigenvalues.first?.mean ?? .nan),
            "lambda_max_variance": .number(k.topEigenvalues.first?.variance ?? .nan),
            "prediction_mean": .array(s.predictions.mean.map { .number($0) }),
            "prediction_variance": .array(s.predictions.variance.map { .number($0) }),
            "loss_mean": .number(s.loss.mean), "loss_variance": .number(s.loss.variance), "count": .integer(k.count),
        ]
    }

    static func haninNicaCells(_ grid: Grid, workers: Int, writer: JSONLinesWriter) throws {
        var g = SeededGenerator(seed: 1909_05989)
        let d = 10
        let x = Matrix<Double>(rows: 1, columns: d) { _, _ in g.nextGaussian() }
        for depth in grid.haninDepths {
            for width in grid.haninWidths {
                let spec = ModelSpec.mlp(inputSize: d, hiddenSizes: Array(repeating: width, count: depth), outputSize: 1,
                                         activation: .relu, bias: false,
                                         parameterization: .ntk(weightScale: 2.0.squareRoot(), biasScale: 0))
                // Two halves of the seeds: their merge is the estimate, their difference its error bar.
                let half = grid.haninSeeds / 2
                var halves: [NetworkEnsemble.Result] = []
                for range in [0..<half, half..<grid.haninSeeds] {
                    let ensemble = NetworkEnsemble(spec: spec, seeds: range.map { UInt64($0) }, steps: 0, kind: .full, topCount: 1,
                                                   workers: workers)
                    halves.append(try ensemble.run(inputs: x, targets: Matrix(rows: 1, columns: 1), testInputs: x))
                }
                var merged = halves[0].initial.kernel
                try merged.merge(halves[1].initial.kernel)
                func logRatio(_ k: RunningMoments) -> Double {
                    let n = Double(k.count)
                    return Foundation.log((k.variance * (n - 1) / n + k.mean * k.mean) / (k.mean * k.mean))
                }
                let halfRatios = halves.map { logRatio($0.initial.kernel.trace) }
                let r = (parameterCount: halves[0].parameterCount, seconds: halves[0].seconds + halves[1].seconds)
                let k = merged.trace
                let n = Double(k.count)
                let secondMoment = k.variance * (n - 1) / n + k.mean * k.mean
                let record: [String: JSONValue] = [
                    "part": "hanin-nica", "depth": .integer(depth), "width": .integer(width),
                    "beta": .number(Double(depth) / Double(width)), "seeds": .integer(k.count),
                    "k_mean": .number(k.mean), "k_variance": .number(k.variance), "k_second_moment": .number(secondMoment),
                    "log_ratio": .number(Foundation.log(secondMoment / (k.mean * k.mean))),
                    "log_ratio_halves": .array(halfRatios.map { .number($0) }),
                    "log_ratio_error": .number(abs(halfRatios[0] - halfRatios[1]) / 2),
                    "parameters": .integer(r.parameterCount), "seconds": .number(r.seconds),
                ]
                try writer.append(record)
                progress(String(format: "  hanin-nica depth %2d width %3d β %.4f  E K %.4g  log E[K²]/E[K]² %.4f  %.1f s",
                                depth, width, Double(depth) / Double(width), k.mean, Foundation.log(secondMoment / (k.mean * k.mean)),
                                r.seconds))
            }
        }
    }

    // MARK: Records read back

    struct Snapshot {
        var kernelVariance: Double
        var entryVariances: [Double]
        var signalToNoise: Double
        var predictionVariance: Double
        var loss: Double
        var count: Int

        init(_ r: [String: JSONValue]) {
            kernelVariance = r["mean_entry_variance"]?.double ?? .nan
            entryVariances = r["kernel_variance"]?.doubles ?? []
            signalToNoise = r["signal_to_noise"]?.double ?? .nan
            let p = r["prediction_variance"]?.doubles ?? []
            predictionVariance = p.reduce(0, +) / Double(max(p.count, 1))
            loss = r["loss_mean"]?.double ?? .nan
            count = r["count"]?.int ?? 0
        }

        /// Standard error of a variance estimate from n samples, Gaussian approximation: σ²√(2/(n−1)).
        func standardError(_ variance: Double) -> Double { variance * (2 / Double(max(count - 1, 1))).squareRoot() }
    }

    struct Cell {
        var depth: Int, width: Int, gamma0: Double
        var initial: Snapshot, final: Snapshot
        init(_ r: [String: JSONValue]) {
            depth = r["depth"]?.int ?? 0
            width = r["width"]?.int ?? 0
            gamma0 = r["gamma0"]?.double ?? .nan
            if case let .object(o)? = r["initial"] { initial = Snapshot(o) } else { initial = Snapshot([:]) }
            if case let .object(o)? = r["final"] { final = Snapshot(o) } else { final = Snapshot([:]) }
        }
    }

    struct HaninCell {
        var depth: Int, width: Int, beta: Double, logRatio: Double, seeds: Int
        /// Half the difference of the two half-sample estimates (error bar).
        var error: Double
        init(_ r: [String: JSONValue]) {
            error = r["log_ratio_error"]?.double ?? 0
            depth = r["depth"]?.int ?? 0
            width = r["width"]?.int ?? 0
            beta = r["beta"]?.double ?? .nan
            logRatio = r["log_ratio"]?.double ?? .nan
            seeds = r["seeds"]?.int ?? 0
        }
    }

    // MARK: Verdicts (from the records only)

    /// Least-squares line y = a + b x: (intercept, slope, R²).
    static func fitLine(_ x: [Double], _ y: [Double]) -> (intercept: Double, slope: Double, r2: Double) {
        let n = Double(x.count)
        let mx = x.reduce(0, +) / n, my = y.reduce(0, +) / n
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for i in x.indices {
            sxy += (x[i] - mx) * (y[i] - my); sxx += (x[i] - mx) * (x[i] - mx); syy += (y[i] - my) * (y[i] - my)
        }
        let b = sxy / sxx
        return (my - b * mx, b, syy > 0 ? sxy * sxy / (sxx * syy) : 1)
    }

    /// The slope of log Var[K̂_ij] (averaged over entries) against log N for one γ₀ and time.
    static func varianceSlope(_ cells: [Cell], gamma0: Double, final: Bool) -> Double {
        let c = cells.filter { $0.gamma0 == gamma0 }.sorted { $0.width < $1.width }
        return fitLine(c.map { Foundation.log(Double($0.width)) },
                       c.map { Foundation.log(final ? $0.final.kernelVariance : $0.initial.kernelVariance) }).slope
    }

    /// Median over entries of the per-entry slope.
    static func medianEntrySlope(_ cells: [Cell], gamma0: Double, final: Bool) -> Double {
        let c = cells.filter { $0.gamma0 == gamma0 }.sorted { $0.width < $1.width }
        guard let m = c.first?.initial.entryVariances.count, m > 0 else { return .nan }
        let lx = c.map { Foundation.log(Double($0.width)) }
        let slopes = (0..<m).map { j in
            fitLine(lx, c.map { Foundation.log((final ? $0.final : $0.initial).entryVariances[j]) }).slope
        }.sorted()
        return slopes[slopes.count / 2]
    }

    static func gammas(_ cells: [Cell]) -> [Double] { Array(Set(cells.map(\.gamma0))).sorted() }
    static func widths(_ cells: [Cell]) -> [Int] { Array(Set(cells.map(\.width))).sorted() }

    static func claimB1(_ cells: [Cell]) -> Claim {
        let statement = "B1: N·Var[K_ij] is flat in N at initialization and at the end of training (slope of log Var against log N within −1 ± 0.1), for every γ₀"
        guard widths(cells).count >= 3 else {
            return Claim(id: "B1", statement: statement, holds: nil, evidence: "two-layer part not run (needs ≥ 3 widths)")
        }
        var parts: [String] = [], all = true
        for g in gammas(cells) {
            let a = varianceSlope(cells, gamma0: g, final: false), b = varianceSlope(cells, gamma0: g, final: true)
            all = all && abs(a + 1) <= 0.1 && abs(b + 1) <= 0.1
            parts.append("γ₀ \(fmt(g, 3)): init \(signed(a)) (median entry \(signed(medianEntrySlope(cells, gamma0: g, final: false)))), end \(signed(b)) (median entry \(signed(medianEntrySlope(cells, gamma0: g, final: true))))")
        }
        return Claim(id: "B1", statement: statement, holds: all,
                     evidence: "slopes of log mean_ij Var[K̂_ij] vs log N over N ∈ \(widths(cells)): " + parts.joined(separator: "; "))
    }

    static func claimB2(_ cells: [Cell]) -> Claim {
        let statement = "B2: in the two-layer network larger γ₀ (feature learning) reduces the variance of the final NTK and of the final predictions"
        let gs = gammas(cells)
        guard gs.count >= 3 else { return Claim(id: "B2", statement: statement, holds: nil, evidence: "two-layer part not run") }
        var holds = true, parts: [String] = []
        for n in widths(cells) {
            let c = gs.map { g in cells.first { $0.width == n && $0.gamma0 == g }! }
            let rk = spearmanCorrelation(gs, c.map(\.final.kernelVariance)) ?? 0
            let rf = spearmanCorrelation(gs, c.map(\.final.predictionVariance)) ?? 0
            let kRatio = c.last!.final.kernelVariance / c.first!.final.kernelVariance
            let fRatio = c.last!.final.predictionVariance / c.first!.final.predictionVariance
            holds = holds && rk <= -0.8 && rf <= -0.8 && kRatio < 1 && fRatio < 1
            parts.append("N \(n): ρ(γ₀, Var K̂_end) \(signed(rk, 2)), Var K̂_end(γ₀ \(fmt(gs.last!, 3)))/Var K̂_end(γ₀ \(fmt(gs.first!, 3))) = \(fmt(kRatio, 3)); ρ(γ₀, Var f_end) \(signed(rf, 2)), ratio \(fmt(fRatio, 3))")
        }
        return Claim(id: "B2", statement: statement, holds: holds,
                     evidence: "rule: at every width Spearman ρ ≤ −0.8 and largest/smallest γ₀ ratio < 1 for both; " + parts.joined(separator: "; "))
    }

    static func claimB3(_ cells: [Cell]) -> Claim {
        let statement = "B3: in deeper (3–4 layer) networks the kernel variance can grow with γ₀ while the prediction variance and the kernel's signal-to-noise ratio improve"
        guard !cells.isEmpty else { return Claim(id: "B3", statement: statement, holds: nil, evidence: "deep part not run") }
        var grows = 0, bothImprove = 0, total = 0, parts: [String] = []
        for depth in Array(Set(cells.map(\.depth))).sorted() {
            let sub = cells.filter { $0.depth == depth }
            let gs = gammas(sub)
            for n in widths(sub) {
                let c = gs.map { g in sub.first { $0.width == n && $0.gamma0 == g }! }
                // Kernel variance at the γ₀ where it peaks versus the lazy end of the grid.
                let peak = c.max { $0.final.kernelVariance < $1.final.kernelVariance }!
                let kGrow = peak.final.kernelVariance / c.first!.final.kernelVariance
                let fRatio = c.last!.final.predictionVariance / c.first!.final.predictionVariance
                let snrRatio = c.last!.final.signalToNoise / c.first!.final.signalToNoise
                let rf = spearmanCorrelation(gs, c.map(\.final.predictionVariance)) ?? 0
                total += 1
                if kGrow > 1 + 3 * c.first!.final.standardError(1) { grows += 1 }
                if fRatio < 1 && snrRatio > 1 && rf <= -0.8 { bothImprove += 1 }
                parts.append("depth \(depth) N \(n): max_γ₀ Var K̂_end / Var K̂_end(γ₀ \(fmt(gs.first!, 3))) = \(fmt(kGrow, 3)) (at γ₀ \(fmt(peak.gamma0, 3))), Var f_end ratio \(fmt(fRatio, 3)) (ρ \(signed(rf, 2))), SNR_end ratio \(fmt(snrRatio, 3))")
            }
        }
        let holds = grows >= 1 && bothImprove == total
        return Claim(id: "B3", statement: statement, holds: holds,
                     evidence: "rule: the kernel variance grows beyond 3 standard errors with γ₀ in at least one cell, and in every cell prediction variance falls (ratio < 1, ρ ≤ −0.8) while SNR rises (largest vs smallest γ₀); grows in \(grows)/\(total), both improve in \(bothImprove)/\(total): " + parts.joined(separator: "; "))
    }

    static func claimH1(_ cells: [HaninCell]) -> Claim {
        let statement = "H1 (Hanin & Nica): log(E[K²]/E[K]²) of ReLU nets collapses on β = Σ_l 1/n_l and grows linearly (the paper's exp(5β))"
        guard cells.count >= 3 else { return Claim(id: "H1", statement: statement, holds: nil, evidence: "hanin-nica part not run") }
        let fit = fitLine(cells.map(\.beta), cells.map(\.logRatio))
        // Collapse: cells with the same β agree (spread below 10% of the fitted value).
        var spreads: [String] = []
        var collapses = true
        for beta in Array(Set(cells.map(\.beta))).sorted() {
            let same = cells.filter { $0.beta == beta }
            guard same.count > 1 else { continue }
            let values = same.map(\.logRatio)
            let spread = values.max()! - values.min()!
            let predicted = fit.intercept + fit.slope * beta
            collapses = collapses && spread <= 0.1 * abs(predicted) + 0.02
            spreads.append("β \(fmt(beta, 3)): " + same.map { "(\($0.depth), \($0.width)) \(fmt($0.logRatio, 3))" }.joined(separator: " "))
        }
        let holds = fit.r2 >= 0.95 && fit.slope > 0 && collapses
        return Claim(id: "H1", statement: statement, holds: holds,
                     evidence: "fit log ratio = \(fmt(fit.intercept, 3)) + \(fmt(fit.slope, 3))·β, R² \(fmt(fit.r2, 4)) over \(cells.count) (depth, width) cells with \(cells.first!.seeds) seeds; rule: R² ≥ 0.95, slope > 0, equal-β cells within 10% (+0.02); equal-β cells: " + spreads.joined(separator: "; "))
    }
}

extension JSONValue {
    var double: Double? {
        switch self {
        case let .number(x): return x
        case let .integer(i): return Double(i)
        default: return nil
        }
    }
    var int: Int? {
        switch self {
        case let .integer(i): return i
        case let .number(x): return Int(exactly: x)
        default: return nil
        }
    }
    var doubles: [Double]? {
        guard case let .array(a) = self else { return nil }
        return a.map { $0.double ?? .nan }
    }
}

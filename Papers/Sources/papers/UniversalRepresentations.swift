import Foundation
import NTKLinearAlgebra
import NTKNetworks
import NTKSpectra

/// van Rossem & Saxe, "When Representations Align: Universality in Representation Learning
/// Dynamics", ICML 2024, arXiv:2402.09142 — claims U1 (the representation distance of a pair of
/// inputs follows the effective theory across architectures) and U2 (small initialization is
/// rich, large is lazy, with ‖K_T − K_0‖_F/‖K_0‖_F as the order parameter).
///
/// The two-point task: inputs x₁, x₂ ∈ R¹⁶ (N(0, I), fixed seed; an image [1, 4, 4] for the CNN
/// and ResNet, 4 tokens × 4 features for the transformer), targets y₁* = (1, ½), y₂* = (−1, ½).
/// Six architectures (MLP tanh / ReLU / GELU, CNN, ResNet, transformer), each split into an
/// encoder (the first layers; `Network.prefix(layers:)`) and a nonlinear decoder (the rest),
/// initialized with PyTorch's defaults and then every parameter multiplied by α
/// (`Network.scalingParameters(by:)`), α over a sweep from small (rich) to large (lazy).
/// The model is centered at initialization (f_θ − f_θ₀, so outputs start at 0 at every α).
/// Full-batch gradient descent on L = ½ Σᵢ ‖f(xᵢ) − yᵢ*‖² with a step η_t = min(c/λ_max(K_t),
/// δ‖θ_t‖/‖∇L‖): a reparametrization of time along the gradient flow, whose time is t = Σ η.
/// Every step: the exact NTK K_t = J Jᵀ of the two points (4 × 4, from the dense Jacobian),
/// ‖dh‖ = ‖h(x₁) − h(x₂)‖, ‖dy‖ = ‖f(x₁) − f(x₂)‖ and the alignment w = cos(dy, dy*).
///
/// The effective theory (`EffectiveTheory`): linearize the encoder and decoder around the pair's
/// mean, dh = D_h dx, dy = D_y dh, and run gradient flow on (ȳ, D_h, D_y) with effective
/// learning rates; with D_y acting on the pair's direction, the pair obeys a closed system in
/// (u = ‖dh‖², dy): du/dt = −2a dyᵀ(dy − dy*), d(dy)/dt = −b u (dy − dy*) − a (dyᵀ(dy − dy*)/u) dy,
/// with two effective rates a, b (conserved: u − (a/b)‖dy‖²/u). a and b are fitted per run (RMS alignment error reported beside);
/// the initial (u, dy) are the network's own.
enum UniversalRepresentationsReproduction: Reproduction {
    static let name = "universal-representations"
    static let paper = "arXiv:2402.09142"
    static let file = "pairs.jsonl"

    struct Config: Sendable {
        var mlpWidth: Int, mlpDepth: Int
        var cnnChannels: Int, cnnHidden: Int
        var resnetWidth: Int
        var transformer: (d: Int, heads: Int, ff: Int)
        var scales: [Double]
        var maxSteps: Int
        var records: Int
        static let full = Config(mlpWidth: 128, mlpDepth: 3, cnnChannels: 16, cnnHidden: 128, resnetWidth: 24,
                                 transformer: (32, 4, 64), scales: [0.1, 0.3, 1, 3, 10], maxSteps: 8000, records: 150)
        static let quick = Config(mlpWidth: 32, mlpDepth: 3, cnnChannels: 6, cnnHidden: 32, resnetWidth: 8,
                                  transformer: (16, 2, 32), scales: [0.1, 1, 10], maxSteps: 1500, records: 60)
    }

    /// Step-size rule: c (fraction of 1/λ_max) and δ (largest relative parameter change per step).
    static let stepFraction = 0.2, parameterStep = 0.02
    /// Training stops at L ≤ this (absolute; ½ Σ‖r‖², targets of norm ~1) or at `maxSteps`.
    static let lossTarget = 1e-6
    /// U1's threshold on the normalized deviation, fixed before any run (README, "Verdict rules").
    static let u1Threshold = 0.1
    /// U2's rich/lazy contrast: κ(α_min)/κ(α_max) ≥ this, fixed before any run.
    static let u2Contrast = 10.0

    // MARK: Data and networks

    static let inputSize = 16
    static func data() -> (x: Matrix<Double>, y: Matrix<Double>) {
        var g = SeededGenerator(seed: 2402_09142)
        let x = Matrix<Double>(rows: 2, columns: inputSize) { _, _ in g.nextGaussian() }
        let y = try! Matrix<Double>(rows: 2, columns: 2, storage: [1, 0.5, -1, 0.5])
        return (x, y)
    }

    struct Architecture: Sendable {
        var family: String
        var label: String
        var activation: String
        var depth: Int, width: Int
        /// The encoder is the first `split` layers; the rest is the decoder.
        var split: Int
        var network: Network<Double>
    }

    static func architectures(_ c: Config) throws -> [Architecture] {
        var out: [Architecture] = []
        for act in [ActivationFunction.tanh, .relu, .gelu] {
            let net = try Network<Double>.mlp(inputSize: inputSize, hiddenSizes: Array(repeating: c.mlpWidth, count: c.mlpDepth),
                                              outputSize: 2, activation: act, seed: 0)
            out.append(Architecture(
                family: "mlp-\(act.rawValue)", label: "MLP 16-" + Array(repeating: "\(c.mlpWidth)", count: c.mlpDepth).joined(separator: "-") + "-2 (\(act.rawValue)); h after hidden layer 2",
                activation: act.rawValue, depth: c.mlpDepth, width: c.mlpWidth, split: 4, network: net))
        }
        let ch = c.cnnChannels
        let cnn = try ModelSpec(inputShape: [1, 4, 4], layers: [
            .conv2d(inChannels: 1, outChannels: ch, kernelSize: 3, padding: 1), .activation(.relu),
            .conv2d(inChannels: ch, outChannels: ch, kernelSize: 3, padding: 1), .activation(.relu),
            .flatten, .linear(inFeatures: ch * 16, outFeatures: c.cnnHidden), .activation(.relu),
            .linear(inFeatures: c.cnnHidden, outFeatures: 2),
        ]).makeNetwork(Double.self, seed: 0)
        out.append(Architecture(family: "cnn", label: "CNN [1,4,4] conv3×3 \(ch)-\(ch) (ReLU) → linear \(c.cnnHidden) → 2; h after the 2nd conv",
                                activation: "relu", depth: 4, width: ch, split: 4, network: cnn))
        let w = c.resnetWidth
        let block: LayerSpec = .residual([.conv2d(inChannels: w, outChannels: w, kernelSize: 3, padding: 1), .activation(.relu),
                                          .conv2d(inChannels: w, outChannels: w, kernelSize: 3, padding: 1)])
        let resnet = try ModelSpec(inputShape: [1, 4, 4], layers: [
            .conv2d(inChannels: 1, outChannels: w, kernelSize: 3, padding: 1), .activation(.relu),
            block, .activation(.relu), block, .activation(.relu), .globalAvgPool, .linear(inFeatures: w, outFeatures: 2),
        ]).makeNetwork(Double.self, seed: 0)
        out.append(Architecture(family: "resnet", label: "ResNet [1,4,4] conv3×3 \(w) ch, 2 residual blocks (ReLU), global pool → 2; h after block 1",
                                activation: "relu", depth: 5, width: w, split: 4, network: resnet))
        let t = c.transformer
        let transformer = try Network<Double>.transformerEncoder(
            sequenceLength: 4, tokenFeatures: 4, embedDimension: t.d, headCount: t.heads, feedForwardDimension: t.ff,
            blockCount: 2, outputSize: 2, seed: 0)
        out.append(Architecture(family: "transformer", label: "pre-LN transformer 4 tokens × 4 → D \(t.d), \(t.heads) heads, FF \(t.ff) (GELU), 2 blocks, mean pool → 2; h after block 1",
                                activation: "gelu", depth: 2, width: t.d, split: 3, network: transformer))
        return out
    }

    // MARK: Training one (architecture, α)

    struct Job: Sendable {
        var architecture: Architecture
        var scale: Double
    }

    struct Trace {
        var steps: [Int] = [], time: [Double] = [], dh: [Double] = [], dy: [Double] = []
        var dyVector: [[Double]] = [], alignment: [Double] = [], loss: [Double] = [], lambdaMax: [Double] = []
    }

    static func norm(_ v: [Double]) -> Double { v.reduce(0) { $0 + $1 * $1 }.squareRoot() }

    /// Trains one network and returns its records (one per recorded step, the last with the
    /// kernel change and the representation change).
    static func train(_ job: Job, config: Config) throws -> [[String: JSONValue]] {
        let started = DispatchTime.now().uptimeNanoseconds
        let (x, y) = data()
        let arch = job.architecture
        var network = try arch.network.scalingParameters(by: job.scale)
        let k = network.outputCount, P = network.parameterCount
        let target = [y[0, 0] - y[1, 0], y[0, 1] - y[1, 1]]
        var trace = Trace()
        var kernel0: Matrix<Double>? = nil, kernelT = Matrix<Double>(rows: 0, columns: 0)
        var h0: [Double] = [], hT: [Double] = []
        var time = 0.0
        var step = 0
        // The model is centered at initialization, f_θ(x) − f_θ₀(x) (Chizat, Oyallon & Bach 2019):
        // outputs start at 0 at every α, so a large α means a large Jacobian, not a large output.
        let f0 = try network.forward(x)
        while true {
            var f = try network.forward(x)
            for e in 0..<f.storage.count { f.storage[e] -= f0.storage[e] }
            let j = try network.jacobian(x)                       // (2k) × P, rows sample-major
            let kernel = try j.multiplied(by: j, transposeOther: true)
            var r = [Double](repeating: 0, count: 2 * k)
            var loss = 0.0
            for e in 0..<(2 * k) { r[e] = f.storage[e] - y.storage[e]; loss += 0.5 * r[e] * r[e] }
            let h = try network.representations(x, afterLayers: arch.split)
            let hd = h.columns
            let dhv = (0..<hd).map { h[0, $0] - h[1, $0] }
            let dyv = (0..<k).map { f[0, $0] - f[1, $0] }
            var kcopy = kernel
            let lambdaMax = try SymmetricEigen(destroying: &kcopy).values.max() ?? 0
            if kernel0 == nil { kernel0 = kernel; h0 = h.storage }
            trace.steps.append(step); trace.time.append(time); trace.dh.append(norm(dhv)); trace.dy.append(norm(dyv))
            trace.dyVector.append(dyv)
            trace.alignment.append((dyv[0] * target[0] + dyv[1] * target[1]) / max(norm(dyv) * norm(target), .leastNormalMagnitude))
            trace.loss.append(loss); trace.lambdaMax.append(lambdaMax)
            guard loss.isFinite, lambdaMax.isFinite else { throw PaperError.failed("\(arch.family) α = \(job.scale): diverged at step \(step)") }
            if loss <= lossTarget || step == config.maxSteps { kernelT = kernel; hT = h.storage; break }
            // ∇L = Jᵀ r; η = min(c/λ_max, δ‖θ‖/‖∇L‖).
            var g = [Double](repeating: 0, count: P)
            for row in 0..<(2 * k) where r[row] != 0 {
                let base = row * P, rr = r[row]
                for p in 0..<P { g[p] += j.storage[base + p] * rr }
            }
            let eta = min(stepFraction / lambdaMax, parameterStep * norm(network.parameters) / max(norm(g), .leastNormalMagnitude))
            for p in 0..<P { network.parameters[p] -= eta * g[p] }
            time += eta
            step += 1
        }
        // Relative kernel and representation changes.
        let k0 = kernel0!
        var diff = 0.0, base = 0.0
        for e in 0..<k0.storage.count { diff += pow(kernelT.storage[e] - k0.storage[e], 2); base += k0.storage[e] * k0.storage[e] }
        var hdiff = 0.0, hbase = 0.0
        for e in 0..<h0.count { hdiff += pow(hT[e] - h0[e], 2); hbase += h0[e] * h0[e] }
        // Records: `config.records` steps evenly spaced in the step index, plus the last.
        let n = trace.steps.count
        var picked = Set((0..<config.records).map { Int((Double($0) / Double(max(config.records - 1, 1)) * Double(n - 1)).rounded()) })
        picked.insert(n - 1)
        let seconds = CollectiveVariablesScan.seconds(since: started)
        var records: [[String: JSONValue]] = []
        for i in picked.sorted() {
            var rec: [String: JSONValue] = [
                "run": .string("\(arch.family)-alpha\(fmt(job.scale, 3))"), "family": .string(arch.family),
                "architecture": .string(arch.label), "activation": .string(arch.activation), "depth": .integer(arch.depth),
                "width": .integer(arch.width), "parameters": .integer(P), "scale": .number(job.scale),
                "step": .integer(trace.steps[i]), "time": .number(trace.time[i]), "dh": .number(trace.dh[i]),
                "dy": .number(trace.dy[i]), "dy_vector": .array(trace.dyVector[i].map { .number($0) }),
                "dy_target": .array(target.map { .number($0) }), "alignment": .number(trace.alignment[i]),
                "loss": .number(trace.loss[i]), "lambda_max": .number(trace.lambdaMax[i]),
            ]
            if i == n - 1 {
                rec["final"] = .bool(true)
                rec["steps"] = .integer(trace.steps[i])
                rec["converged"] = .bool(trace.loss[i] <= lossTarget)
                rec["kernel_change"] = .number((diff / base).squareRoot())
                rec["representation_change"] = .number((hdiff / hbase).squareRoot())
                rec["kernel_0"] = .array(k0.storage.map { .number($0) })
                rec["kernel_T"] = .array(kernelT.storage.map { .number($0) })
                rec["seconds"] = .number(seconds)
            }
            records.append(rec)
        }
        return records
    }

    // MARK: Run

    final class Results: @unchecked Sendable {
        let lock = NSLock()
        var records: [[[String: JSONValue]]?]
        var errors: [String] = []
        init(count: Int) { records = Array(repeating: nil, count: count) }
    }

    static func run(_ options: RunOptions) throws {
        if let part = options.part, part != "all" {
            throw PaperError.usage("\(name) has no parts (got '\(part)')")
        }
        let started = DispatchTime.now().uptimeNanoseconds
        let config = options.quick ? Config.quick : Config.full
        let archs = try architectures(config)
        // Heaviest first (the transformer and ResNet), interleaved over the workers.
        var jobs: [Job] = []
        for arch in archs.reversed() { for s in config.scales { jobs.append(Job(architecture: arch, scale: s)) } }
        let workers = ProcessInfo.processInfo.environment["PAPERS_WORKERS"].flatMap { Int($0) }
            ?? ProcessInfo.processInfo.activeProcessorCount
        if workers > 1 { try BLASThreads.set(1) }
        progress("universal-representations: \(archs.count) architectures × α ∈ \(config.scales.map { fmt($0, 3) }) on the two-point task, \(workers) workers")
        let results = Results(count: jobs.count)
        let jobList = jobs
        DispatchQueue.concurrentPerform(iterations: max(workers, 1)) { w in
            var i = w
            while i < jobList.count {
                do {
                    let r = try train(jobList[i], config: config)
                    let last = r.last!
                    results.lock.withLock { results.records[i] = r }
                    progress(String(format: "  %@ α = %@: %d steps, loss %.3g, t = %.4g, κ = ‖K_T − K_0‖/‖K_0‖ = %.3g, %.1f s",
                                    jobList[i].architecture.family, fmt(jobList[i].scale, 3), Int(value(last, "steps")),
                                    value(last, "loss"), value(last, "time"), value(last, "kernel_change"), value(last, "seconds")))
                } catch {
                    results.lock.withLock { results.errors.append("\(jobList[i].architecture.family) α = \(jobList[i].scale): \(error)") }
                }
                i += max(workers, 1)
            }
        }
        if !results.errors.isEmpty { throw PaperError.failed(results.errors.joined(separator: "; ")) }
        let writer = try JSONLinesWriter(url: options.output.appendingPathComponent(file), truncate: true)
        for r in results.records { for rec in r! { try writer.append(rec) } }
        let seconds = CollectiveVariablesScan.seconds(since: started)
        try summarize(options.output, command: options.command, seconds: seconds, quick: options.quick)
    }

    static func value(_ r: [String: JSONValue], _ key: String) -> Double { r[key]?.doubleValue ?? .nan }

    // MARK: Summary from the records

    /// One run read back from the records.
    struct Run {
        let name: String, family: String, architecture: String, activation: String
        let depth: Int, width: Int, parameters: Int, scale: Double
        let time: [Double], dh: [Double], dy: [Double], alignment: [Double], loss: [Double]
        let dy0: [Double], target: [Double]
        let kernelChange: Double, representationChange: Double, steps: Int, converged: Bool, seconds: Double

        init(_ records: [[String: JSONValue]]) {
            let rs = records.sorted { value($0, "step") < value($1, "step") }
            func s(_ key: String) -> String { rs[0][key]?.stringValue ?? "" }
            func vec(_ r: [String: JSONValue], _ key: String) -> [Double] {
                if case let .array(a)? = r[key] { return a.map { $0.doubleValue ?? .nan } }
                return []
            }
            name = s("run"); family = s("family"); architecture = s("architecture"); activation = s("activation")
            depth = Int(value(rs[0], "depth")); width = Int(value(rs[0], "width")); parameters = Int(value(rs[0], "parameters"))
            scale = value(rs[0], "scale")
            time = rs.map { value($0, "time") }; dh = rs.map { value($0, "dh") }; dy = rs.map { value($0, "dy") }
            alignment = rs.map { value($0, "alignment") }; loss = rs.map { value($0, "loss") }
            dy0 = vec(rs[0], "dy_vector"); target = vec(rs[0], "dy_target")
            let last = rs.last!
            kernelChange = value(last, "kernel_change"); representationChange = value(last, "representation_change")
            steps = Int(value(last, "steps")); converged = last["converged"]?.boolValue ?? false; seconds = value(last, "seconds")
        }
    }

    static func readRuns(_ directory: URL) throws -> [Run] {
        var order: [String] = [], groups: [String: [[String: JSONValue]]] = [:]
        for r in try readRecords(directory.appendingPathComponent(file)) {
            let name = r["run"]?.stringValue ?? "?"
            if groups[name] == nil { order.append(name) }
            groups[name, default: []].append(r)
        }
        return order.map { Run(groups[$0]!) }
    }

    /// A run beside its fitted theory curve.
    struct Comparison {
        let run: Run
        let fit: EffectiveTheory.Fit
        var deviation: Double { max(fit.deviationDh, fit.deviationDy) }
        /// ‖dh‖ at the first record where ‖dy‖ ≥ 5 % of ‖dy*‖, over ‖dh‖(0): how far the
        /// representations moved before the outputs did (network, fitted theory).
        var plateauGrowth: (network: Double, theory: Double) {
            let threshold = 0.05 * (run.target.reduce(0) { $0 + $1 * $1 }).squareRoot()
            func growth(_ dh: [Double], _ dy: [Double]) -> Double {
                guard let i = dy.firstIndex(where: { $0 >= threshold }) else { return .nan }
                return dh[i] / dh[0]
            }
            return (growth(run.dh, run.dy), growth(fit.dh, fit.dy))
        }
        /// t/t_end at the first record where ‖dy‖ ≥ ½‖dy*‖ (network, fitted theory): where the
        /// transition sits in the run.
        var halfTime: (network: Double, theory: Double) {
            let threshold = 0.5 * (run.target.reduce(0) { $0 + $1 * $1 }).squareRoot()
            let T = max(run.time.last!, .leastNormalMagnitude)
            func at(_ dy: [Double]) -> Double { dy.firstIndex { $0 >= threshold }.map { run.time[$0] / T } ?? .nan }
            return (at(run.dy), at(fit.dy))
        }
    }

    static func summarize(_ directory: URL, command: String, seconds: Double, quick: Bool) throws {
        let runs = try readRuns(directory)
        let comparisons = runs.map { run in
            Comparison(run: run, fit: EffectiveTheory.fit(time: run.time, dh: run.dh, dy: run.dy, alignment: run.alignment, dy0: run.dy0, target: run.target))
        }
        let families = comparisons.map(\.run.family).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        let scales = Array(Set(runs.map(\.scale))).sorted()
        let (u1, u1Evidence) = verdictU1(comparisons, families: families, scales: scales)
        let (u2, u2Evidence) = verdictU2(runs, families: families, scales: scales)
        let claims = [
            Claim(id: "U1", statement: "The representation distance ‖dh‖ and output distance ‖dy‖ of a pair of inputs follow the effective theory's curve across architectures (MLP tanh/ReLU/GELU, CNN, ResNet, transformer), at small and large initialization scale",
                  holds: u1, evidence: u1Evidence),
            Claim(id: "U2", statement: "Small initialization is rich (representations and NTK move: ‖K_T − K_0‖_F/‖K_0‖_F large), large initialization is lazy (NTK nearly static); the relative kernel change decreases with the initialization scale",
                  holds: u2, evidence: u2Evidence),
        ]
        let summaries = comparisons.map { c -> RunSummary in
            let r = c.run
            return RunSummary(name: r.name, architecture: r.architecture, depth: r.depth, width: r.width, activation: r.activation,
                              optimizer: "full-batch GD, η_t = min(\(stepFraction)/λ_max(K_t), \(parameterStep)‖θ‖/‖∇L‖), α = \(fmt(r.scale, 3))",
                              parameters: r.parameters, kernelDimension: 4, route: "exact (dense J Jᵀ of the two inputs)",
                              entropyStart: .nan, entropyEnd: .nan, entropyMin: .nan, traceStart: .nan, traceEnd: .nan,
                              lossStart: r.loss.first!, lossEnd: r.loss.last!, records: file)
        }
        var fits: [JSONValue] = []
        for c in comparisons {
            fits.append(.object([
                "run": .string(c.run.name), "family": .string(c.run.family), "scale": .number(c.run.scale),
                "a": .number(c.fit.a), "b": .number(c.fit.b), "deviation_dh": .number(c.fit.deviationDh),
                "deviation_dy": .number(c.fit.deviationDy), "deviation_alignment": .number(c.fit.deviationAlignment),
                "plateau_growth_network": .number(c.plateauGrowth.network), "plateau_growth_theory": .number(c.plateauGrowth.theory),
                "half_time_network": .number(c.halfTime.network), "half_time_theory": .number(c.halfTime.theory),
                "kernel_change": .number(c.run.kernelChange), "representation_change": .number(c.run.representationChange),
                "steps": .integer(c.run.steps), "converged": .bool(c.run.converged), "seconds": .number(c.run.seconds),
                "flow_time": .number(c.run.time.last!),
            ]))
        }
        try writeJSON(.object(["fits": .array(fits)]), to: directory.appendingPathComponent("fits.json"))
        try PaperSummary(paper: "van Rossem & Saxe, \"When Representations Align: Universality in Representation Learning Dynamics\", ICML 2024, arXiv:2402.09142",
                         command: command, seconds: seconds, quick: quick, claims: claims, runs: summaries)
            .write(to: directory.appendingPathComponent("summary.json"))
        try UniversalRepresentationsFigures.write(comparisons, families: families, scales: scales, output: directory)
        for c in claims { progress("\(c.id): \(c.holds.map { $0 ? "holds" : "does not hold" } ?? "not measured") — \(c.evidence)") }
    }

    static func writeJSON(_ value: JSONValue, to url: URL) throws {
        let object = try JSONSerialization.jsonObject(with: Data(value.encoded().utf8))
        var data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        data.append(UInt8(ascii: "\n"))
        try data.write(to: url, options: .atomic)
    }

    /// U1 (README, "Verdict rules", fixed before the runs): D = max(D_h, D_y) ≤ 0.1 for every
    /// architecture at the smallest and the largest α, where D_q = RMS_t(q_net − q_theory) /
    /// max(range of q_theory, 0.1 · max q_theory) over the recorded steps.
    static func verdictU1(_ cs: [Comparison], families: [String], scales: [Double]) -> (Bool?, String) {
        guard let lo = scales.first, let hi = scales.last, !cs.isEmpty else { return (nil, "no runs") }
        var ok = true
        var parts: [String] = []
        for f in families {
            let mine = cs.filter { $0.run.family == f }.sorted { $0.run.scale < $1.run.scale }
            let ends = mine.filter { $0.run.scale == lo || $0.run.scale == hi }
            if ends.contains(where: { !($0.deviation <= u1Threshold) }) { ok = false }
            parts.append("\(f): " + mine.map { "α \(fmt($0.run.scale, 2)) D = \(fmt($0.deviation, 2)) (h \(fmt($0.fit.deviationDh, 2)), y \(fmt($0.fit.deviationDy, 2)))" }.joined(separator: ", ")
                         + "; at α = \(fmt(mine[0].run.scale, 2)) ‖dy‖ reaches ½‖dy*‖ at t/t_end = \(fmt(mine[0].halfTime.network, 3)) (theory \(fmt(mine[0].halfTime.theory, 3))), ‖dh‖ grows ×\(fmt(mine[0].plateauGrowth.network, 3)) before ‖dy‖ reaches 5 % (theory ×\(fmt(mine[0].plateauGrowth.theory, 3)))")
        }
        let passing = families.filter { f in
            cs.filter { $0.run.family == f && ($0.run.scale == lo || $0.run.scale == hi) }.allSatisfy { $0.deviation <= u1Threshold }
        }
        let e = "Normalized deviation D = max(D_h, D_y) of each run from its fitted theory curve (rates a, b fitted per run, initial values the network's): "
            + parts.joined(separator: "; ")
            + ". Rule: D ≤ \(u1Threshold) at α = \(fmt(lo, 2)) and α = \(fmt(hi, 2)) in every architecture → \(passing.count) of \(families.count) pass (\(passing.joined(separator: ", ")))."
        return (ok, e)
    }

    /// U2 (README, "Verdict rules", fixed before the runs): for every architecture,
    /// κ(α) = ‖K_T − K_0‖_F/‖K_0‖_F is non-increasing along the α sweep and κ(α_min)/κ(α_max) ≥ 10.
    static func verdictU2(_ runs: [Run], families: [String], scales: [Double]) -> (Bool?, String) {
        guard !runs.isEmpty, scales.count >= 2 else { return (nil, "no sweep") }
        var ok = true
        var parts: [String] = []
        var passing = 0
        for f in families {
            let mine = runs.filter { $0.family == f }.sorted { $0.scale < $1.scale }
            let kappa = mine.map(\.kernelChange)
            let monotone = zip(kappa, kappa.dropFirst()).allSatisfy { $1 <= $0 }
            let contrast = kappa.first! / kappa.last!
            let pass = monotone && contrast >= u2Contrast
            if pass { passing += 1 } else { ok = false }
            parts.append("\(f): κ = " + mine.map { "\(fmt($0.kernelChange, 2))" }.joined(separator: ", ")
                         + " (‖ΔH‖/‖H₀‖ = " + mine.map { fmt($0.representationChange, 2) }.joined(separator: ", ")
                         + "), contrast \(fmt(contrast, 3)), monotone \(monotone)")
        }
        let e = "Over α = " + scales.map { fmt($0, 2) }.joined(separator: ", ") + " (exact 4 × 4 NTK of the two training inputs at the start and end): "
            + parts.joined(separator: "; ")
            + ". Rule: κ non-increasing in α and κ(α_min)/κ(α_max) ≥ \(fmt(u2Contrast, 2)) in every architecture → \(passing) of \(families.count) pass."
        return (ok, e)
    }
}

/// The two-point effective theory: u = ‖dh‖², dy ∈ R^k, target dy*, effective rates a, b:
///   du/dt = −2a dyᵀ(dy − dy*),   d(dy)/dt = −b·u·(dy − dy*) − a·(dyᵀ(dy − dy*)/u)·dy.
/// (From L = ¼‖dy − dy*‖² + ‖ȳ − ȳ*‖² for dh = D_h dx, dy = D_y dh, gradient flow τ_h Ḋ_h = −∂L/∂D_h,
/// τ_y Ḋ_y = −∂L/∂D_y, D_y restricted to the pair's direction: a = ‖dx‖²/(2τ_h), b = 1/(2τ_y).)
enum EffectiveTheory {
    /// (u = ‖dh‖², dy) for two outputs (k = 2, the task's).
    struct State { var u: Double; var y: SIMD2<Double> }

    @inline(__always)
    static func derivative(_ s: State, target: SIMD2<Double>, a: Double, b: Double) -> State {
        let r = s.y - target
        let yr = (s.y * r).sum()
        let u = max(s.u, 1e-300)
        return State(u: -2 * a * yr, y: -b * u * r - (a * yr / u) * s.y)
    }

    /// Integrates from `start` through the times `time` (RK4, substeps h ≤ 0.2/rate by the local
    /// rate, at most `maxSubsteps` in all; past the budget the remaining intervals are single
    /// steps, which a stiff bad candidate turns into non-finite values and the fit rejects);
    /// returns (‖dh‖, ‖dy‖, alignment) at each time.
    static func integrate(_ start: State, target: SIMD2<Double>, a: Double, b: Double, time: [Double],
                          maxSubsteps: Int = 40_000) -> (dh: [Double], dy: [Double], w: [Double]) {
        var s = start
        var out: (dh: [Double], dy: [Double], w: [Double]) = ([], [], [])
        out.dh.reserveCapacity(time.count); out.dy.reserveCapacity(time.count); out.w.reserveCapacity(time.count)
        let tn = (target * target).sum().squareRoot()
        var budget = maxSubsteps
        var t = time.first ?? 0
        for targetTime in time {
            while t < targetTime {
                let yn = (s.y * s.y).sum().squareRoot()
                let rate = b * max(s.u, 0) + a * (yn * yn + yn * tn) / max(s.u, 1e-300) + 1e-300
                var h = min(targetTime - t, 0.2 / rate)
                if budget <= 0 { h = targetTime - t } else { budget -= 1 }
                let k1 = derivative(s, target: target, a: a, b: b)
                let k2 = derivative(State(u: s.u + h / 2 * k1.u, y: s.y + h / 2 * k1.y), target: target, a: a, b: b)
                let k3 = derivative(State(u: s.u + h / 2 * k2.u, y: s.y + h / 2 * k2.y), target: target, a: a, b: b)
                let k4 = derivative(State(u: s.u + h * k3.u, y: s.y + h * k3.y), target: target, a: a, b: b)
                s = State(u: s.u + h / 6 * (k1.u + 2 * k2.u + 2 * k3.u + k4.u), y: s.y + h / 6 * (k1.y + 2 * k2.y + 2 * k3.y + k4.y))
                if !s.u.isFinite || !s.y.x.isFinite || !s.y.y.isFinite {
                    s = State(u: .nan, y: SIMD2(.nan, .nan)); t = targetTime; break
                }
                s.u = max(s.u, 0)
                t += h
            }
            let yn = (s.y * s.y).sum().squareRoot()
            out.dh.append(max(s.u, 0).squareRoot()); out.dy.append(yn)
            out.w.append((s.y * target).sum() / max(yn * tn, .leastNormalMagnitude))
        }
        return out
    }

    struct Fit {
        var a: Double, b: Double
        var dh: [Double], dy: [Double], w: [Double]
        var deviationDh: Double, deviationDy: Double, deviationAlignment: Double
    }

    /// RMS(net − theory) / max(range of the theory curve, 0.1 · its largest value).
    static func deviation(_ net: [Double], _ theory: [Double]) -> Double {
        guard theory.allSatisfy(\.isFinite), let hi = theory.max(), let lo = theory.min() else { return .infinity }
        let scale = max(hi - lo, 0.1 * abs(hi), .leastNormalMagnitude)
        let ms = zip(net, theory).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } / Double(net.count)
        return ms.squareRoot() / scale
    }

    /// Fits log a, log b (grid over 10⁻⁶…10⁶ of the reference rates, then Nelder–Mead) to
    /// minimize D_h² + D_y² with the initial state the network's own.
    static func fit(time: [Double], dh: [Double], dy: [Double], alignment: [Double], dy0: [Double], target: [Double]) -> Fit {
        let start = State(u: dh[0] * dh[0], y: SIMD2(dy0[0], dy0[1]))
        let target = SIMD2(target[0], target[1])
        let T = max(time.last ?? 1, .leastNormalMagnitude)
        let uScale = max(dh.map { $0 * $0 }.max() ?? 1, .leastNormalMagnitude)
        let yScale = max((target * target).sum().squareRoot(), dy.max() ?? 0, .leastNormalMagnitude)
        let aRef = uScale / (T * yScale * yScale), bRef = 1 / (T * uScale)
        func objective(_ p: [Double]) -> Double {
            let c = integrate(start, target: target, a: aRef * exp(p[0]), b: bRef * exp(p[1]), time: time, maxSubsteps: 10_000)
            let d1 = deviation(dh, c.dh), d2 = deviation(dy, c.dy)
            let v = d1 * d1 + d2 * d2
            return v.isFinite ? v : .infinity
        }
        var best = [0.0, 0.0], bestValue = Double.infinity
        let grid = stride(from: -14.0, through: 14.0, by: 1.4).map { $0 }
        for la in grid { for lb in grid {
            let v = objective([la, lb])
            if v < bestValue { bestValue = v; best = [la, lb] }
        } }
        best = nelderMead(objective, start: best, step: 0.7, iterations: 160)
        let a = aRef * exp(best[0]), b = bRef * exp(best[1])
        let c = integrate(start, target: target, a: a, b: b, time: time)
        return Fit(a: a, b: b, dh: c.dh, dy: c.dy, w: c.w, deviationDh: deviation(dh, c.dh), deviationDy: deviation(dy, c.dy),
                   deviationAlignment: (zip(alignment, c.w).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } / Double(max(c.w.count, 1))).squareRoot())
    }

    static func nelderMead(_ f: ([Double]) -> Double, start: [Double], step: Double, iterations: Int) -> [Double] {
        let n = start.count
        var simplex: [[Double]] = [start]
        for i in 0..<n { var p = start; p[i] += step; simplex.append(p) }
        var values = simplex.map(f)
        for _ in 0..<iterations {
            let order = values.indices.sorted { values[$0] < values[$1] }
            simplex = order.map { simplex[$0] }; values = order.map { values[$0] }
            let centroid = (0..<n).map { d in simplex[0..<n].reduce(0) { $0 + $1[d] } / Double(n) }
            func along(_ t: Double) -> [Double] { (0..<n).map { centroid[$0] + t * (simplex[n][$0] - centroid[$0]) } }
            let reflected = along(-1), fr = f(reflected)
            if fr < values[0] {
                let expanded = along(-2), fe = f(expanded)
                if fe < fr { simplex[n] = expanded; values[n] = fe } else { simplex[n] = reflected; values[n] = fr }
            } else if fr < values[n - 1] {
                simplex[n] = reflected; values[n] = fr
            } else {
                let contracted = along(0.5), fc = f(contracted)
                if fc < values[n] { simplex[n] = contracted; values[n] = fc } else {
                    for i in 1...n { simplex[i] = (0..<n).map { simplex[0][$0] + 0.5 * (simplex[i][$0] - simplex[0][$0]) }; values[i] = f(simplex[i]) }
                }
            }
        }
        return simplex[values.indices.min { values[$0] < values[$1] }!]
    }
}

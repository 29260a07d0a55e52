import Foundation
import NTKLinearAlgebra
import NTKNetworks

/// Predicts the time and memory of each `SpectralRoute` for one request and picks the
/// cheapest that fits the memory budget (`auto`), or checks that a forced route fits.
///
/// The model is flop and byte counts times this machine's measured rates (`MachineRates`):
/// - network passes: a forward pass of n examples is 2·n·MA flops (MA: multiply-adds per
///   example, weight-linear layers counted exactly (`WeightLinearShape.multiplyAdds`), other
///   layers by their parameter count per token), run at `networkEfficiency` of the GEMM rate;
/// - matrix-free: setup (one forward and one k-wide VJP, ≈ (1 + 2k) forward passes, for the
///   structured operator's cached signals) plus `expectedMatvecs` products of ≈ 2 forward
///   passes (structured) or 4 (JVP∘VJP) each;
/// - the dense kernel: per Gram-supported layer (N·L)²·O + (n·L)²·E flops (+ N²L² for the
///   positional sum of a convolution) at `gramEfficiency` of the double GEMM rate, else N
///   kernel columns through the double operator;
/// - `dense` adds LAPACK's tridiagonal reduction, (4/3)·N³ flops at `eigenEfficiency` of the
///   double GEMM rate (measured on this project's machines: 24–33 GFLOP/s against a dgemm peak
///   of 80–90, Benchmarks/results/exact-vs-nt.md);
/// - `kernel-lanczos` adds `expectedMatvecs` dense products, each streaming the 8·N² bytes of K
///   once per vector at the measured memory bandwidth.
/// Full reorthogonalization (≈ 30 basis vectors read twice per product) and the pilot's
/// Rayleigh–Ritz (≈ 8·M²·N GEMM flops and three M³ eigenproblems for M = 240 pilot vectors,
/// between the 120 of a spectrum with dominant modes and the 480 of a spread one) are added
/// to both Lanczos routes. Memory: 8·N² bytes for K plus the Gram factors; the matrix-free cache of
/// `StructuredCachePlan` (or one batch's forward cache for JVP∘VJP) plus the Lanczos bases.
/// The predictions are for ordering routes, not for promises; `auto` prefers `dense` (exact)
/// while its prediction is within `denseMargin` of the fastest.
public struct RoutePlanner: Sendable {
    public var memoryBudgetBytes: Int
    /// NTK products an estimate to rtol 1% typically takes (measured 168–252 on MLP NTKs of
    /// N = 1000–81920, README and Benchmarks/README.md).
    public var expectedMatvecs: Int = 220
    public var networkEfficiency = 0.5
    public var gramEfficiency = 0.7
    public var eigenEfficiency = 0.3
    public var denseMargin = 1.2
    public var rates: MachineRates

    public init(memoryBudgetBytes: Int = RoutePlanner.defaultMemoryBudget, rates: MachineRates = .measured()) {
        self.memoryBudgetBytes = memoryBudgetBytes
        self.rates = rates
    }

    /// Half the physical memory, at most 8 GiB.
    public static var defaultMemoryBudget: Int {
        Int(min(ProcessInfo.processInfo.physicalMemory / 2, 8 << 30))
    }

    /// One route's predicted cost.
    public struct Prediction: Sendable, Equatable {
        public var route: SpectralRoute
        public var seconds: Double
        public var bytes: Int
        public var fits: Bool
    }

    /// The chosen route, why, and every prediction.
    public struct Plan: Sendable {
        public var route: SpectralRoute
        public var reason: String
        public var predictions: [Prediction]
        public var chosen: Prediction { predictions.first { $0.route == route }! }
    }

    /// What the cost model needs to know about a network.
    struct Workload {
        var examples: Int
        var outputs: Int
        var dimension: Int
        var multiplyAdds: Double
        /// Per Gram-supported layer: (channels O, patch length E, positions L); nil when some
        /// parameterized layer has no Gram rule (the kernel is then built from columns).
        var gram: [(channels: Int, patch: Int, positions: Int)]?
        var structured: Bool
        var matrixFreeCacheBytes: Int
        var networkScalarBytes: Int
    }

    static func workload<Scalar: BLASScalar>(
        network: Network<Scalar>, examples: Int, kind: KernelKind, batchSize: Int, cacheBudgetBytes: Int
    ) -> Workload {
        var multiplyAdds = 0.0
        var gram: [(channels: Int, patch: Int, positions: Int)]? = []
        for (index, layer) in network.layers.enumerated() {
            if let shape = network.weightLinear(index)?.shape {
                multiplyAdds += Double(shape.multiplyAdds)
                gram?.append((shape.channels, shape.patchLength, shape.positions))
            } else if layer.parameterCount > 0 {
                let tokens = layer.inputShape.count == 2 ? layer.inputShape[0] : 1
                multiplyAdds += Double(layer.parameterCount * tokens)
                gram = nil
            } else {
                multiplyAdds += Double(layer.outputSize)
            }
        }
        let plan = StructuredCachePlan(network: network, examples: examples, batchSize: batchSize, budgetBytes: cacheBudgetBytes)
        let structured = plan.storage != .fallbackJVPVJP
        let batch = min(max(batchSize, 1), max(examples, 1))
        return Workload(
            examples: examples, outputs: network.outputCount,
            dimension: kind.dimension(examples: examples, outputs: network.outputCount),
            multiplyAdds: max(multiplyAdds, 1), gram: gram, structured: structured,
            matrixFreeCacheBytes: structured ? plan.bytesHeld : EmpiricalNTK<Scalar>.cacheBytes(network, batch: batch),
            networkScalarBytes: MemoryLayout<Scalar>.stride)
    }

    /// Predictions for every concrete route.
    func predictions(_ w: Workload) -> [Prediction] {
        let n = Double(w.examples), k = Double(w.outputs), big = Double(w.dimension)
        let networkRate = networkEfficiency * (w.networkScalarBytes == 4 ? rates.floatGEMM : rates.doubleGEMM)
        let forward = 2 * n * w.multiplyAdds / networkRate
        let doubleForward = 2 * n * w.multiplyAdds / (networkEfficiency * rates.doubleGEMM)
        let matvecs = Double(expectedMatvecs)
        // Lanczos bases: pilot runs of 60, 60, 120, 240 steps at most, 64 deflation vectors,
        // 4 complement probes of 30 steps.
        let basisBytes = Double(60 + 60 + 120 + 240 + 64 + 4 * 30) * big * 8
        // Full reorthogonalization of the complement probes (≈ 30 basis vectors read twice per
        // product), and the pilot's Rayleigh–Ritz on the union of its bases, redone as the pilot
        // grows (measured to dominate small kernels: 0.3–0.4 s of a 0.9 s kernel-Lanczos estimate
        // at N = 1000 when the pilot grew to M = 480 vectors; a spectrum with dominant modes stops
        // at M = 120): ≈ 8·M²·N GEMM flops to whiten and rotate, and three eigenproblems with
        // vectors, ≈ 6·M³ each, at the eigensolver's rate, for the midpoint M = 240.
        let pilotVectors = 240.0
        let pilotGEMM = 8 * pilotVectors * pilotVectors * big + 2 * (60.0 * 60 + 60 * 60 + 120 * 120 + 240 * 240) * big
        let pilotEigen = 3 * 6 * pilotVectors * pilotVectors * pilotVectors
        let orthogonalization = matvecs * 2 * 30 * big * 8 / rates.memoryBandwidth
            + pilotGEMM / (networkEfficiency * rates.doubleGEMM) + pilotEigen / (eigenEfficiency * rates.doubleGEMM)

        let setup = w.structured ? (1 + 2 * k) * forward : forward
        let matrixFree = setup + matvecs * (w.structured ? 2 : 4) * forward + orthogonalization
        let matrixFreeBytes = Double(w.matrixFreeCacheBytes) + basisBytes

        var kernelSeconds: Double
        var factorBytes = 0.0
        if let gram = w.gram {
            var flops = (1 + 2 * k) * 2 * n * w.multiplyAdds
            for layer in gram {
                let l = Double(layer.positions)
                flops += big * l * big * l * Double(layer.channels) + n * l * n * l * Double(layer.patch)
                if layer.positions > 1 { flops += big * big * l * l }
                factorBytes += 8 * (big * l * Double(layer.channels) + n * l * Double(layer.patch))
            }
            factorBytes += 8 * min(512, big) * big
            kernelSeconds = flops / (gramEfficiency * rates.doubleGEMM)
        } else {
            kernelSeconds = big * 4 * doubleForward / 64 + (1 + 2 * k) * doubleForward
        }
        let kernelBytes = 8 * big * big
        let eigen = 4.0 / 3.0 * big * big * big / (eigenEfficiency * rates.doubleGEMM)
        // Each product streams K once per vector: OpenBLAS packs the N×N operand of a thin GEMM
        // (s ≤ 4) instead of reusing it across the block (measured: `dgemm_itcopy` 56% of a
        // kernel-Lanczos estimate at N = 10240, ≈ 30 ms per product).
        let denseProducts = matvecs * (8 * big * big) / rates.memoryBandwidth

        func prediction(_ route: SpectralRoute, _ seconds: Double, _ bytes: Double) -> Prediction {
            let clamped = bytes.isFinite && bytes < Double(Int.max / 2) ? Int(bytes) : Int.max
            return Prediction(route: route, seconds: seconds, bytes: clamped, fits: clamped <= memoryBudgetBytes)
        }
        return [
            prediction(.dense, kernelSeconds + eigen, kernelBytes + factorBytes),
            prediction(.kernelLanczos, kernelSeconds + denseProducts + orthogonalization,
                       kernelBytes + factorBytes + basisBytes),
            prediction(.matrixFree, matrixFree, matrixFreeBytes),
        ]
    }

    /// The plan for `requested` (`auto` chooses).
    /// - Throws: `NTKError.tooLarge` when the requested route, or every route under `auto`,
    ///   needs more than `memoryBudgetBytes`.
    public func plan<Scalar: BLASScalar>(
        requested: SpectralRoute, network: Network<Scalar>, examples: Int, kind: KernelKind, batchSize: Int,
        cacheBudgetBytes: Int
    ) throws -> Plan {
        let w = Self.workload(network: network, examples: examples, kind: kind, batchSize: batchSize,
                              cacheBudgetBytes: cacheBudgetBytes)
        let all = predictions(w)
        func describe(_ p: Prediction) -> String {
            "\(p.route.rawValue) " + String(format: "%.3g s", p.seconds) + ", \(Self.bytesDescription(p.bytes))"
        }
        if requested != .auto {
            let p = all.first { $0.route == requested }!
            guard p.fits else {
                throw NTKError.tooLarge("route \(requested.rawValue) at N = \(w.dimension)", needed: p.bytes,
                                        budget: memoryBudgetBytes)
            }
            return Plan(route: requested, reason: "requested (predicted \(describe(p)))", predictions: all)
        }
        let fitting = all.filter(\.fits)
        guard let fastest = fitting.min(by: { $0.seconds < $1.seconds }) else {
            let smallest = all.min { $0.bytes < $1.bytes }!
            throw NTKError.tooLarge("every route at N = \(w.dimension) (the smallest, \(smallest.route.rawValue),)",
                                    needed: smallest.bytes, budget: memoryBudgetBytes)
        }
        var chosen = fastest
        if let dense = fitting.first(where: { $0.route == .dense }), dense.seconds <= denseMargin * fastest.seconds {
            chosen = dense
        }
        let others = all.filter { $0.route != chosen.route }.map { p in
            p.fits ? describe(p) : "\(p.route.rawValue) needs \(Self.bytesDescription(p.bytes)) > budget"
        }
        let reason = "predicted \(describe(chosen)); " + others.joined(separator: "; ")
        return Plan(route: chosen.route, reason: reason, predictions: all)
    }

    /// "1.25 GiB", "312.0 MiB", "20.0 KiB", "512 B" (`SizeLimit.bytesDescription`).
    public static func bytesDescription(_ bytes: Int) -> String { SizeLimit.bytesDescription(bytes) }
}

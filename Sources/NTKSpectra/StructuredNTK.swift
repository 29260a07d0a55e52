import Foundation
import NTKLinearAlgebra
import NTKNetworks

/// The empirical NTK K = J Jᵀ as a matrix-free operator built from cached backprop signals
/// (the structured path), with exactly the interface of `EmpiricalNTK`.
///
/// For a top-level layer l with parameters θ_l and δ_{ic,l} = ∂f_c(x_i)/∂y_{i,l} (cached per
/// parameter state, see `Network.backpropSignals`), ∂f_c(x_i)/∂θ_l = δ_{ic,l}ᵀ ∂y_{i,l}/∂θ_l.
/// A block product U = K V of s vectors v_t is then, per batch:
/// - pass 1: u_l[j, t, :] = Σ_c v_{t,(j,c)} δ_{jc,l} (a small GEMM (s×k)(k×out_l) per
///   example) and G_l += VJP_l(u_l), layer l's parameter-only VJP (G is s × P);
/// - pass 2: ẏ_l = JVP_l(G_l), layer l's parameter-only JVP, and
///   (K v_t)_{(i,c)} = Σ_l ⟨δ_{ic,l}, ẏ_l[i, t, :]⟩ (a GEMM (s×out_l)(out_l×k) per example).
/// For a dense layer this is G_l = Σ_j u_j a_jᵀ then δᵀ(G_l a_i + g_l): two GEMMs per layer
/// instead of the four of JVP∘VJP (no input-tangent or input-cotangent GEMMs) and no
/// propagation through activations. A `Linear` over flat inputs takes a BLAS-only fast path
/// (per vector one GEMM straight into / out of G, the bias as a GEMV / rank-one GEMM); every
/// other layer calls its own `vjp`/`jvp` with parameters only — composite layers (`Residual`)
/// run their own internal passes — so every network is supported. The idea is the "structured derivatives" NTK of
/// Novak, Sohl-Dickstein & Schoenholz 2022 (arXiv:2206.08720), here in its matrix-free form.
///
/// The `traced` kernel uses s·k vectors (t, c0), vector (t, c0) carrying v_t on output c0 only,
/// exactly as `EmpiricalNTK`. What is kept between products (forward caches and δ's, δ's only,
/// or nothing with the product delegated to `EmpiricalNTK`) is chosen by `StructuredCachePlan`
/// from `cacheBudgetBytes` and reported in `plan`.
///
/// - Complexity: per block product, for a dense layer in→out, 4·n·w·in·out flops for the two
///   GEMMs plus 4·n·w·k·out for the δ contractions (w = s, or s·k when traced), against
///   8·n·w·in·out for JVP∘VJP; setup one forward and one k-wide VJP per batch.
public final class StructuredNTK<Scalar: BLASScalar>: @unchecked Sendable {
    public let network: Network<Scalar>
    /// Inputs, n × inputSize, in the network's precision.
    public let inputs: Matrix<Scalar>
    public let kind: KernelKind
    public let batchSize: Int
    /// What is cached, and why.
    public let plan: StructuredCachePlan

    /// Work done so far (including setup: forward passes and δ VJPs).
    public var cost: NTKCost {
        var total = ownCost
        total.forwardCalls += batches.forwardCalls
        return fallback.map { total + $0.cost } ?? total
    }
    var ownCost = NTKCost()

    public var examples: Int { inputs.rows }
    public var outputs: Int { network.outputCount }
    public var dimension: Int { kind.dimension(examples: examples, outputs: outputs) }
    public var batchCount: Int { batches.count }
    /// Whether forward caches of all batches are kept between products.
    public var cachesAllBatches: Bool { plan.storage == .cacheAll }

    let fallback: EmpiricalNTK<Scalar>?
    /// The batches and their forward caches (`ForwardBatches`, shared with `EmpiricalNTK`).
    let batches: ForwardBatches<Scalar>
    private var signals: [BackpropSignals<Scalar>] = []
    let layerIndices: [Int]
    private let layerOffsets: [Int]
    let layerSizes: [Int]
    private let maxLayerSize: Int
    /// Per slot, the dense rule of a weight-linear layer with one position (`Linear` over flat
    /// inputs; nil for any other layer).
    private let denseRules: [DenseRule?]
    /// A vector of ones (batchSize) for the bias sums as BLAS calls.
    private var ones = Buffer()
    private var layerWorkspaces: [Int: BlockWorkspace<Scalar>] = [:]
    // Reused buffers (grown on demand, never shrunk): G (w × P), cotangents and products
    // ([batch, w, k]), per-layer u / ẏ ([batch, w, max out_l]).
    private var parameterBlock = Buffer()
    private var cotangentBlock = Buffer()
    private var productBlock = Buffer()
    private var layerBlock = Buffer()

    /// y = c_w W a + c_b b: the layer's sizes and multipliers.
    private struct DenseRule {
        var inputs: Int
        var outputs: Int
        var hasBias: Bool
        var weight: Scalar
        var bias: Scalar
    }

    private struct Buffer {
        var pointer: UnsafeMutablePointer<Scalar>? = nil
        var capacity = 0

        mutating func reserve(_ count: Int) -> UnsafeMutablePointer<Scalar> {
            if let pointer, capacity >= count { return pointer }
            pointer?.deallocate()
            let fresh = UnsafeMutablePointer<Scalar>.allocate(capacity: max(count, 1))
            fresh.initialize(repeating: 0, count: max(count, 1))
            pointer = fresh
            capacity = max(count, 1)
            return fresh
        }

        func release() { pointer?.deallocate() }
    }

    /// - Parameters:
    ///   - network: the network at the parameter state to measure (caches are tied to it:
    ///     call `invalidateCaches()` after changing its parameters).
    ///   - inputs: n × inputSize; must be finite.
    ///   - cacheBudgetBytes: memory for forward caches and δ's (default 1 GiB), see `StructuredCachePlan`.
    /// - Throws: `NTKError` for mismatched or non-finite inputs or a non-positive batch size.
    public convenience init(network: Network<Scalar>, inputs: Matrix<Scalar>, kind: KernelKind = .full,
                            batchSize: Int = 256, cacheBudgetBytes: Int = 1 << 30) throws {
        try KernelBlockLayout.checkInputs(network: network, inputs: inputs, batchSize: batchSize)
        try self.init(network: network, inputs: inputs, kind: kind, batchSize: batchSize,
                      plan: StructuredCachePlan(network: network, examples: inputs.rows, batchSize: batchSize,
                                                budgetBytes: cacheBudgetBytes))
    }

    /// The operator under a plan already made (`NTKOperatorChoice.makeOperator` decides once and
    /// passes its plan). Inputs must have passed `KernelBlockLayout.checkInputs`.
    init(network: Network<Scalar>, inputs: Matrix<Scalar>, kind: KernelKind, batchSize: Int,
         plan: StructuredCachePlan) throws {
        self.network = network
        self.inputs = inputs
        self.kind = kind
        self.batchSize = min(batchSize, inputs.rows)
        self.plan = plan
        batches = ForwardBatches(network: network, inputs: inputs, batchSize: batchSize, keepAll: plan.storage == .cacheAll)
        layerIndices = network.parameterizedLayerIndices
        layerOffsets = layerIndices.map { network.body.parameterOffsets[$0] }
        layerSizes = layerIndices.map { network.layers[$0].outputSize }
        maxLayerSize = layerSizes.max() ?? 0
        denseRules = layerIndices.map { l in
            guard let shape = network.weightLinear(l)?.shape, shape.positions == 1 else { return nil }
            return DenseRule(inputs: shape.patchLength, outputs: shape.channels, hasBias: shape.hasBias,
                             weight: Scalar(shape.weightMultiplier), bias: Scalar(shape.biasMultiplier))
        }
        if plan.storage == .fallbackJVPVJP {
            fallback = try EmpiricalNTK(network: network, inputs: inputs, kind: kind, batchSize: batchSize,
                                        cacheBudgetBytes: plan.budgetBytes)
            return
        }
        fallback = nil
        signals = (0..<batches.count).map { _ in network.makeBackpropSignals(capacity: self.batchSize) }
        try computeSignals()
    }

    deinit {
        parameterBlock.release(); cotangentBlock.release(); productBlock.release(); layerBlock.release(); ones.release()
    }

    /// Recomputes forward caches and δ's (after the network's parameters changed).
    public func invalidateCaches() throws {
        if let fallback { try fallback.invalidateCaches(); return }
        try computeSignals()
    }

    /// One forward and one k-wide VJP per batch.
    private func computeSignals() throws {
        let workspace = network.makeBlockWorkspace(batch: batchSize, block: outputs)
        for b in 0..<batchCount {
            let cache = try batches.refresh(b)
            try network.backpropSignals(cache: cache, workspace: workspace, into: signals[b])
            ownCost.vjpCalls += 1
        }
        ownCost.dataPasses += 1
    }

    func batchRange(_ b: Int) -> (start: Int, count: Int) { batches.range(b) }

    /// The forward cache of batch b (recomputed into the scratch cache unless all are kept).
    func cache(_ b: Int) throws -> ForwardCache<Scalar> { try batches.cache(b) }

    private func layerWorkspace(block: Int) -> BlockWorkspace<Scalar> {
        if let w = layerWorkspaces[block] { return w }
        let w = network.makeLayerWorkspace(batch: batchSize, block: block)
        layerWorkspaces[block] = w
        return w
    }

    /// δ_l of batch b as a pointer ([count, k, out_l]).
    func delta(_ b: Int, layer: Int) throws -> UnsafePointer<Scalar> {
        guard let d = signals[b].signals(layer: layer).flatMap(\.baseAddress) else {
            throw NTKError.shapeMismatch("no backprop signals for layer \(layer) of batch \(b)")
        }
        return d
    }

    /// U = K V for a block of s vectors (rows of `input`, each of length `dimension`).
    /// Allocation-free once buffers for the block width exist.
    /// - Throws: `NTKError.shapeMismatch` for wrong block shapes, `.nonFinite` if the product is not finite.
    public func apply(_ input: Matrix<Double>, into output: inout Matrix<Double>) throws {
        if let fallback {
            try fallback.apply(input, into: &output)
            return
        }
        let start = DispatchTime.now().uptimeNanoseconds
        let s = input.rows, k = outputs
        guard s > 0, input.columns == dimension, output.rows == s, output.columns == dimension else {
            throw NTKError.shapeMismatch("block product needs \(s)×\(dimension) in and out (s > 0), got \(input.rows)×\(input.columns) in and \(output.rows)×\(output.columns) out")
        }
        let width = kind == .full ? s : s * k
        let p = network.parameterCount
        let g = parameterBlock.reserve(width * p)
        g.update(repeating: 0, count: width * p)
        let cot = cotangentBlock.reserve(batchSize * width * k)
        let prod = productBlock.reserve(batchSize * width * k)
        let u = layerBlock.reserve(batchSize * width * maxLayerSize)
        let ws = layerWorkspace(block: width)

        // Pass 1: G_l += VJP_l(u_l), u_l[j] = V_j δ_{j,l}.
        for b in 0..<batchCount {
            let (first, count) = batchRange(b)
            let nonzero = input.storage.withUnsafeBufferPointer { v in
                KernelBlockLayout.fillCotangents(v.baseAddress!, rows: s, dimension: dimension, kind: kind, outputs: k,
                                             first: first, count: count, width: width, into: cot)
            }
            if !nonzero { continue }
            let c = try cache(b)
            for (slot, l) in layerIndices.enumerated() {
                let out = layerSizes[slot], d = try delta(b, layer: l)
                for i in 0..<count {
                    try Scalar.gemm(
                        .none, .none, m: width, n: out, k: k, alpha: 1, a: cot + i * width * k, lda: k,
                        b: d + i * k * out, ldb: out, beta: 0, c: u + i * width * out, ldc: out)
                }
                if let rule = denseRules[slot] {
                    try denseVJP(rule, input: network.layerInput(l, in: c), count: count, u: u, width: width,
                                 into: g + layerOffsets[slot], stride: p)
                } else {
                    try network.parameterVJP(
                        layer: l, cache: c, outputCotangents: u, block: width, workspace: ws,
                        parameterCotangents: g + layerOffsets[slot], parameterStride: p)
                }
            }
            ownCost.vjpCalls += 1
        }
        // Pass 2: ẏ_l = JVP_l(G_l), U_i += ẏ_l[i] δ_{i,l}ᵀ.
        for b in 0..<batchCount {
            let (first, count) = batchRange(b)
            let c = try cache(b)
            prod.update(repeating: 0, count: count * width * k)
            for (slot, l) in layerIndices.enumerated() {
                let out = layerSizes[slot], d = try delta(b, layer: l)
                if let rule = denseRules[slot] {
                    try denseJVP(rule, input: network.layerInput(l, in: c), count: count, tangents: g + layerOffsets[slot],
                                 stride: p, width: width, into: u)
                } else {
                    try network.parameterJVP(
                        layer: l, cache: c, parameterTangents: g + layerOffsets[slot], parameterStride: p, block: width,
                        workspace: ws, outputTangents: u)
                }
                for i in 0..<count {
                    try Scalar.gemm(
                        .none, .transpose, m: width, n: k, k: out, alpha: 1, a: u + i * width * out, lda: out,
                        b: d + i * k * out, ldb: out, beta: 1, c: prod + i * width * k, ldc: k)
                }
            }
            ownCost.jvpCalls += 1
            let dim = dimension, kind = kind
            output.storage.withUnsafeMutableBufferPointer { up in
                KernelBlockLayout.gatherProducts(prod, rows: s, dimension: dim, kind: kind, outputs: k, first: first,
                                             count: count, width: width, into: up.baseAddress!)
            }
        }
        guard output.isFinite else { throw NTKError.nonFinite("NTK product produced NaN or Inf") }
        ownCost.matvecs += s
        ownCost.blockApplications += 1
        ownCost.dataPasses += 2
        ownCost.seconds += Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
    }

    /// Parameter-only VJP of a dense layer straight into G, BLAS only: for each vector t,
    /// W̄_t += c_w u_tᵀ A (one GEMM [out, in], u_t the rows t of u [count, width, out]) and
    /// b̄_t += c_b u_tᵀ 1 (one GEMV). Same result as `Linear.vjp` without its scratch copy.
    private func denseVJP(
        _ rule: DenseRule, input a: UnsafeBufferPointer<Scalar>, count: Int, u: UnsafePointer<Scalar>, width: Int,
        into g: UnsafeMutablePointer<Scalar>, stride p: Int
    ) throws {
        let nIn = rule.inputs, nOut = rule.outputs
        guard let a = a.baseAddress else { return }
        let one = ones.reserve(batchSize)
        if one[0] != 1 { one.update(repeating: 1, count: batchSize) }
        for t in 0..<width {
            try Scalar.gemm(
                .transpose, .none, m: nOut, n: nIn, k: count, alpha: rule.weight, a: u + t * nOut, lda: width * nOut,
                b: a, ldb: nIn, beta: 1, c: g + t * p, ldc: nIn)
            if rule.hasBias {
                try Scalar.gemv(
                    .transpose, m: count, n: nOut, alpha: rule.bias, a: u + t * nOut, lda: width * nOut,
                    x: one, incx: 1, beta: 1, y: g + t * p + nIn * nOut, incy: 1)
            }
        }
    }

    /// Parameter-only JVP of a dense layer from G, BLAS only: ẏ[:, t, :] = c_w A Ẇ_tᵀ + c_b 1 ḃ_tᵀ
    /// (a GEMM and a rank-one GEMM per vector t), written into [count, width, out].
    private func denseJVP(
        _ rule: DenseRule, input a: UnsafeBufferPointer<Scalar>, count: Int, tangents g: UnsafePointer<Scalar>,
        stride p: Int, width: Int, into y: UnsafeMutablePointer<Scalar>
    ) throws {
        let nIn = rule.inputs, nOut = rule.outputs
        guard let a = a.baseAddress else { return }
        let one = ones.reserve(batchSize)
        if one[0] != 1 { one.update(repeating: 1, count: batchSize) }
        for t in 0..<width {
            try Scalar.gemm(
                .none, .transpose, m: count, n: nOut, k: nIn, alpha: rule.weight, a: a, lda: nIn,
                b: g + t * p, ldb: nIn, beta: 0, c: y + t * nOut, ldc: width * nOut)
            if rule.hasBias {
                try Scalar.gemm(
                    .none, .none, m: count, n: nOut, k: 1, alpha: rule.bias, a: one, lda: 1,
                    b: g + t * p + nIn * nOut, ldb: nOut, beta: 1, c: y + t * nOut, ldc: width * nOut)
            }
        }
    }
}

import Foundation
import NTKEstimation
import NTKLinearAlgebra
import NTKNetworks

/// The empirical NTK of a network over a data set, K = J Jᵀ with J = ∂f(X)/∂θ, as a
/// matrix-free symmetric operator (the JVP∘VJP path).
///
/// A block product U = K V (s vectors) streams the data in batches:
/// pass 1 accumulates G = Jᵀ V = Σ_b VJP_b(V_b) (G is s × P), pass 2 writes U_b = JVP_b(G).
/// Memory is O(P·s + batch activations) — independent of n — plus, when they fit
/// `cacheBudgetBytes`, the forward caches of every batch (computed once per parameter state
/// and reused by every product; otherwise recomputed in each pass).
///
/// The `traced` kernel K̄ = Σ_c K_cc is applied exactly as a block of s·k cotangents
/// (vector (t, c) puts v_t on output c only) in one pass: k times the vectors, but the same
/// two data passes and GEMMs k times wider.
///
/// Network arithmetic is in `Scalar` (Float or Double); the operator's interface, and so
/// Lanczos and all reductions, is Double.
/// - Complexity: per block product ≈ 2·s·(VJP + JVP) flops over the n examples
///   (about 4 forward passes per vector for dense layers with cached activations).
public final class EmpiricalNTK<Scalar: BLASScalar>: SymmetricOperator, @unchecked Sendable {
    public let network: Network<Scalar>
    /// Inputs, n × inputSize, in the network's precision.
    public let inputs: Matrix<Scalar>
    public let kind: KernelKind
    public let batchSize: Int
    /// Whether forward caches of all batches are kept between products.
    public var cachesAllBatches: Bool { batches.keepsAll }
    /// Work done so far (including the forward passes that fill the caches).
    public var cost: NTKCost {
        var total = counters
        total.forwardCalls += batches.forwardCalls
        return total
    }

    public var examples: Int { inputs.rows }
    public var outputs: Int { network.outputCount }
    public var dimension: Int { kind.dimension(examples: examples, outputs: outputs) }

    /// The batches and their forward caches (`ForwardBatches`, shared with `StructuredNTK`).
    let batches: ForwardBatches<Scalar>
    private var counters = NTKCost()
    private var workspaces: [Int: BlockWorkspace<Scalar>] = [:]
    private var parameterBlock: [Scalar] = []     // s_eff × P
    private var batchBlock: [Scalar] = []         // [batch, s_eff, k]

    /// - Parameters:
    ///   - network: the network at the parameter state to measure (caches are tied to it:
    ///     call `invalidateCaches()` after changing its parameters).
    ///   - inputs: n × inputSize; must be finite.
    ///   - cacheBudgetBytes: forward caches of all batches are kept if they fit (default 1 GiB).
    public init(network: Network<Scalar>, inputs: Matrix<Scalar>, kind: KernelKind = .full,
                batchSize: Int = 256, cacheBudgetBytes: Int = 1 << 30) throws {
        try KernelBlockLayout.checkInputs(network: network, inputs: inputs, batchSize: batchSize)
        self.network = network
        self.inputs = inputs
        self.kind = kind
        self.batchSize = min(batchSize, inputs.rows)
        let count = (inputs.rows + self.batchSize - 1) / self.batchSize
        let total = Self.cacheBytes(network, batch: self.batchSize).multipliedReportingOverflow(by: count)
        batches = ForwardBatches(network: network, inputs: inputs, batchSize: self.batchSize,
                                 keepAll: !total.overflow && total.partialValue <= cacheBudgetBytes)
        try batches.refreshAll()
    }

    /// Bytes of one forward cache of `batch` examples (inputs, outputs, saved activations).
    public static func cacheBytes(_ network: Network<Scalar>, batch: Int) -> Int {
        (batch * (network.inputSize + network.outputCount) + network.body.savedCount(batch: batch))
            * MemoryLayout<Scalar>.stride
    }

    /// Batches as (start, count).
    public var batchCount: Int { batches.count }

    /// Recomputes the forward caches (after the network's parameters changed).
    public func invalidateCaches() throws {
        try batches.refreshAll()
    }

    /// The reusable scratch for derivative passes of block width `block` (any batch ≤ batchSize).
    func workspace(block: Int) -> BlockWorkspace<Scalar> {
        if let w = workspaces[block] { return w }
        let w = network.makeBlockWorkspace(batch: batchSize, block: block)
        workspaces[block] = w
        return w
    }

    /// U = K V for a block of s vectors (rows of `input`, each of length `dimension`):
    /// `pullback` then `pushforward`.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func apply(_ input: Matrix<Double>, into output: inout Matrix<Double>) throws {
        let s = input.rows
        guard input.columns == dimension, output.rows == s, output.columns == dimension else {
            throw NTKError.shapeMismatch("block product needs \(s)×\(dimension) in and out")
        }
        try pullback(input, into: &parameterBlock)
        try pushforward(parameterBlock, into: &output)
    }

    /// Rows of the parameter block G for s vectors: s for the `full` kernel, s·k for `traced`
    /// (one cotangent per vector and output, see the type's comment).
    public func parameterBlockWidth(vectors s: Int) -> Int {
        kind == .full ? s : s * outputs
    }

    /// Pass 1 of a block product: G = Jᵀ V over this operator's examples, width × P in the
    /// network's precision (`parameterBlockWidth(vectors: s)` rows, the flat parameter layout).
    /// `parameterBlock` is resized if needed and overwritten. Summing G over disjoint example
    /// sets and then calling `pushforward` on each set is the data-parallel product
    /// (`NTKDistributed`); `apply` is the one-set case.
    /// - Complexity: one VJP pass over the examples (batches with all-zero cotangents skipped).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func pullback(_ input: Matrix<Double>, into parameterBlock: inout [Scalar]) throws {
        let start = DispatchTime.now().uptimeNanoseconds
        let s = input.rows, k = outputs
        guard input.columns == dimension else {
            throw NTKError.shapeMismatch("pullback needs \(s)×\(dimension) vectors, got \(s)×\(input.columns)")
        }
        let width = parameterBlockWidth(vectors: s)
        let p = network.parameterCount
        if parameterBlock.count != width * p { parameterBlock = [Scalar](repeating: 0, count: width * p) }
        else { parameterBlock.withUnsafeMutableBufferPointer { $0.update(repeating: 0) } }
        if batchBlock.count < batchSize * width * k { batchBlock = [Scalar](repeating: 0, count: batchSize * width * k) }
        for b in 0..<batchCount {
            let (first, count) = batches.range(b)
            let dim = dimension, kind = kind
            let nonzero = input.storage.withUnsafeBufferPointer { v in
                batchBlock.withUnsafeMutableBufferPointer { cot in
                    KernelBlockLayout.fillCotangents(
                        v.baseAddress!, rows: s, dimension: dim, kind: kind, outputs: k, first: first, count: count,
                        width: width, into: cot.baseAddress!)
                }
            }
            // A batch with no nonzero cotangent contributes nothing (identity blocks, sparse probes).
            if !nonzero { continue }
            let ws = workspace(block: width)
            let c = try batches.cache(b)
            try batchBlock.withUnsafeBufferPointer { cot in
                try parameterBlock.withUnsafeMutableBufferPointer { g in
                    try network.vjp(cache: c, outputCotangents: cot.baseAddress!, block: width, workspace: ws,
                                    parameterCotangents: g.baseAddress!)
                }
            }
            counters.vjpCalls += 1
        }
        counters.dataPasses += 1
        counters.seconds += Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
    }

    /// Pass 2 of a block product: U = J G over this operator's examples, for the parameter
    /// block G of `pullback` (width × P, width = `parameterBlockWidth(vectors: output.rows)`);
    /// `output` is s × `dimension`. Counts the block product (s matvecs) in `cost`.
    /// - Complexity: one JVP pass over the examples.
    /// - Throws: `NTKError.shapeMismatch` for a block of the wrong size, `.nonFinite` when U is not finite.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func pushforward(_ parameterBlock: [Scalar], into output: inout Matrix<Double>) throws {
        let start = DispatchTime.now().uptimeNanoseconds
        let s = output.rows, k = outputs
        let width = parameterBlockWidth(vectors: s)
        guard output.columns == dimension, parameterBlock.count == width * network.parameterCount else {
            throw NTKError.shapeMismatch(
                "pushforward needs a \(width)×\(network.parameterCount) parameter block and \(s)×\(dimension) output, "
                    + "got \(parameterBlock.count) parameters and \(s)×\(output.columns)")
        }
        if batchBlock.count < batchSize * width * k { batchBlock = [Scalar](repeating: 0, count: batchSize * width * k) }
        for b in 0..<batchCount {
            let (first, count) = batches.range(b)
            let ws = workspace(block: width)
            let c = try batches.cache(b)
            try parameterBlock.withUnsafeBufferPointer { g in
                try batchBlock.withUnsafeMutableBufferPointer { out in
                    try network.jvp(cache: c, parameterTangents: g.baseAddress!, block: width, workspace: ws,
                                    outputTangents: out.baseAddress!)
                }
            }
            counters.jvpCalls += 1
            let dim = dimension, kind = kind
            batchBlock.withUnsafeBufferPointer { prod in
                output.storage.withUnsafeMutableBufferPointer { up in
                    KernelBlockLayout.gatherProducts(
                        prod.baseAddress!, rows: s, dimension: dim, kind: kind, outputs: k, first: first, count: count,
                        width: width, into: up.baseAddress!)
                }
            }
        }
        guard output.isFinite else { throw NTKError.nonFinite("NTK product produced NaN or Inf") }
        counters.matvecs += s
        counters.blockApplications += 1
        counters.dataPasses += 1
        counters.seconds += Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
    }

    /// The exact diagonal of the kernel from per-example, per-output gradients
    /// ‖∇θ f_c(x_i)‖² (Goodfellow 2015's per-example-gradient trick, as VJPs with one-hot
    /// cotangents on small sub-batches): `full` gives n·k entries (index i·k + c), `traced`
    /// gives n entries Σ_c ‖∇θ f_c(x_i)‖². No probes: tr K is the sum.
    /// - Complexity: n·k VJP vectors, in blocks of ≤ 64, each over its own examples only.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func exactDiagonal() throws -> [Double] {
        let start = DispatchTime.now().uptimeNanoseconds
        let k = outputs, p = network.parameterCount
        let perBlock = max(1, 64 / k)
        var diagonal = [Double](repeating: 0, count: examples * k)
        var gradients = [Scalar](repeating: 0, count: perBlock * k * p)
        var cotangents = [Scalar](repeating: 0, count: perBlock * perBlock * k * k)
        // Chunks of ⌊64/k⌋ examples, each its own forward pass (one scratch cache).
        let chunks = ForwardBatches(network: network, inputs: inputs, batchSize: perBlock, keepAll: false)
        let ws = network.makeBlockWorkspace(batch: chunks.batchSize, block: chunks.batchSize * k)
        for chunk in 0..<chunks.count {
            let (first, count) = chunks.range(chunk)
            let s = count * k
            let c = try chunks.refresh(chunk)
            cotangents.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
            for i in 0..<count {
                for ch in 0..<k { cotangents[(i * s + i * k + ch) * k + ch] = 1 }
            }
            gradients.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
            try cotangents.withUnsafeBufferPointer { cp in
                try gradients.withUnsafeMutableBufferPointer { gp in
                    try network.vjp(cache: c, outputCotangents: cp.baseAddress!, block: s, workspace: ws,
                                    parameterCotangents: gp.baseAddress!)
                }
            }
            counters.vjpCalls += 1
            gradients.withUnsafeBufferPointer { g in
                for t in 0..<s {
                    var sum = 0.0
                    for j in 0..<p { let x = Double(g[t * p + j]); sum += x * x }
                    diagonal[first * k + t] = sum
                }
            }
        }
        counters.forwardCalls += chunks.forwardCalls
        counters.dataPasses += 1
        counters.seconds += Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        guard diagonal.allSatisfy(\.isFinite) else { throw NTKError.nonFinite("per-example gradient norms") }
        if kind == .full { return diagonal }
        return (0..<examples).map { i in (0..<k).reduce(0) { $0 + diagonal[i * k + $1] } }
    }

    /// tr K = ‖J‖²_F, exactly, from per-example gradient norms (no probes).
    public func exactTrace() throws -> Double {
        try exactDiagonal().reduce(0, +)
    }
}

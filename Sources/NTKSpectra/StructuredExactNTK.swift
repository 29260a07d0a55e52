import NTKLinearAlgebra
import NTKNetworks

/// The exact NTK from per-layer Gram products, in Double — no Jacobian, no kernel columns.
///
/// For dense layers y = c_w W a + c_b b, ∂f_c(x_i)/∂W_l = c_w δ_{ic,l} a_{i,l}ᵀ and
/// ∂f_c(x_i)/∂b_l = c_b δ_{ic,l}, so
///   K[(i,c),(j,c′)] = Σ_l (δ_{ic,l}·δ_{jc′,l}) (c_w² a_{i,l}·a_{j,l} + c_b²),
/// i.e. K = Σ_l (Δ_lΔ_lᵀ) ⊙ (c_w² A_lA_lᵀ ⊗ 1_k1_kᵀ + c_b²) with Δ_l the (n·k)×out_l matrix of
/// signals (rows i·k + c) and A_l the n×in_l matrix of layer inputs: two SYRKs per layer
/// (the "structured derivatives" of Novak, Sohl-Dickstein & Schoenholz 2022,
/// arXiv:2206.08720). The traced kernel is K̄[i,j] = Σ_c K[(i,c),(j,c)].
///
/// Supported: networks whose parameterized top-level layers are all `Linear` over flat inputs
/// (MLPs, auto-encoders). Anything else (convolutions, layer norm, residual blocks) throws
/// `StructuredNTKError.unsupportedLayer` naming the layer; `ExactNTK` handles every network.
/// - Complexity: one forward and one k-wide VJP per batch, then per layer (n·k)²·out_l + n²·in_l
///   flops; memory 2·(n·k)² + n² + Σ_l (n·k·out_l + n·in_l) doubles.
public struct StructuredExactNTK: Sendable {
    public var batchSize: Int
    public var memoryBudgetBytes: Int

    public init(batchSize: Int = 256, memoryBudgetBytes: Int = 8 << 30) {
        self.batchSize = batchSize
        self.memoryBudgetBytes = memoryBudgetBytes
    }

    /// Throws `StructuredNTKError.unsupportedLayer` for the first parameterized top-level layer
    /// without a Gram rule.
    public static func checkSupported<Scalar: BLASScalar>(_ network: Network<Scalar>) throws {
        for l in network.parameterizedLayerIndices {
            let layer = network.layers[l]
            guard let linear = layer as? Linear<Scalar>, linear.leadingShape.isEmpty else {
                throw StructuredNTKError.unsupportedLayer(
                    index: l, type: String(describing: type(of: layer)),
                    expected: "every parameterized layer to be Linear over flat inputs")
            }
        }
    }

    /// The dense kernel, (n·k)×(n·k) (`full`) or n×n (`traced`).
    /// - Throws: `StructuredNTKError` for unsupported layers; `NTKError` for bad inputs, a bad
    ///   batch size or a kernel over `memoryBudgetBytes`.
    public func kernel(network: Network<Double>, inputs: Matrix<Double>, kind: KernelKind = .full) throws -> Matrix<Double> {
        try Self.checkSupported(network)
        guard inputs.columns == network.inputSize else {
            throw NTKError.shapeMismatch(
                "inputs have \(inputs.columns) features per example, the network expects \(network.inputSize)")
        }
        guard inputs.rows > 0 else { throw NTKError.invalidOption("inputs", "at least one example") }
        guard inputs.isFinite else { throw NTKError.nonFinite("inputs contain NaN or Inf") }
        guard batchSize >= 1 else { throw NTKError.invalidOption("batch-size", "a positive batch size, got \(batchSize)") }
        let n = inputs.rows, k = network.outputCount, big = n * k
        let layerIndices = network.parameterizedLayerIndices
        let linears = layerIndices.compactMap { network.layers[$0] as? Linear<Double> }
        var doubles = 2 * big * big + n * n
        for linear in linears { doubles += big * linear.outFeatures + n * linear.inFeatures }
        let bytes = doubles.multipliedReportingOverflow(by: 8)
        guard !bytes.overflow, bytes.partialValue <= memoryBudgetBytes else {
            throw NTKError.tooLarge("the structured exact \(big)×\(big) kernel and its factors",
                                    needed: bytes.overflow ? .max : bytes.partialValue, budget: memoryBudgetBytes)
        }
        // Gather Δ_l ((n·k)×out_l) and A_l (n×in_l), batch by batch.
        var deltas = linears.map { [Double](repeating: 0, count: big * $0.outFeatures) }
        var activations = linears.map { [Double](repeating: 0, count: n * $0.inFeatures) }
        let batch = min(batchSize, n)
        let cache = network.makeForwardCache(capacity: batch)
        let signals = network.makeBackpropSignals(capacity: batch)
        let workspace = network.makeBlockWorkspace(batch: batch, block: k)
        var first = 0
        while first < n {
            let count = min(batch, n - first)
            try inputs.storage.withUnsafeBufferPointer { p in
                try network.forward(
                    inputs: UnsafeBufferPointer(rebasing: p[(first * inputs.columns)..<((first + count) * inputs.columns)]),
                    batch: count, into: cache)
            }
            try network.backpropSignals(cache: cache, workspace: workspace, into: signals)
            for (slot, l) in layerIndices.enumerated() {
                let out = linears[slot].outFeatures, inFeatures = linears[slot].inFeatures
                guard let d = signals.signals(layer: l) else {
                    throw NTKError.shapeMismatch("no backprop signals for layer \(l)")
                }
                let a = try network.layerInput(l, in: cache)
                deltas[slot].withUnsafeMutableBufferPointer { dst in
                    for j in 0..<(count * k * out) { dst[first * k * out + j] = d[j] }
                }
                activations[slot].withUnsafeMutableBufferPointer { dst in
                    for j in 0..<(count * inFeatures) { dst[first * inFeatures + j] = a[j] }
                }
            }
            first += count
        }
        // K (upper triangle) = Σ_l (Δ_lΔ_lᵀ) ⊙ (c_w² A_lA_lᵀ + c_b²).
        var kernel = [Double](repeating: 0, count: big * big)
        var deltaGram = [Double](repeating: 0, count: big * big)
        var inputGram = [Double](repeating: 0, count: n * n)
        for (slot, linear) in linears.enumerated() {
            let m = linear.parameterization.multipliers(fanIn: linear.inFeatures)
            let cw2 = m.weight * m.weight, cb2 = linear.hasBias ? m.bias * m.bias : 0
            try deltas[slot].withUnsafeBufferPointer { d in
                try deltaGram.withUnsafeMutableBufferPointer { g in
                    try Double.syrk(.none, n: big, k: linear.outFeatures, alpha: 1, a: d.baseAddress!,
                                    lda: linear.outFeatures, beta: 0, c: g.baseAddress!, ldc: big)
                }
            }
            try activations[slot].withUnsafeBufferPointer { a in
                try inputGram.withUnsafeMutableBufferPointer { g in
                    try Double.syrk(.none, n: n, k: linear.inFeatures, alpha: 1, a: a.baseAddress!,
                                    lda: linear.inFeatures, beta: 0, c: g.baseAddress!, ldc: n)
                }
            }
            for r in 0..<big {
                let i = r / k
                for col in r..<big {
                    // r ≤ col ⇒ i ≤ j: the upper triangle of A Aᵀ.
                    kernel[r * big + col] += deltaGram[r * big + col] * (cw2 * inputGram[i * n + col / k] + cb2)
                }
            }
        }
        for r in 0..<big {
            for col in (r + 1)..<big { kernel[col * big + r] = kernel[r * big + col] }
        }
        guard kernel.allSatisfy(\.isFinite) else { throw NTKError.nonFinite("structured exact kernel") }
        switch kind {
        case .full:
            return try Matrix(rows: big, columns: big, storage: kernel)
        case .traced:
            return Matrix(rows: n, columns: n) { i, j in
                (0..<k).reduce(0) { $0 + kernel[(i * k + $1) * big + j * k + $1] }
            }
        }
    }
}

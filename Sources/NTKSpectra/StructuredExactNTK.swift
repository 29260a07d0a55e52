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
/// arXiv:2206.08720). A convolution y = c_w W X_i + c_b b 1ᵀ (X_i the im2col patches
/// [C·kh·kw, L], δ_{ic} [O, L]) gives the positional sum
///   K[(i,c),(j,c′)] = Σ_{p,q} (δ_{ic,p}·δ_{jc′,q}) (c_w² patch_{i,p}·patch_{j,q} + c_b²),
/// with δ_{ic,p} ∈ R^O the signal at output position p: the dense rule is its L = 1 case.
/// The traced kernel is K̄[i,j] = Σ_c K[(i,c),(j,c)].
///
/// Supported: networks whose parameterized top-level layers are all weight-linear
/// (`WeightLinearLayer`: `Linear` over flat inputs, `Conv2d`; MLPs, auto-encoders, plain CNNs). Anything else (layer norm, residual blocks,
/// token-wise Linear) throws `StructuredNTKError.unsupportedLayer` naming the layer;
/// `ExactNTK` handles every network.
/// - Complexity: one forward and one k-wide VJP per batch, then per layer
///   (n·k·L)²·O + (n·L)²·C·kh·kw flops for the two SYRKs and (n·k)²·L² for the positional sum;
///   memory (n·k)² + (n·k·L)² + (n·L)² + the factors, in doubles — for dense layers (L = 1) the
///   signal Gram is formed in panels of `panelRows` rows, so (n·k)² + panelRows·n·k + n² + the factors.
public struct StructuredExactNTK: Sendable {
    public var batchSize: Int
    public var memoryBudgetBytes: Int
    /// Rows of signal products the dense rule forms at once (its scratch is `panelRows`·N
    /// doubles instead of N²; 512 keeps each panel GEMM large enough to run near peak).
    public var panelRows: Int

    public init(batchSize: Int = 256, memoryBudgetBytes: Int = 8 << 30, panelRows: Int = 512) {
        self.batchSize = batchSize
        self.memoryBudgetBytes = memoryBudgetBytes
        self.panelRows = max(1, panelRows)
    }

    /// One layer's Gram rule: signals δ [O, L] per (example, output), patches [E, L] per
    /// example (for a dense layer O = out, E = in, L = 1), forward multipliers squared.
    struct GramRule {
        var layer: Int
        var channels: Int      // O
        var patchLength: Int   // E
        var positions: Int     // L
        var weight2: Double
        var bias2: Double
        /// The layer, for its patches when L > 1.
        var layerValue: any WeightLinearLayer<Double>
    }

    /// Throws `StructuredNTKError.unsupportedLayer` for the first parameterized top-level layer
    /// without a Gram rule.
    public static func checkSupported<Scalar: BLASScalar>(_ network: Network<Scalar>) throws {
        for l in network.parameterizedLayerIndices where network.weightLinear(l) == nil {
            throw StructuredNTKError.unsupportedLayer(
                index: l, type: String(describing: type(of: network.layers[l])),
                expected: "every parameterized top-level layer to be weight-linear (WeightLinearLayer: Linear over flat inputs, Conv2d)")
        }
    }

    static func rules(_ network: Network<Double>) throws -> [GramRule] {
        try checkSupported(network)
        return network.parameterizedLayerIndices.compactMap { l in
            guard let (layer, shape) = network.weightLinear(l) else { return nil }
            return GramRule(layer: l, channels: shape.channels, patchLength: shape.patchLength, positions: shape.positions,
                            weight2: shape.weightMultiplier * shape.weightMultiplier,
                            bias2: shape.biasMultiplier * shape.biasMultiplier, layerValue: layer)
        }
    }

    /// The dense kernel, (n·k)×(n·k) (`full`) or n×n (`traced`).
    /// - Throws: `StructuredNTKError` for unsupported layers; `NTKError` for bad inputs, a bad
    ///   batch size or a kernel over `memoryBudgetBytes`.
    public func kernel(network: Network<Double>, inputs: Matrix<Double>, kind: KernelKind = .full) throws -> Matrix<Double> {
        let rules = try Self.rules(network)
        try KernelBlockLayout.checkInputs(network: network, inputs: inputs, batchSize: batchSize)
        let n = inputs.rows, k = network.outputCount, big = n * k
        var doubles = big.multipliedReportingOverflow(by: big)
        var largestGrams = 0
        for r in rules {
            let rows = big * r.positions, patchRows = n * r.positions
            // Dense layers: one panel of signal products; convolutions: the whole positional Gram.
            let signalGram = r.positions == 1 ? min(panelRows, big) * big : rows * rows
            largestGrams = max(largestGrams, signalGram + patchRows * patchRows)
            doubles = doubles.partialValue.addingReportingOverflow(rows * r.channels + patchRows * r.patchLength)
        }
        let total = doubles.partialValue.addingReportingOverflow(largestGrams)
        let bytes = total.partialValue.multipliedReportingOverflow(by: 8)
        guard !doubles.overflow, !total.overflow, !bytes.overflow, bytes.partialValue <= memoryBudgetBytes else {
            throw NTKError.tooLarge("the structured exact \(big)×\(big) kernel and its factors",
                                    needed: bytes.overflow || total.overflow ? .max : bytes.partialValue,
                                    budget: memoryBudgetBytes)
        }
        // Gather, per layer, signals by position ((n·k·L)×O, row (i·k + c)·L + p) and patches
        // by position ((n·L)×E, row i·L + p), batch by batch.
        var deltas = rules.map { [Double](repeating: 0, count: big * $0.positions * $0.channels) }
        var patches = rules.map { [Double](repeating: 0, count: n * $0.positions * $0.patchLength) }
        // Streamed batch by batch: one scratch forward cache (`ForwardBatches`, as the operators batch).
        let batches = ForwardBatches(network: network, inputs: inputs, batchSize: batchSize, keepAll: false)
        let signals = network.makeBackpropSignals(capacity: batches.batchSize)
        let workspace = network.makeBlockWorkspace(batch: batches.batchSize, block: k)
        var unfolded = [Double](repeating: 0, count: rules.map { $0.patchLength * $0.positions }.max() ?? 0)
        for b in 0..<batches.count {
            let (first, count) = batches.range(b)
            let cache = try batches.refresh(b)
            try network.backpropSignals(cache: cache, workspace: workspace, into: signals)
            for (slot, rule) in rules.enumerated() {
                let O = rule.channels, E = rule.patchLength, L = rule.positions
                guard let d = signals.signals(layer: rule.layer) else {
                    throw NTKError.shapeMismatch("no backprop signals for layer \(rule.layer)")
                }
                let a = try network.layerInput(rule.layer, in: cache)
                // δ_{ic} is [O, L] (channel-major, as the layer's output): transpose to rows p.
                for r in 0..<(count * k) {
                    for o in 0..<O {
                        for p in 0..<L { deltas[slot][((first * k + r) * L + p) * O + o] = d[(r * O + o) * L + p] }
                    }
                }
                for i in 0..<count {
                    let example = a.baseAddress! + i * network.layers[rule.layer].inputSize
                    unfolded.withUnsafeMutableBufferPointer { rule.layerValue.patches(example, into: $0.baseAddress!) }
                    for e in 0..<E {
                        for p in 0..<L { patches[slot][((first + i) * L + p) * E + e] = unfolded[e * L + p] }
                    }
                }
            }
        }
        // K (upper triangle) += Σ_{p,q} (δ_{ic,p}·δ_{jc′,q}) (c_w² patch_{i,p}·patch_{j,q} + c_b²).
        var kernel = [Double](repeating: 0, count: big * big)
        var deltaGram = [Double](), patchGram = [Double]()
        for (slot, rule) in rules.enumerated() {
            let L = rule.positions, rows = big * L, patchRows = n * L
            patchGram = [Double](repeating: 0, count: patchRows * patchRows)
            try patches[slot].withUnsafeBufferPointer { a in
                try patchGram.withUnsafeMutableBufferPointer { g in
                    try Double.syrk(.none, n: patchRows, k: rule.patchLength, alpha: 1, a: a.baseAddress!,
                                    lda: rule.patchLength, beta: 0, c: g.baseAddress!, ldc: patchRows)
                }
            }
            if L == 1 {
                if deltaGram.count < min(panelRows, big) * big {
                    deltaGram = [Double](repeating: 0, count: min(panelRows, big) * big)
                }
                try deltas[slot].withUnsafeBufferPointer { d in
                    try patchGram.withUnsafeBufferPointer { pg in
                        try deltaGram.withUnsafeMutableBufferPointer { panel in
                            try kernel.withUnsafeMutableBufferPointer { kp in
                                try Self.accumulateDense(
                                    into: kp.baseAddress!, examples: n, outputs: k, signals: d.baseAddress!,
                                    channels: rule.channels, patchGram: pg.baseAddress!, weight2: rule.weight2,
                                    bias2: rule.bias2, panel: panel.baseAddress!, panelRows: panelRows)
                            }
                        }
                    }
                }
                continue
            }
            deltaGram = [Double](repeating: 0, count: rows * rows)
            try deltas[slot].withUnsafeBufferPointer { d in
                try deltaGram.withUnsafeMutableBufferPointer { g in
                    try Double.syrk(.none, n: rows, k: rule.channels, alpha: 1, a: d.baseAddress!,
                                    lda: rule.channels, beta: 0, c: g.baseAddress!, ldc: rows)
                }
            }
            // Only upper triangles are written: read (a, b) as (min, max).
            @inline(__always) func upper(_ m: [Double], _ a: Int, _ b: Int, _ ld: Int) -> Double {
                a <= b ? m[a * ld + b] : m[b * ld + a]
            }
            for r in 0..<big {
                let i = r / k
                for col in r..<big {
                    let j = col / k
                    var sum = 0.0
                    for p in 0..<L {
                        for q in 0..<L {
                            let dg = upper(deltaGram, r * L + p, col * L + q, rows)
                            let pg = upper(patchGram, i * L + p, j * L + q, patchRows)
                            sum += dg * (rule.weight2 * pg + rule.bias2)
                        }
                    }
                    kernel[r * big + col] += sum
                }
            }
        }
        kernel.withUnsafeMutableBufferPointer { Self.mirrorUpper($0.baseAddress!, dimension: big) }
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

    /// The dense-layer rule on the upper triangle, panel by panel: for rows r ∈ [r₀, r₀ + b)
    /// one GEMM gives Δ_r·Δ_c for c ≥ r₀, then K[r, c] += (Δ_r·Δ_c)(c_w² A_i·A_j + c_b²) with
    /// i = ⌊r/k⌋, j = ⌊c/k⌋ (A Aᵀ's upper triangle, since i ≤ j).
    /// - Complexity: ≈ N²·O flops (the SYRK's) and N²/2 multiply–adds; scratch `panelRows`·N.
    static func accumulateDense(
        into kernel: UnsafeMutablePointer<Double>, examples n: Int, outputs k: Int, signals: UnsafePointer<Double>,
        channels: Int, patchGram: UnsafePointer<Double>, weight2: Double, bias2: Double,
        panel: UnsafeMutablePointer<Double>, panelRows: Int
    ) throws {
        let big = n * k
        var r0 = 0
        while r0 < big {
            let rows = min(panelRows, big - r0), columns = big - r0
            try Double.gemm(.none, .transpose, m: rows, n: columns, k: channels, alpha: 1,
                            a: signals + r0 * channels, lda: channels, b: signals + r0 * channels, ldb: channels,
                            beta: 0, c: panel, ldc: columns)
            for rr in 0..<rows {
                let r = r0 + rr, i = r / k
                let out = kernel + r * big, products = panel + rr * columns, gram = patchGram + i * n
                // Block j = i from column r, then whole blocks of k columns.
                let factor = weight2 * gram[i] + bias2
                for c in r..<((i + 1) * k) { out[c] += products[c - r0] * factor }
                for j in (i + 1)..<n {
                    let f = weight2 * gram[j] + bias2
                    let base = j * k
                    for c in base..<(base + k) { out[c] += products[c - r0] * f }
                }
            }
            r0 += rows
        }
    }

    /// Copies the upper triangle of a row-major N×N matrix onto its lower one, in square tiles
    /// (a column-wise copy would touch a new cache line per element).
    static func mirrorUpper(_ a: UnsafeMutablePointer<Double>, dimension n: Int) {
        let tile = 64
        var i0 = 0
        while i0 < n {
            var j0 = i0
            while j0 < n {
                for i in i0..<min(i0 + tile, n) {
                    for j in max(j0, i + 1)..<min(j0 + tile, n) { a[j * n + i] = a[i * n + j] }
                }
                j0 += tile
            }
            i0 += tile
        }
    }
}

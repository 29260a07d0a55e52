import Foundation
import NTKLinearAlgebra
import NTKNetworks

extension StructuredNTK {
    /// The exact diagonal K[(i,c),(i,c)] = ‖∇θ f_c(x_i)‖² = Σ_l ‖∇θ_l f_c(x_i)‖², layer by layer
    /// from the cached δ's: `full` gives n·k entries (index i·k + c), `traced` gives n entries
    /// Σ_c ‖∇θ f_c(x_i)‖². No probes: tr K is the sum.
    ///
    /// - A weight-linear layer with one position (`Linear` over flat inputs, y = c_w W a + c_b b)
    ///   has the rank-one per-example
    ///   gradient ∇_W f_c = c_w δ_{ic} a_iᵀ, ∇_b f_c = c_b δ_{ic}, so its contribution is
    ///   ‖δ_{ic}‖² (c_w²‖a_i‖² + c_b²) — free from the cache (Goodfellow 2015,
    ///   arXiv:1510.01799), with (c_w, c_b) the layer's parameterization multipliers.
    /// - A weight-linear layer over L > 1 positions (`Conv2d`: ∇_W f_c = c_w δ_{ic} X_iᵀ with the
    ///   im2col patches X_i, see `WeightLinearLayer`) costs one GEMM per
    ///   example for all k outputs: ‖δ_{ic} X_iᵀ‖²_F c_w² + ‖δ_{ic} 1‖² c_b².
    /// - Any other layer (layer norm, residual block, attention, Linear over [R, in]): when at
    ///   most two such layers carry parameters, the VJP route on each one's own parameters: per
    ///   chunk of ⌊64/k⌋ examples, one parameter-only VJP of width (chunk·k) whose cotangent
    ///   carries δ_{ic,l} for example i only, then the squared norms of the resulting rows. Each
    ///   of those VJPs runs over the whole batch, so with more such layers (a transformer) the
    ///   whole diagonal is taken as `EmpiricalNTK.exactDiagonal()` computes it — per chunk of
    ///   ⌊64/k⌋ examples one forward pass and one full VJP of width chunk·k over those examples
    ///   only — which costs about n·k/64 chunk VJPs instead of (layers · n/⌊64/k⌋) batch-wide
    ///   ones (measured: a 2-block pre-LN transformer, 1000 inputs, k = 10: minutes → seconds).
    /// With the `fallbackJVPVJP` plan this is `EmpiricalNTK.exactDiagonal()`.
    /// - Complexity: O(n·k·Σ_l (in_l + out_l)) for dense layers, 2·n·k·O·L·E flops for a
    ///   convolution; per other layer about
    ///   n/⌊64/k⌋ VJPs of width ≤ 64 over one batch (at most two such layers), else about
    ///   n/⌊64/k⌋ forward passes and VJPs over ⌊64/k⌋ examples each.
    public func exactDiagonal() throws -> [Double] {
        if let fallback { return try fallback.exactDiagonal() }
        let start = DispatchTime.now().uptimeNanoseconds
        if layerIndices.filter({ network.weightLinear($0) == nil }).count > Self.maximumVJPRouteLayers {
            let chunked = try EmpiricalNTK(network: network, inputs: inputs, kind: kind, batchSize: batchSize, cacheBudgetBytes: 0)
            let diagonal = try chunked.exactDiagonal()
            var spent = chunked.cost
            spent.seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
            ownCost = ownCost + spent
            return diagonal
        }
        let k = outputs
        var diagonal = [Double](repeating: 0, count: examples * k)
        var usedVJPRoute = false
        for b in 0..<batchCount {
            let (first, count) = batchRange(b)
            let c = try cache(b)
            for (slot, l) in layerIndices.enumerated() {
                let out = layerSizes[slot], d = try delta(b, layer: l)
                if let (_, shape) = network.weightLinear(l), shape.positions == 1 {
                    let a = try network.layerInput(l, in: c)
                    let inputs = shape.patchLength
                    let weight2 = shape.weightMultiplier * shape.weightMultiplier
                    let bias2 = shape.biasMultiplier * shape.biasMultiplier
                    for i in 0..<count {
                        var aa = 0.0
                        for j in 0..<inputs { let x = Double(a[i * inputs + j]); aa += x * x }
                        let factor = weight2 * aa + bias2
                        for ch in 0..<k {
                            var dd = 0.0
                            let row = d + (i * k + ch) * out
                            for o in 0..<out { let x = Double(row[o]); dd += x * x }
                            diagonal[(first + i) * k + ch] += dd * factor
                        }
                    }
                } else if let (layer, shape) = network.weightLinear(l) {
                    try addPatchDiagonal(layer, shape, layer: l, batch: b, cache: c, signals: d, into: &diagonal)
                } else {
                    usedVJPRoute = true
                    try addLayerDiagonalByVJP(layer: l, slot: slot, batch: b, cache: c, into: &diagonal)
                }
            }
        }
        if usedVJPRoute { ownCost.dataPasses += 1 }
        ownCost.seconds += Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        guard diagonal.allSatisfy(\.isFinite) else { throw NTKError.nonFinite("per-example gradient norms") }
        if kind == .full { return diagonal }
        return (0..<examples).map { i in (0..<k).reduce(0) { $0 + diagonal[i * k + $1] } }
    }

    /// Layers without a per-example rule up to which `exactDiagonal` runs their batch-wide
    /// parameter VJPs (beyond it: chunked full VJPs, see `exactDiagonal`).
    static var maximumVJPRouteLayers: Int { 2 }

    /// tr K = ‖J‖²_F, exactly, from per-example gradient norms (no probes).
    public func exactTrace() throws -> Double {
        try exactDiagonal().reduce(0, +)
    }

    /// Adds a weight-linear layer's ‖∇θ_l f_c(x_i)‖² (a convolution: L > 1): with the patches
    /// X_i [E, L] and δ_{ic} [O, L], ∇_W f_c = c_w δ_{ic} X_iᵀ — for all k outputs one GEMM
    /// [(k·O) × L]·[L × E] per example — and ∇_b f_c = c_b δ_{ic} 1. Cost 2·k·O·L·E flops per
    /// example (a k-wide layer forward).
    private func addPatchDiagonal(
        _ layer: any WeightLinearLayer<Scalar>, _ shape: WeightLinearShape, layer l: Int, batch b: Int,
        cache: ForwardCache<Scalar>, signals d: UnsafePointer<Scalar>, into diagonal: inout [Double]
    ) throws {
        let (first, count) = batchRange(b)
        let k = outputs, e = shape.patchLength, positions = shape.positions, o = shape.channels
        let weight2 = shape.weightMultiplier * shape.weightMultiplier, bias2 = shape.biasMultiplier * shape.biasMultiplier
        guard let a = try network.layerInput(l, in: cache).baseAddress else { return }
        var patches = [Scalar](repeating: 0, count: e * positions)
        var gradients = [Scalar](repeating: 0, count: k * o * e)
        for i in 0..<count {
            let signal = d + i * k * o * positions
            try patches.withUnsafeMutableBufferPointer { pp in
                layer.patches(a + i * layer.inputSize, into: pp.baseAddress!)
                try gradients.withUnsafeMutableBufferPointer { gp in
                    try Scalar.gemm(
                        .none, .transpose, m: k * o, n: e, k: positions, alpha: 1, a: signal, lda: positions,
                        b: pp.baseAddress!, ldb: positions, beta: 0, c: gp.baseAddress!, ldc: e)
                }
            }
            for ch in 0..<k {
                var ww = 0.0, bb = 0.0
                for j in (ch * o * e)..<((ch + 1) * o * e) { let x = Double(gradients[j]); ww += x * x }
                for oc in 0..<o {
                    var sum = 0.0
                    let row = signal + (ch * o + oc) * positions
                    for p in 0..<positions { sum += Double(row[p]) }
                    bb += sum * sum
                }
                diagonal[(first + i) * k + ch] += weight2 * ww + bias2 * bb
            }
        }
    }

    /// Adds ‖∇θ_l f_c(x_i)‖² for the examples of batch b through layer l's parameter-only VJP.
    private func addLayerDiagonalByVJP(
        layer l: Int, slot: Int, batch b: Int, cache: ForwardCache<Scalar>, into diagonal: inout [Double]
    ) throws {
        let (first, count) = batchRange(b)
        let k = outputs, out = layerSizes[slot], pl = network.layers[l].parameterCount
        let perChunk = max(1, min(count, 64 / k))
        let width = perChunk * k
        let d = try delta(b, layer: l)
        var cotangents = [Scalar](repeating: 0, count: count * width * out)
        var gradients = [Scalar](repeating: 0, count: width * pl)
        let ws = network.makeLayerWorkspace(batch: count, block: width)
        var i0 = 0
        while i0 < count {
            let m = min(perChunk, count - i0)
            for i in cotangents.indices { cotangents[i] = 0 }
            for i in gradients.indices { gradients[i] = 0 }
            // Vector (i', c) of the chunk: δ_{(i0+i')c} at example i0 + i', zero elsewhere.
            for ii in 0..<m {
                for ch in 0..<k {
                    let dst = ((i0 + ii) * width + ii * k + ch) * out, src = ((i0 + ii) * k + ch) * out
                    for o in 0..<out { cotangents[dst + o] = d[src + o] }
                }
            }
            try cotangents.withUnsafeBufferPointer { cp in
                try gradients.withUnsafeMutableBufferPointer { gp in
                    try network.parameterVJP(
                        layer: l, cache: cache, outputCotangents: cp.baseAddress!, block: width, workspace: ws,
                        parameterCotangents: gp.baseAddress!, parameterStride: pl)
                }
            }
            ownCost.vjpCalls += 1
            for ii in 0..<m {
                for ch in 0..<k {
                    var sum = 0.0
                    let row = (ii * k + ch) * pl
                    for j in 0..<pl { let x = Double(gradients[row + j]); sum += x * x }
                    diagonal[(first + i0 + ii) * k + ch] += sum
                }
            }
            i0 += m
        }
    }
}

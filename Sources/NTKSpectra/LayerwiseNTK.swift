import Foundation
import NTKEstimation
import NTKLinearAlgebra
import NTKNetworks

/// The empirical NTK split by layer: with θ = (θ_1, …, θ_L) the parameter slices of the
/// parameterized layers and J_l = ∂f(X)/∂θ_l,
///
///     K = J Jᵀ = Σ_l K_l,      K_l = J_l J_lᵀ,
///
/// each K_l PSD; tr K_l = ‖J_l‖²_F is layer l's share of the kernel's trace. Three routes:
/// - `exactKernels`: every K_l as a dense matrix from the materialized Jacobian (one GEMM per
///   layer on J's column slice), for validation and small problems;
/// - `traces`: Hutchinson estimates of every tr K_l from the SAME probes — vᵀK_l v = ‖J_lᵀ v‖², so
///   one VJP pass per probe block (`EmpiricalNTK.pullback`) serves all layers at once, and the
///   per-probe samples of Σ_l tr K_l are those of tr K (Hutchinson 1989; Rademacher probes);
/// - `exactTraces`: every tr K_l exactly from unit-vector pullbacks (no Jacobian in memory);
/// - `layerOperator`: v ↦ K_l v = J(mask_l ⊙ Jᵀv) as a `SymmetricOperator` (one VJP and one JVP
///   pass per block), so that the per-layer spectral entropy S_l = log T_l − tr(K_l log K_l)/T_l
///   comes from `SpectralEstimator` (deflated SLQ) like the whole kernel's (`entropies`).
///
/// The output axis is `kind` (`full` (n·k)² or `traced` n², as for `EmpiricalNTK`). Network
/// arithmetic is in `Scalar`; kernels, probes and reductions in Double.
public struct LayerwiseNTK<Scalar: BLASScalar>: Sendable {
    public let network: Network<Scalar>
    public let kind: KernelKind
    /// The parameterized layers: their index in the chain and their slice of θ.
    public let slices: [(layer: Int, range: Range<Int>)]

    /// - Throws: `NTKError.invalidOption` when the network has no parameters.
    public init(network: Network<Scalar>, kind: KernelKind = .full) throws {
        let offsets = network.body.parameterOffsets
        let slices = (0..<network.layers.count).compactMap { l -> (layer: Int, range: Range<Int>)? in
            offsets[l + 1] > offsets[l] ? (l, offsets[l]..<offsets[l + 1]) : nil
        }
        guard !slices.isEmpty else { throw NTKError.invalidOption("network", "at least one layer with parameters") }
        self.network = network
        self.kind = kind
        self.slices = slices
    }

    /// Every K_l (one per entry of `slices`), dense, from the Jacobian J ((n·k)×P, sample-major
    /// rows): K_l = J[:, θ_l] J[:, θ_l]ᵀ by one GEMM per layer (in Double); for `traced`,
    /// K̄_l[i, j] = Σ_c K_l[(i, c), (j, c)]. Their sum is `ExactNTK`'s kernel to round-off.
    /// - Complexity: n forward passes and n block VJPs of width k (the Jacobian), then
    ///   (n·k)²·P flops; memory (n·k)·P doubles — for validation and small problems.
    public func exactKernels(inputs: Matrix<Scalar>) throws -> [Matrix<Double>] {
        let jacobian = try network.jacobian(inputs)
        let rows = jacobian.rows, p = jacobian.columns, k = network.outputCount, n = inputs.rows
        let j = jacobian.storage.map { Double($0) }
        return try slices.map { slice in
            var full = Matrix<Double>(rows: rows, columns: rows)
            if rows > 0 {
                try j.withUnsafeBufferPointer { jp in
                    try full.storage.withUnsafeMutableBufferPointer { c in
                        let a = jp.baseAddress! + slice.range.lowerBound
                        try Double.gemm(.none, .transpose, m: rows, n: rows, k: slice.range.count, alpha: 1, a: a, lda: p,
                                        b: a, ldb: p, beta: 0, c: c.baseAddress!, ldc: rows)
                    }
                }
            }
            guard kind == .traced else { return full }
            return Matrix<Double>(rows: n, columns: n) { a, b in
                (0..<k).reduce(0) { $0 + full[a * k + $1, b * k + $1] }
            }
        }
    }

    /// Hutchinson estimates of tr K_l for every layer, from `probes` Rademacher probes (seeded)
    /// shared by all layers, with Student-t intervals at `confidenceLevel`; the last entry is the
    /// whole kernel's tr K = Σ_l tr K_l from the same probes (per-probe samples summed).
    /// - Complexity: probes/`block` VJP passes over the data (blocks of `block` probes); memory
    ///   block·P scalars.
    public func traces(inputs: Matrix<Scalar>, probes: Int, block: Int = 8, seed: UInt64 = 0,
                       confidenceLevel: Double = 0.95) throws -> [MonteCarloEstimate] {
        guard probes >= 2, block >= 1 else {
            throw NTKError.invalidOption("probes and block", "≥ 2 probes and a block ≥ 1, got \(probes) and \(block)")
        }
        let start = DispatchTime.now().uptimeNanoseconds
        let ntk = try EmpiricalNTK(network: network, inputs: inputs, kind: kind)
        let dimension = ntk.dimension, p = network.parameterCount
        var generator = SeededGenerator(seed: seed)
        var samples = [[Double]](repeating: [], count: slices.count + 1)
        var gradient: [Scalar] = []
        var done = 0
        while done < probes {
            let s = min(block, probes - done)
            var v = Matrix<Double>(rows: s, columns: dimension)
            ProbeDistribution.rademacher.fill(&v, using: &generator)
            try ntk.pullback(v, into: &gradient)
            let rowsPerProbe = ntk.parameterBlockWidth(vectors: s) / s
            for t in 0..<s {
                var total = 0.0
                for (l, slice) in slices.enumerated() {
                    var sum = 0.0
                    for r in 0..<rowsPerProbe {
                        let row = (t * rowsPerProbe + r) * p
                        for q in slice.range { let g = Double(gradient[row + q]); sum += g * g }
                    }
                    samples[l].append(sum)
                    total += sum
                }
                samples[slices.count].append(total)
            }
            done += s
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        return try samples.map {
            try MonteCarloEstimate.fromSamples($0, confidenceLevel: confidenceLevel, applications: probes, seconds: seconds)
        }
    }

    /// The exact tr K_l = Σ_e ‖J_lᵀ e‖² of every layer (and, last, tr K = Σ_l tr K_l), from the
    /// unit vectors e of the kernel's dimension pulled back in blocks of `block`
    /// (`EmpiricalNTK.pullback`): no n·k×P Jacobian in memory, only block·P scalars.
    /// - Complexity: dimension/block VJP passes of width block (≈ one backward pass per kernel
    ///   row, like `EmpiricalNTK.exactDiagonal`).
    public func exactTraces(inputs: Matrix<Scalar>, block: Int = 16) throws -> [Double] {
        guard block >= 1 else { throw NTKError.invalidOption("block", "≥ 1, got \(block)") }
        let ntk = try EmpiricalNTK(network: network, inputs: inputs, kind: kind)
        let dimension = ntk.dimension, p = network.parameterCount
        var traces = [Double](repeating: 0, count: slices.count + 1)
        var gradient: [Scalar] = []
        var first = 0
        while first < dimension {
            let s = min(block, dimension - first)
            var e = Matrix<Double>(rows: s, columns: dimension)
            for t in 0..<s { e[t, first + t] = 1 }
            try ntk.pullback(e, into: &gradient)
            let rows = ntk.parameterBlockWidth(vectors: s)
            gradient.withUnsafeBufferPointer { g in
                for (l, slice) in slices.enumerated() {
                    var sum = 0.0
                    for r in 0..<rows {
                        for q in slice.range { let x = Double(g[r * p + q]); sum += x * x }
                    }
                    traces[l] += sum
                }
            }
            first += s
        }
        traces[slices.count] = traces[0..<slices.count].reduce(0, +)
        return traces
    }

    /// v ↦ K_l v for the parameterized layer `slices[index]`: `ntk.pullback`, the parameter
    /// block masked to θ_l, `ntk.pushforward` (buffers reused between calls).
    /// - Throws: `NTKError.invalidOption` for an index outside `slices`, or an operator built for
    ///   another network.
    public func layerOperator(_ ntk: EmpiricalNTK<Scalar>, index: Int) throws -> ClosureOperator {
        guard slices.indices.contains(index) else {
            throw NTKError.invalidOption("layer slice index", "0..<\(slices.count), got \(index)")
        }
        guard ntk.network.parameterCount == network.parameterCount, ntk.kind == kind else {
            throw NTKError.invalidOption("EmpiricalNTK", "an operator of the same network and kernel kind")
        }
        let range = slices[index].range, p = network.parameterCount
        let buffer = ParameterBuffer<Scalar>()
        return try ClosureOperator(dimension: ntk.dimension) { input, output in
            try ntk.pullback(input, into: &buffer.values)
            let rows = buffer.values.count / max(p, 1)
            buffer.values.withUnsafeMutableBufferPointer { g in
                for r in 0..<rows {
                    let base = r * p
                    for q in 0..<range.lowerBound { g[base + q] = 0 }
                    for q in range.upperBound..<p { g[base + q] = 0 }
                }
            }
            try ntk.pushforward(buffer.values, into: &output)
        }
    }

    /// Trace and spectral entropy (with the estimator's other statistics) of every K_l, each
    /// by `estimator` on `layerOperator` (one operator over the same `EmpiricalNTK` and forward
    /// caches for all layers; every layer's estimate starts from the estimator's seed).
    /// - Complexity: the estimator's applications per layer, each one VJP and one JVP pass.
    public func entropies(inputs: Matrix<Scalar>, estimator: SpectralEstimator = SpectralEstimator()) throws -> [SpectralReport] {
        let ntk = try EmpiricalNTK(network: network, inputs: inputs, kind: kind)
        return try slices.indices.map { try estimator.estimate(layerOperator(ntk, index: $0)) }
    }
}

/// A parameter block reused by a layer operator's closure.
private final class ParameterBuffer<Scalar: BLASScalar>: @unchecked Sendable {
    var values: [Scalar] = []
}

import Foundation
import NTKEstimation
import NTKLinearAlgebra
import NTKNetworks

/// The per-layer conjugate kernels of a chain network over a data set: for layer l with output
/// features Φ_l ∈ R^{n×F_l} (row i is the layer's output on input xᵢ, flattened in C order),
///
///     K_l = Φ_l Φ_lᵀ / F_l      (n×n; the 1/F_l average over units or channel-positions),
///
/// the pre-activation kernel after a `Linear`/`Conv2d` layer and the activation kernel after an
/// activation layer — the "slow variables" through which, at large width, consecutive layers
/// couple (Seroussi, Naveh & Ringel 2023, arXiv:2112.15383; the NNGP kernels of Lee et al. 2018,
/// arXiv:1711.00165, are their infinite-width limits). The 1/F_l normalization is the default
/// so that K_l has an O(1) limit as the width grows (set `normalized: false` for Φ Φᵀ).
///
/// The outputs are computed layer by layer with each layer's own forward pass (the same
/// arithmetic as `Network.forward`), so any chain of layers works; graphs (`Sequential` built
/// with `inputs`) are refused. The features are kept (n·ΣF_l scalars), never the n×n kernels
/// unless asked: `kernel(layer:)` forms one (a SYRK, in `Scalar`, returned in Double) and
/// `kernelOperator(layer:)` applies v ↦ K_l v matrix-free (two GEMMs, O(n·F_l) per vector) for
/// n too large for an n×n matrix.
/// - Complexity: one forward pass to build; `kernel` n²·F_l flops; a block product of s vectors
///   4·s·n·F_l flops.
public struct ConjugateKernels<Scalar: BLASScalar>: Sendable {
    /// Φ_l for every layer l of the chain (n × F_l).
    public let features: [Matrix<Scalar>]
    /// Each layer's type name ("Linear", "Activation", …), for records.
    public let layerNames: [String]

    /// Runs `network` on `inputs` (n × inputSize) and keeps every layer's output.
    /// - Throws: `NTKError.invalidOption` for a graph network, `.shapeMismatch` for inputs of the
    ///   wrong width, and what the layers' forward passes throw (non-finite values).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public init(network: Network<Scalar>, inputs: Matrix<Scalar>) throws {
        let body = network.body
        guard body.wiring == nil else {
            throw NTKError.invalidOption("network for conjugate kernels", "a chain of layers (not a graph with skip inputs)")
        }
        guard inputs.columns == network.inputSize, inputs.rows > 0 else {
            throw NTKError.shapeMismatch("inputs [\(inputs.rows), \(inputs.columns)] for a network of input size \(network.inputSize)")
        }
        guard network.parameters.allSatisfy({ $0.isFinite }) else { throw NTKError.nonFinite("network parameters") }
        let n = inputs.rows
        var outputs: [Matrix<Scalar>] = []
        var names: [String] = []
        var current = inputs
        for (k, layer) in body.layers.enumerated() {
            var out = Matrix<Scalar>(rows: n, columns: layer.outputSize)
            var saved = [Scalar](repeating: 0, count: max(1, layer.savedCount(batch: n)))
            try network.parameters.withUnsafeBufferPointer { p in
                try current.storage.withUnsafeBufferPointer { x in
                    try out.storage.withUnsafeMutableBufferPointer { y in
                        try saved.withUnsafeMutableBufferPointer { s in
                            // A layer without parameters never reads its pointer; any valid address serves.
                            let base = p.baseAddress.map { $0 + body.parameterOffsets[k] } ?? UnsafePointer(s.baseAddress!)
                            try layer.forward(parameters: base, input: x.baseAddress!, batch: n, output: y.baseAddress!,
                                              saved: s.baseAddress!)
                        }
                    }
                }
            }
            guard out.isFinite else { throw NTKError.nonFinite("the output of layer \(k)") }
            outputs.append(out)
            names.append(String(describing: type(of: layer)).split(separator: "<").first.map(String.init) ?? "layer")
            current = out
        }
        features = outputs
        layerNames = names
    }

    public var layerCount: Int { features.count }
    public var examples: Int { features.first?.rows ?? 0 }

    /// K_l = Φ_l Φ_lᵀ / F_l (or Φ_l Φ_lᵀ), n×n in Double (the product runs in `Scalar`).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func kernel(layer l: Int, normalized: Bool = true) throws -> Matrix<Double> {
        guard features.indices.contains(l) else {
            throw NTKError.invalidOption("layer", "an index in 0..<\(features.count), got \(l)")
        }
        let phi = features[l]
        let n = phi.rows, f = phi.columns
        var c = Matrix<Scalar>(rows: n, columns: n)
        let alpha: Scalar = normalized ? 1 / Scalar(max(f, 1)) : 1
        if f > 0 {
            try phi.storage.withUnsafeBufferPointer { a in
                try c.storage.withUnsafeMutableBufferPointer { cp in
                    try Scalar.syrk(.none, n: n, k: f, alpha: alpha, a: a.baseAddress!, lda: f, beta: 0, c: cp.baseAddress!, ldc: n)
                }
            }
        }
        // SYRK wrote the upper triangle: mirror it.
        return Matrix<Double>(rows: n, columns: n) { i, j in Double(i <= j ? c[i, j] : c[j, i]) }
    }

    /// The matrix-free operator v ↦ K_l v (dimension n), for Lanczos, SLQ and trace estimators
    /// when the n×n matrix is too large.
    public func kernelOperator(layer l: Int, normalized: Bool = true) throws -> ConjugateKernelOperator<Scalar> {
        guard features.indices.contains(l) else {
            throw NTKError.invalidOption("layer", "an index in 0..<\(features.count), got \(l)")
        }
        return ConjugateKernelOperator(features: features[l], normalized: normalized)
    }
}

/// v ↦ Φ (Φᵀ v) / F for features Φ (n×F): a conjugate kernel as a `SymmetricOperator` without
/// the n×n matrix. A block of s vectors costs two GEMMs (s×n by n×F, then s×F by F×n), in
/// `Scalar`; buffers are reused between calls (allocation-free in steady state).
/// - Complexity: 4·s·n·F flops per block; memory n·F + s·(n + F).
public final class ConjugateKernelOperator<Scalar: BLASScalar>: SymmetricOperator, @unchecked Sendable {
    public let features: Matrix<Scalar>
    public let normalized: Bool
    public var dimension: Int { features.rows }
    private var vectors: [Scalar] = []
    private var projected: [Scalar] = []
    private var products: [Scalar] = []

    public init(features: Matrix<Scalar>, normalized: Bool = true) {
        self.features = features
        self.normalized = normalized
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func apply(_ input: Matrix<Double>, into output: inout Matrix<Double>) throws {
        let n = features.rows, f = features.columns, s = input.rows
        guard input.columns == n, output.rows == s, output.columns == n else {
            throw NTKError.shapeMismatch("conjugate-kernel product needs \(s)×\(n) in and out")
        }
        if vectors.count < s * n { vectors = [Scalar](repeating: 0, count: s * n); products = vectors }
        if projected.count < s * f { projected = [Scalar](repeating: 0, count: max(1, s * f)) }
        for e in 0..<(s * n) { vectors[e] = Scalar(input.storage[e]) }
        let alpha: Scalar = normalized ? 1 / Scalar(max(f, 1)) : 1
        if f > 0, s > 0, n > 0 {
            try features.storage.withUnsafeBufferPointer { phi in
                try vectors.withUnsafeBufferPointer { v in
                    try projected.withUnsafeMutableBufferPointer { g in
                        // G = V Φ  (s×F)
                        try Scalar.gemm(.none, .none, m: s, n: f, k: n, alpha: 1, a: v.baseAddress!, lda: n,
                                        b: phi.baseAddress!, ldb: f, beta: 0, c: g.baseAddress!, ldc: f)
                    }
                }
                try projected.withUnsafeBufferPointer { g in
                    try products.withUnsafeMutableBufferPointer { u in
                        // U = G Φᵀ α  (s×n)
                        try Scalar.gemm(.none, .transpose, m: s, n: n, k: f, alpha: alpha, a: g.baseAddress!, lda: f,
                                        b: phi.baseAddress!, ldb: f, beta: 0, c: u.baseAddress!, ldc: n)
                    }
                }
            }
        } else {
            for e in 0..<(s * n) { products[e] = 0 }
        }
        for e in 0..<(s * n) { output.storage[e] = Double(products[e]) }
        guard output.isFinite else { throw NTKError.nonFinite("conjugate-kernel product") }
    }
}

import Foundation
import NTKEstimation
import NTKLinearAlgebra
import NTKNetworks
import Testing
@testable import NTKSpectra

/// Per-layer conjugate kernels and per-layer NTK contributions, each statistic against a direct
/// computation on a small case.
@Suite("Layer kernels")
struct LayerKernelTests {
    init() throws { try BLASThreads.set(1) }

    static func inputs<T: BLASScalar>(_ n: Int, _ d: Int, seed: UInt64 = 5) throws -> Matrix<T> {
        var g = SeededGenerator(seed: seed)
        return try Matrix(rows: n, columns: d, storage: [T].gaussian(count: n * d, using: &g))
    }

    static func maxRelativeError(_ a: Matrix<Double>, _ b: Matrix<Double>) -> Double {
        let scale = b.storage.map(abs).max() ?? 1
        return zip(a.storage, b.storage).map { abs($0 - $1) }.max()! / scale
    }

    /// An MLP (standard parameterization: the forward uses the stored W, b) done by hand:
    /// h1 = W1 x + b1, a1 = tanh h1, h2 = W2 a1 + b2, a2 = relu h2, f = W3 a2 + b3; every layer's
    /// K = Φ Φᵀ / F against the kernels, and the matrix-free product against K v.
    @Test func conjugateKernelsMatchAHandWrittenForwardPass() throws {
        let spec = ModelSpec(inputShape: [3], layers: [
            .linear(inFeatures: 3, outFeatures: 5), .activation(.tanh), .linear(inFeatures: 5, outFeatures: 4),
            .activation(.relu), .linear(inFeatures: 4, outFeatures: 2),
        ])
        let net: Network<Double> = try spec.makeNetwork(seed: 4)
        let x: Matrix<Double> = try Self.inputs(6, 3)
        let tensors = Dictionary(uniqueKeysWithValues: net.parameterTensors.map { ($0.name, $0) })
        func dense(_ name: String, _ input: [[Double]]) -> [[Double]] {
            let w = tensors["\(name).weight"]!, b = tensors["\(name).bias"]!
            let out = w.shape[0], inp = w.shape[1]
            return input.map { row in
                (0..<out).map { o in
                    (0..<inp).reduce(net.parameters[b.offset + o]) { $0 + net.parameters[w.offset + o * inp + $1] * row[$1] }
                }
            }
        }
        let rows = (0..<6).map { x.row($0) }
        let h1 = dense("0", rows), a1 = h1.map { $0.map { Double.tanh($0) } }
        let h2 = dense("2", a1), a2 = h2.map { $0.map { max(0, $0) } }
        let f = dense("4", a2)
        let byHand = [h1, a1, h2, a2, f]
        let kernels = try ConjugateKernels(network: net, inputs: x)
        #expect(kernels.layerNames == ["Linear", "Activation", "Linear", "Activation", "Linear"])
        for (l, phi) in byHand.enumerated() {
            let width = Double(phi[0].count)
            let direct = Matrix<Double>(rows: 6, columns: 6) { i, j in
                zip(phi[i], phi[j]).reduce(0) { $0 + $1.0 * $1.1 } / width
            }
            let k = try kernels.kernel(layer: l)
            #expect(Self.maxRelativeError(k, direct) <= 1e-14, "layer \(l)")
            let raw = try kernels.kernel(layer: l, normalized: false)
            #expect(abs(raw[1, 2] - direct[1, 2] * width) <= 1e-13 * max(1, abs(raw[1, 2])))
            // Matrix-free: U = V K for a random block of 3 vectors.
            var g = SeededGenerator(seed: UInt64(l))
            let v = try Matrix<Double>(rows: 3, columns: 6, storage: [Double].gaussian(count: 18, using: &g))
            var u = Matrix<Double>(rows: 3, columns: 6)
            try kernels.kernelOperator(layer: l).apply(v, into: &u)
            let expected = try v.multiplied(by: direct)
            #expect(Self.maxRelativeError(u, expected) <= 1e-13, "operator layer \(l)")
        }
        #expect(throws: NTKError.self) { try kernels.kernel(layer: 5) }
    }

    /// A CNN (conv → tanh → pool → flatten → linear): the last layer's features are the network's
    /// outputs, and Float kernels agree with Double ones to Float round-off.
    @Test func conjugateKernelsOfACNNInBothPrecisions() throws {
        let spec = ModelSpec.cnn(inputShape: [1, 4, 4], channels: [3], outputSize: 2, activation: .tanh)
        let net: Network<Double> = try spec.makeNetwork(seed: 2)
        let x: Matrix<Double> = try Self.inputs(5, 16)
        let kernels = try ConjugateKernels(network: net, inputs: x)
        #expect(kernels.features.last! == (try net.forward(x)))
        let netF: Network<Float> = try spec.makeNetwork(seed: 2)
        let kernelsF = try ConjugateKernels(network: netF, inputs: Matrix<Float>(rows: 5, columns: 16) { Float(x[$0, $1]) })
        for l in 0..<kernels.layerCount {
            #expect(Self.maxRelativeError(try kernelsF.kernel(layer: l), try kernels.kernel(layer: l)) <= 1e-5, "layer \(l)")
        }
    }

    /// Σ_l K_l equals the exact NTK (both output axes, MLP and CNN) to round-off, and each K_l
    /// equals J_l J_lᵀ from the Jacobian's column slice computed here.
    @Test(arguments: [KernelKind.full, .traced], [false, true])
    func layerKernelsSumToTheNTK(kind: KernelKind, cnn: Bool) throws {
        let spec = cnn ? ModelSpec.cnn(inputShape: [1, 4, 4], channels: [2], outputSize: 2, activation: .tanh)
            : ModelSpec.mlp(inputSize: 4, hiddenSizes: [6, 5], outputSize: 3, activation: .tanh)
        let net: Network<Double> = try spec.makeNetwork(seed: 3)
        let x: Matrix<Double> = try Self.inputs(7, net.inputSize)
        let split = try LayerwiseNTK(network: net, kind: kind)
        let kernels = try split.exactKernels(inputs: x)
        #expect(kernels.count == split.slices.count && kernels.count == (cnn ? 2 : 3))
        var sum = Matrix<Double>(rows: kernels[0].rows, columns: kernels[0].columns)
        for k in kernels { for e in sum.storage.indices { sum.storage[e] += k.storage[e] } }
        let (reference, _) = try ExactNTK(kind: kind).kernel(network: net, inputs: x)
        #expect(Self.maxRelativeError(sum, reference) <= 1e-13 * Double(reference.rows))
        // K_0 directly from the Jacobian slice.
        let j = try net.jacobian(x), r = split.slices[0].range, k = net.outputCount
        let full0 = Matrix<Double>(rows: j.rows, columns: j.rows) { a, b in r.reduce(0) { $0 + j[a, $1] * j[b, $1] } }
        let direct0 = kind == .full ? full0 : Matrix<Double>(rows: 7, columns: 7) { a, b in
            (0..<k).reduce(0) { $0 + full0[a * k + $1, b * k + $1] }
        }
        #expect(Self.maxRelativeError(kernels[0], direct0) <= 1e-13 * Double(j.rows))
    }

    /// The Float path: per-layer kernels, exact traces and Hutchinson traces (same seed) of a
    /// Float network agree with the Double network of the same parameters to Float round-off.
    @Test func floatPathAgreesWithDouble() throws {
        let spec = ModelSpec.mlp(inputSize: 4, hiddenSizes: [6, 5], outputSize: 2, activation: .tanh)
        let net: Network<Double> = try spec.makeNetwork(seed: 12)
        let netF: Network<Float> = try spec.makeNetwork(seed: 12)
        let x: Matrix<Double> = try Self.inputs(6, 4)
        let xF = Matrix<Float>(rows: 6, columns: 4) { Float(x[$0, $1]) }
        let split = try LayerwiseNTK(network: net), splitF = try LayerwiseNTK(network: netF)
        for (k, kF) in zip(try split.exactKernels(inputs: x), try splitF.exactKernels(inputs: xF)) {
            #expect(Self.maxRelativeError(kF, k) <= 1e-5)
        }
        for (t, tF) in zip(try split.exactTraces(inputs: x), try splitF.exactTraces(inputs: xF)) {
            #expect(abs(tF - t) <= 1e-5 * t)
        }
        for (e, eF) in zip(try split.traces(inputs: x, probes: 8, seed: 4), try splitF.traces(inputs: xF, probes: 8, seed: 4)) {
            #expect(abs(eF.value - e.value) <= 1e-5 * e.value)
        }
    }

    /// Hutchinson per-layer traces (same probes for all layers): each 99 % interval covers the
    /// exact tr K_l (seeded; the t-interval over 400 probes), and the last entry's samples are the
    /// sums, so it covers tr K.
    @Test(arguments: [KernelKind.full, .traced])
    func perLayerTracesCoverTheExactTraces(kind: KernelKind) throws {
        let net: Network<Double> = try ModelSpec.mlp(inputSize: 4, hiddenSizes: [6, 5], outputSize: 2, activation: .tanh)
            .makeNetwork(seed: 6)
        let x: Matrix<Double> = try Self.inputs(9, 4)
        let split = try LayerwiseNTK(network: net, kind: kind)
        let exact = try split.exactKernels(inputs: x).map { k in (0..<k.rows).reduce(0) { $0 + k[$1, $1] } }
        let estimates = try split.traces(inputs: x, probes: 400, block: 16, seed: 11, confidenceLevel: 0.99)
        #expect(estimates.count == exact.count + 1)
        for (l, t) in exact.enumerated() {
            #expect(estimates[l].lower <= t && t <= estimates[l].upper, "layer \(l): \(estimates[l]) vs \(t)")
            #expect(estimates[l].relativeHalfWidth < 0.2)  // informative, not a vacuous interval
        }
        let unitTraces = try split.exactTraces(inputs: x, block: 5)
        for (l, t) in exact.enumerated() { #expect(abs(unitTraces[l] - t) <= 1e-12 * t, "exact trace of layer \(l)") }
        let total = exact.reduce(0, +)
        #expect(estimates.last!.lower <= total && total <= estimates.last!.upper)
        #expect(abs(estimates.last!.value - estimates.dropLast().reduce(0) { $0 + $1.value }) <= 1e-12 * total)
    }

    /// Per-layer entropies from deflated SLQ on the masked operator against the exact spectra of
    /// the dense K_l: within the estimate's interval widened by its deterministic bias bound.
    @Test func perLayerEntropiesMatchExactSpectra() throws {
        let net: Network<Double> = try ModelSpec.mlp(inputSize: 4, hiddenSizes: [8, 6], outputSize: 2, activation: .tanh)
            .makeNetwork(seed: 8)
        let x: Matrix<Double> = try Self.inputs(20, 4)
        let split = try LayerwiseNTK(network: net, kind: .full)
        let exact = try split.exactKernels(inputs: x).map { try SpectrumStatistics(eigenvalues: SymmetricEigen($0).values) }
        var configuration = SpectralEstimator.Configuration()
        configuration.seed = 3
        let reports = try split.entropies(inputs: x, estimator: SpectralEstimator(configuration))
        for (l, report) in reports.enumerated() {
            let slack = report.entropy.biasBound ?? 0
            #expect(report.entropy.lower - slack - 1e-9 <= exact[l].entropy && exact[l].entropy <= report.entropy.upper + slack + 1e-9,
                    "layer \(l): \(report.entropy) vs \(exact[l].entropy)")
            #expect(abs(report.entropy.value - exact[l].entropy) <= 0.03 * exact[l].entropy)
            #expect(abs(report.trace.value - exact[l].trace) <= 0.1 * exact[l].trace)
        }
        // The masked operator is K_l: one product against the dense matrix.
        let ntk = try EmpiricalNTK(network: net, inputs: x)
        let op = try split.layerOperator(ntk, index: 1)
        var g = SeededGenerator(seed: 1)
        let v = try Matrix<Double>(rows: 2, columns: 40, storage: [Double].gaussian(count: 80, using: &g))
        var u = Matrix<Double>(rows: 2, columns: 40)
        try op.apply(v, into: &u)
        let dense = try split.exactKernels(inputs: x)[1]
        #expect(Self.maxRelativeError(u, try v.multiplied(by: dense)) <= 1e-12)
    }
}

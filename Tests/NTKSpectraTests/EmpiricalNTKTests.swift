import Foundation
import NTKLinearAlgebra
import NTKNetworks
import Testing
@testable import NTKSpectra

/// The streamed block NTK product against the kernel J Jᵀ of a Jacobian materialized from
/// JVPs with identity tangents (an independent route: no VJP involved).
@Suite("EmpiricalNTK operator")
struct EmpiricalNTKTests {
    init() throws { try BLASThreads.set(1) }

    static func inputs<T: BLASScalar>(_ n: Int, _ d: Int, seed: UInt64 = 5) throws -> Matrix<T> {
        var g = SeededGenerator(seed: seed)
        return try Matrix(rows: n, columns: d, storage: [T].gaussian(count: n * d, using: &g))
    }

    /// K from J (rows i·k + c): full = J Jᵀ, traced = Σ_c J_c J_cᵀ.
    static func referenceKernel(_ net: Network<Double>, _ x: Matrix<Double>, _ kind: KernelKind) throws -> Matrix<Double> {
        let (j, _) = try ExactNTK().jacobian(network: net, inputs: x)
        let full = try j.multiplied(by: j, transposeOther: true)
        guard kind == .traced else { return full }
        let n = x.rows, k = net.outputCount
        return Matrix(rows: n, columns: n) { i, jj in (0..<k).reduce(0) { $0 + full[i * k + $1, jj * k + $1] } }
    }

    static func maxRelativeError(_ a: Matrix<Double>, _ b: Matrix<Double>) -> Double {
        let scale = b.storage.map(abs).max() ?? 1
        return zip(a.storage, b.storage).map { abs($0 - $1) }.max()! / scale
    }

    /// MLP, CNN, then the transformer (plain, causal) and GCN (node-, graph-level) families.
    static let networks: [(String, ModelSpec)] = [
        ("mlp", .mlp(inputSize: 5, hiddenSizes: [7, 6], outputSize: 3, activation: .tanh)),
        ("cnn", .cnn(inputShape: [1, 4, 4], channels: [2], outputSize: 2, activation: .tanh)),
    ] + SequenceAndGraphModels.all

    @Test(arguments: [KernelKind.full, .traced], 0..<6)
    func blockProductEqualsMaterializedKernel(kind: KernelKind, which: Int) throws {
        let spec = Self.networks[which].1
        let net: Network<Double> = try spec.makeNetwork(seed: 3)
        let x: Matrix<Double> = try Self.inputs(11, net.inputSize)
        let reference = try Self.referenceKernel(net, x, kind)
        let dim = reference.rows
        // Identity blocks (the exact path) with a partial last batch.
        // Every exact route: per-layer Gram products, and identity blocks of both operators.
        let exact = ExactNTK(kind: kind, batchSize: 4)
        for (dense, _) in [try exact.kernel(network: net, inputs: x),
                           try exact.kernelColumns(network: net, inputs: x, preference: .structured),
                           try exact.kernelColumns(network: net, inputs: x, preference: .jvpVJP)] {
            #expect(Self.maxRelativeError(dense, reference) <= 1e-13 * Double(dim), "\(Self.networks[which].0)")
        }
        // Random blocks, s = 1 and s = 3, with and without cached activations.
        for budget in [1 << 30, 0] {
            let op = try EmpiricalNTK(network: net, inputs: x, kind: kind, batchSize: 4, cacheBudgetBytes: budget)
            #expect(op.cachesAllBatches == (budget > 0))
            for s in [1, 3] {
                var g = SeededGenerator(seed: UInt64(s))
                let v = try Matrix(rows: s, columns: dim, storage: [Double].gaussian(count: s * dim, using: &g))
                var u = Matrix<Double>(rows: s, columns: dim)
                try op.apply(v, into: &u)
                let expected = try v.multiplied(by: reference)  // rows: (K v_t)ᵀ, K symmetric
                #expect(Self.maxRelativeError(u, expected) <= 1e-13 * Double(dim), "\(Self.networks[which].0) s=\(s)")
            }
            #expect(op.cost.matvecs == 4 && op.cost.blockApplications == 2 && op.cost.dataPasses == 4)
        }
    }

    @Test(arguments: [KernelKind.full, .traced], [0, 2, 3, 4, 5])
    func exactDiagonalAndTraceFromPerExampleGradients(kind: KernelKind, which: Int) throws {
        let net: Network<Double> = try Self.networks[which].1.makeNetwork(seed: 4)
        let x: Matrix<Double> = try Self.inputs(13, net.inputSize)
        let reference = try Self.referenceKernel(net, x, kind)
        let op = try EmpiricalNTK(network: net, inputs: x, kind: kind, batchSize: 5)
        let diagonal = try op.exactDiagonal()
        #expect(diagonal.count == reference.rows)
        for i in 0..<diagonal.count {
            #expect(abs(diagonal[i] - reference[i, i]) <= 1e-13 * Double(reference.rows) * reference[i, i],
                    "\(Self.networks[which].0) entry \(i)")
        }
        #expect(abs(try op.exactTrace() - reference.trace) <= 1e-12 * reference.trace)
    }

    /// The data-parallel identity behind `NTKDistributed`: with the examples split into
    /// contiguous shards, Σ_r pullback_r(V_r) = G and pushforward_r(G) are the rows of K V.
    @Test(arguments: [KernelKind.full, .traced], [0, 1])
    func shardedPullbackAndPushforwardEqualApply(kind: KernelKind, which: Int) throws {
        let net: Network<Double> = try Self.networks[which].1.makeNetwork(seed: 6)
        let x: Matrix<Double> = try Self.inputs(10, net.inputSize)
        let whole = try EmpiricalNTK(network: net, inputs: x, kind: kind, batchSize: 3)
        let dim = whole.dimension, perExample = dim / x.rows, s = 2
        var g = SeededGenerator(seed: 2)
        let v = try Matrix(rows: s, columns: dim, storage: [Double].gaussian(count: s * dim, using: &g))
        var expected = Matrix<Double>(rows: s, columns: dim)
        try whole.apply(v, into: &expected)
        let shards = [0..<4, 4..<5, 5..<10]   // uneven, one of a single example
        let ops = try shards.map { r in
            try EmpiricalNTK(network: net, inputs: Matrix(rows: r.count, columns: x.columns,
                                                          storage: Array(x.storage[(r.lowerBound * x.columns)..<(r.upperBound * x.columns)])),
                             kind: kind, batchSize: 3)
        }
        func columns(_ m: Matrix<Double>, _ r: Range<Int>) -> Matrix<Double> {
            let first = r.lowerBound * perExample
            return Matrix(rows: m.rows, columns: r.count * perExample) { t, j in m[t, first + j] }
        }
        var total = [Double](repeating: 0, count: whole.parameterBlockWidth(vectors: s) * net.parameterCount)
        for (op, r) in zip(ops, shards) {
            var local: [Double] = []
            try op.pullback(columns(v, r), into: &local)
            #expect(local.count == total.count)
            for i in total.indices { total[i] += local[i] }
        }
        for (op, r) in zip(ops, shards) {
            var rows = Matrix<Double>(rows: s, columns: r.count * perExample)
            try op.pushforward(total, into: &rows)
            #expect(Self.maxRelativeError(rows, columns(expected, r)) <= 1e-13 * Double(dim))
            #expect(op.cost.matvecs == s && op.cost.blockApplications == 1 && op.cost.dataPasses == 2)
        }
        var wrong = Matrix<Double>(rows: s + 1, columns: ops[0].dimension)
        #expect(throws: NTKError.self) { try ops[0].pushforward(total, into: &wrong) }
    }

    @Test func floatOperatorAgreesWithDouble() throws {
        let spec = Self.networks[0].1
        let netD: Network<Double> = try spec.makeNetwork(seed: 8)
        let netF = try Network<Float>(body: spec.makeNetwork(Float.self, seed: 8).body,
                                      parameters: netD.parameters.map(Float.init))
        let xD: Matrix<Double> = try Self.inputs(9, netD.inputSize)
        let xF = xD.converted(to: Float.self)
        let opD = try EmpiricalNTK(network: netD, inputs: xD), opF = try EmpiricalNTK(network: netF, inputs: xF)
        var g = SeededGenerator(seed: 1)
        let v = try Matrix(rows: 2, columns: opD.dimension, storage: [Double].gaussian(count: 2 * opD.dimension, using: &g))
        var uD = Matrix<Double>(rows: 2, columns: opD.dimension), uF = uD
        try opD.apply(v, into: &uD)
        try opF.apply(v, into: &uF)
        // Float round-off through ~4 layers of GEMMs of width ≤ 7 and the O(dim) sums.
        #expect(Self.maxRelativeError(uF, uD) <= 100 * Double(Float.ulpOfOne) * Double(opD.dimension).squareRoot())
    }

    @Test func exactRoutesAgree() throws {
        // P < N: the Jacobian route (JᵀJ) and the kernel route must give the same spectrum.
        let net: Network<Double> = try ModelSpec.mlp(inputSize: 2, hiddenSizes: [3], outputSize: 2).makeNetwork(seed: 2)
        let x: Matrix<Double> = try Self.inputs(30, 2)
        #expect(net.parameterCount < 60)
        let viaJacobian = try ExactNTK().spectrum(network: net, inputs: x)
        let viaKernel = try ExactNTK().spectrum(network: net, inputs: x, keepKernel: true)
        #expect(viaJacobian.route == .jacobian && viaKernel.route == .structuredGram)
        #expect(viaJacobian.eigenvalues.count == 60 && viaKernel.eigenvalues.count == 60)
        let top = viaKernel.eigenvalues.last!
        for (a, b) in zip(viaJacobian.eigenvalues, viaKernel.eigenvalues) { #expect(abs(a - b) <= 1e-12 * 60 * top) }
        #expect(abs(viaJacobian.statistics.entropy - viaKernel.statistics.entropy) <= 1e-10)
    }

    @Test func rejectsBadInputs() throws {
        let net: Network<Double> = try Self.networks[0].1.makeNetwork(seed: 1)
        let wrong: Matrix<Double> = try Self.inputs(4, net.inputSize + 1)
        #expect(throws: NTKError.self) { _ = try EmpiricalNTK(network: net, inputs: wrong) }
        var bad: Matrix<Double> = try Self.inputs(4, net.inputSize)
        bad[1, 2] = .nan
        #expect(throws: NTKError.self) { _ = try EmpiricalNTK(network: net, inputs: bad) }
        let x: Matrix<Double> = try Self.inputs(4, net.inputSize)
        #expect(throws: NTKError.self) { _ = try EmpiricalNTK(network: net, inputs: x, batchSize: 0) }
        #expect(throws: NTKError.self) { _ = try ExactNTK(memoryBudgetBytes: 16).kernel(network: net, inputs: x) }
    }
}

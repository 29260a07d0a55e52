import NTKLinearAlgebra
import Testing

@testable import NTKNetworks

@Suite("Dense Jacobian and exact NTK diagonal")
struct JacobianTests {
    /// J v (dense, from per-example identity VJPs) equals the batched JVP, and the row norms
    /// are the NTK diagonal; tolerance 1e-12 relative (≈ P·ε for the dot products).
    @Test func jacobianMatchesJVPAndRowNorms() throws {
        try BLASThreads.set(1)
        let network: Network<Double> = try ModelSpec.cnn(inputShape: [1, 4, 4], channels: [2], outputSize: 3, activation: .tanh)
            .makeNetwork(seed: 3)
        var rng = SeededGenerator(seed: 4)
        let n = 4, k = network.outputCount, P = network.parameterCount
        let x = try Matrix<Double>(rows: n, columns: network.inputSize, storage: .gaussian(count: n * network.inputSize, using: &rng))
        let j = try network.jacobian(x)
        #expect(j.rows == n * k && j.columns == P)
        let v = [Double].gaussian(count: P, using: &rng)
        let jv = try j.multiplied(by: Matrix(rows: P, columns: 1, storage: v)).storage
        let cache = try x.storage.withUnsafeBufferPointer { try network.forwardCache(inputs: $0, batch: n) }
        let direct = try DerivativeHarness.jvp(network, cache, parameterTangents: v, inputTangents: nil, block: 1)
        DerivativeHarness.expectClose(jv, direct, relative: 1e-12, floor: 1, "dense J·v vs JVP", #_sourceLocation)
        let norms = try network.jacobianRowSquaredNorms(x)
        let fromJ = (0..<(n * k)).map { r in j.row(r).reduce(0) { $0 + $1 * $1 } }
        DerivativeHarness.expectClose(norms, fromJ, relative: 1e-12, floor: 1, "row norms", #_sourceLocation)
        // tr(J Jᵀ) = Σ row norms.
        let ntk = try j.multiplied(by: j, transposeOther: true)
        #expect(abs(ntk.trace - norms.reduce(0, +)) <= 1e-12 * ntk.trace)
    }

    @Test func parameterFreeNetworkHasAnEmptyJacobian() throws {
        let network: Network<Double> = try ModelSpec(inputShape: [3], layers: [.activation(.tanh)]).makeNetwork()
        let x = try Matrix<Double>(rows: 2, columns: 3, storage: [1, 2, 3, 4, 5, 6])
        let j = try network.jacobian(x)
        #expect(j.rows == 6 && j.columns == 0)
        #expect(try network.jacobianRowSquaredNorms(x) == [0, 0, 0, 0, 0, 0])
    }
}

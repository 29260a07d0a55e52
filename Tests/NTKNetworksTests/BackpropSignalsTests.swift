import NTKLinearAlgebra
import Testing
@testable import NTKNetworks

/// Backprop signals δ_l and per-layer parameter-only passes against the whole-network VJP and
/// JVP: Σ_l VJP_l(Σ_c v_c δ_{c,l}) must equal VJP(v), and ⟨δ_{c,l}, JVP_l(θ̇)⟩ summed over l
/// must equal JVP(θ̇)_c.
@Suite("Backprop signals")
struct BackpropSignalsTests {
    init() throws { try BLASThreads.set(1) }

    static let specs: [ModelSpec] = [
        .mlp(inputSize: 4, hiddenSizes: [5, 3], outputSize: 2, activation: .tanh),
        .cnn(inputShape: [1, 4, 4], channels: [2], outputSize: 3, activation: .tanh),
        .resnet(inputShape: [1, 4, 4], width: 2, blocks: 1, outputSize: 2, activation: .tanh),
    ]

    @Test(arguments: 0..<3)
    func layerwisePassesReassembleTheNetworkDerivatives(which: Int) throws {
        try Self.checkReassembly(Self.specs[which])
    }

    /// The check for any network (the graph tests call it for layer graphs).
    static func checkReassembly(_ factory: some NetworkFactory) throws {
        let net: Network<Double> = try factory.makeNetwork(seed: 11)
        let b = 3, k = net.outputCount, p = net.parameterCount
        var g = SeededGenerator(seed: 12)
        let x = [Double].gaussian(count: b * net.inputSize, using: &g)
        let cache = try x.withUnsafeBufferPointer { try net.forwardCache(inputs: $0, batch: b) }
        let signals = net.makeBackpropSignals(capacity: b)
        try net.backpropSignals(cache: cache, workspace: net.makeBlockWorkspace(batch: b, block: k), into: signals)
        let last = net.layers.count - 1
        if let top = signals.signals(layer: last) {   // the output layer's δ is the identity
            for i in 0..<b { for c in 0..<k { for o in 0..<k { #expect(top[(i * k + c) * k + o] == (c == o ? 1 : 0)) } } }
        }
        let ws = net.makeLayerWorkspace(batch: b, block: 1)

        // VJP: one cotangent vector v [b, 1, k].
        let v = [Double].gaussian(count: b * k, using: &g)
        var expected = [Double](repeating: 0, count: p), assembled = expected
        try v.withUnsafeBufferPointer { vp in
            try expected.withUnsafeMutableBufferPointer { ep in
                try net.vjp(cache: cache, outputCotangents: vp.baseAddress!, block: 1,
                            workspace: net.makeBlockWorkspace(batch: b, block: 1), parameterCotangents: ep.baseAddress!)
            }
        }
        for l in net.parameterizedLayerIndices {
            let d = try #require(signals.signals(layer: l))
            let out = net.layers[l].outputSize
            var u = [Double](repeating: 0, count: b * out)
            for i in 0..<b { for c in 0..<k { for o in 0..<out { u[i * out + o] += v[i * k + c] * d[(i * k + c) * out + o] } } }
            try u.withUnsafeBufferPointer { up in
                try assembled.withUnsafeMutableBufferPointer { ap in
                    try net.parameterVJP(layer: l, cache: cache, outputCotangents: up.baseAddress!, block: 1, workspace: ws,
                                         parameterCotangents: ap.baseAddress! + net.body.parameterOffsets[l], parameterStride: p)
                }
            }
        }
        let scale = expected.map(abs).max() ?? 1
        for j in 0..<p { #expect(abs(assembled[j] - expected[j]) <= 1e-13 * Double(p) * scale) }

        // JVP: one parameter tangent θ̇.
        let tangent = [Double].gaussian(count: p, using: &g)
        var jvp = [Double](repeating: 0, count: b * k), layered = jvp
        try tangent.withUnsafeBufferPointer { tp in
            try jvp.withUnsafeMutableBufferPointer { op in
                try net.jvp(cache: cache, parameterTangents: tp.baseAddress!, block: 1,
                            workspace: net.makeBlockWorkspace(batch: b, block: 1), outputTangents: op.baseAddress!)
            }
        }
        for l in net.parameterizedLayerIndices {
            let d = try #require(signals.signals(layer: l))
            let out = net.layers[l].outputSize
            var y = [Double](repeating: 0, count: b * out)
            try tangent.withUnsafeBufferPointer { tp in
                try y.withUnsafeMutableBufferPointer { yp in
                    try net.parameterJVP(layer: l, cache: cache, parameterTangents: tp.baseAddress! + net.body.parameterOffsets[l],
                                         parameterStride: p, block: 1, workspace: ws, outputTangents: yp.baseAddress!)
                }
            }
            for i in 0..<b { for c in 0..<k { for o in 0..<out { layered[i * k + c] += d[(i * k + c) * out + o] * y[i * out + o] } } }
        }
        let jscale = jvp.map(abs).max() ?? 1
        for j in 0..<(b * k) { #expect(abs(layered[j] - jvp[j]) <= 1e-13 * Double(p) * jscale) }
    }

    @Test func rejectsBadCalls() throws {
        let net: Network<Double> = try Self.specs[0].makeNetwork(seed: 1)
        let empty = net.makeForwardCache(capacity: 2)
        let signals = net.makeBackpropSignals(capacity: 2)
        #expect(signals.signals(layer: 1) == nil)   // an activation has no parameters
        #expect(throws: NetworkError.self) {
            try net.backpropSignals(cache: empty, workspace: net.makeBlockWorkspace(batch: 2, block: 2), into: signals)
        }
        let x = [Double](repeating: 0.5, count: 3 * net.inputSize)
        let cache = try x.withUnsafeBufferPointer { try net.forwardCache(inputs: $0, batch: 3) }
        // Signals for 2 examples cannot hold a batch of 3; a block-1 workspace is too small for k = 2.
        #expect(throws: NetworkError.self) {
            try net.backpropSignals(cache: cache, workspace: net.makeBlockWorkspace(batch: 3, block: 2), into: signals)
        }
        #expect(throws: NetworkError.self) {
            try net.backpropSignals(cache: cache, workspace: net.makeBlockWorkspace(batch: 3, block: 1),
                                    into: net.makeBackpropSignals(capacity: 3))
        }
        var buffer = [Double](repeating: 0, count: 3 * 8 * net.parameterCount)
        let tiny = net.makeLayerWorkspace(batch: 1, block: 1)
        buffer.withUnsafeMutableBufferPointer { bp in
            let base = bp.baseAddress!
            #expect(throws: NetworkError.self) {   // index out of range
                try net.parameterVJP(layer: 9, cache: cache, outputCotangents: base, block: 1, workspace: tiny,
                                     parameterCotangents: base, parameterStride: net.parameterCount)
            }
            #expect(throws: NetworkError.self) {   // workspace sized for 1 example and 1 vector
                try net.parameterJVP(layer: 0, cache: cache, parameterTangents: base, parameterStride: net.parameterCount,
                                     block: 8, workspace: tiny, outputTangents: base)
            }
            #expect(throws: NetworkError.self) {   // stride shorter than the layer's parameters
                try net.parameterJVP(layer: 0, cache: cache, parameterTangents: base, parameterStride: 1,
                                     block: 1, workspace: net.makeLayerWorkspace(batch: 3, block: 1), outputTangents: base)
            }
        }
        #expect(throws: NetworkError.self) { _ = try net.layerInput(7, in: cache) }
    }
}

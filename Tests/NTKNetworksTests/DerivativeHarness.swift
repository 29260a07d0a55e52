import Foundation
import NTKLinearAlgebra
import Testing

@testable import NTKNetworks

/// The one derivative-check harness every layer and model test calls. For a network built
/// from `spec` it runs, on random data from fixed seeds:
///
/// 1. JVP vs central finite differences in Double (parameter and input directions separately),
///    step h = 1e-6: round-off ε‖f‖/h ≈ 2e-10‖f‖ plus truncation h²‖f'''‖/6 ≈ 1e-13, so a
///    tolerance of 1e-6·max(1, ‖ẏ‖∞) leaves ≥ 3 orders of magnitude of margin.
/// 2. Adjoint (dot-product) tests ⟨ȳ, J v⟩ = ⟨Jᵀ ȳ, v⟩ for parameter and input tangents,
///    tolerance 1e-12 relative to the Cauchy–Schwarz scale ‖ȳ‖‖J v‖ + ‖Jᵀȳ‖‖v‖ (≈ depth·ε with
///    a wide margin), plus the accumulation contract of the parameter VJP.
/// 3. A block of s = 3 vectors equals 3 single-vector calls (JVP and VJP), to 1e-12 relative.
/// 4. Float agrees with Double (forward, JVP, VJP) to 1e-4 relative (≈ 840 ε_float, for
///    networks of a few layers with O(1) condition).
enum DerivativeHarness {
    struct Options {
        var batch = 3
        var seed: UInt64 = 1
        /// Skip the finite-difference check (e.g. ReLU nets with pre-activations near a kink);
        /// the adjoint, block and precision checks still run.
        var finiteDifferences = true
        var floatTolerance = 1e-4
        /// Standard deviation of Gaussian noise added to θ after initialization (e.g. to move
        /// LayerNorm gains away from 1).
        var parameterNoise = 0.0
        /// Inputs are integer token ids drawn uniformly from 0..<tokens (an `Embedding` first)
        /// instead of Gaussian values. The ids are not differentiable: the input
        /// finite-difference check becomes a check that the input JVP is zero.
        var tokens: Int? = nil
    }

    static func check(_ spec: some NetworkFactory, _ options: Options = Options(), sourceLocation: SourceLocation = #_sourceLocation) throws {
        try BLASThreads.set(1)
        var network: Network<Double> = try spec.makeNetwork(seed: options.seed)
        var rng = SeededGenerator(seed: options.seed &+ 1000)
        if options.parameterNoise > 0 {
            let noise = [Double].gaussian(count: network.parameterCount, using: &rng)
            for i in noise.indices { network.parameters[i] += options.parameterNoise * noise[i] }
        }
        let b = options.batch, n = network.inputSize, k = network.outputCount, P = network.parameterCount
        let x = options.tokens.map { count in (0..<(b * n)).map { _ in Double(rng.next() % UInt64(count)) } }
            ?? [Double].gaussian(count: b * n, using: &rng)
        let cache = try x.withUnsafeBufferPointer { try network.forwardCache(inputs: $0, batch: b) }
        let finite = cache.outputs.storage.allSatisfy { $0.isFinite }
        #expect(finite, sourceLocation: sourceLocation)

        // 1. Finite differences.
        if options.finiteDifferences {
            let h = 1e-6
            if P > 0 {
                let v = [Double].gaussian(count: P, using: &rng)
                let jv = try jvp(network, cache, parameterTangents: v, inputTangents: nil, block: 1)
                var plus = network, minus = network
                for i in 0..<P {
                    plus.parameters[i] += h * v[i]
                    minus.parameters[i] -= h * v[i]
                }
                let fd = try zip(outputs(plus, x, b), outputs(minus, x, b)).map { ($0 - $1) / (2 * h) }
                expectClose(fd, jv, relative: 1e-6, floor: 1, "parameter JVP vs finite differences", sourceLocation)
            }
            let u = [Double].gaussian(count: b * n, using: &rng)
            let ju = try jvp(network, cache, parameterTangents: nil, inputTangents: u, block: 1)
            if options.tokens != nil {
                #expect(ju.allSatisfy { $0 == 0 }, "input JVP of token ids is zero", sourceLocation: sourceLocation)
            } else {
                let xp = zip(x, u).map { $0 + h * $1 }, xm = zip(x, u).map { $0 - h * $1 }
                let fd = try zip(outputs(network, xp, b), outputs(network, xm, b)).map { ($0 - $1) / (2 * h) }
                expectClose(fd, ju, relative: 1e-6, floor: 1, "input JVP vs finite differences", sourceLocation)
            }
        }

        // 2. Adjoint tests with a block of s = 3.
        let s = 3
        let thetaDot = [Double].gaussian(count: s * P, using: &rng)
        let xDot = [Double].gaussian(count: b * s * n, using: &rng)
        let yBar = [Double].gaussian(count: b * s * k, using: &rng)
        let jTheta = try jvp(network, cache, parameterTangents: thetaDot, inputTangents: nil, block: s)
        let jX = try jvp(network, cache, parameterTangents: nil, inputTangents: xDot, block: s)
        let (thetaBar, xBar) = try vjp(network, cache, yBar, block: s, initial: nil)
        expectAdjoint(yBar, jTheta, thetaBar, thetaDot, "parameter adjoint", sourceLocation)
        expectAdjoint(yBar, jX, xBar, xDot, "input adjoint", sourceLocation)
        // Accumulation: θ̄ starts from c and ends at c + Jᵀȳ.
        let c = [Double].gaussian(count: s * P, using: &rng)
        let (accumulated, _) = try vjp(network, cache, yBar, block: s, initial: c)
        expectClose(accumulated, zip(c, thetaBar).map(+), relative: 1e-13, floor: 1, "VJP accumulates", sourceLocation)
        // The parameter-only VJP (no input cotangent: the chain stops at the first parameterized
        // layer) gives the same θ̄.
        let parametersOnly = try vjpParameters(network, cache, yBar, block: s)
        expectClose(parametersOnly, thetaBar, relative: 1e-13, floor: 1, "parameter-only VJP", sourceLocation)
        // Both tangents together are the sum.
        let jBoth = try jvp(network, cache, parameterTangents: thetaDot, inputTangents: xDot, block: s)
        expectClose(jBoth, zip(jTheta, jX).map(+), relative: 1e-12, floor: 1, "JVP is linear in (θ̇, ẋ)", sourceLocation)

        // 3. Block of s equals s single-vector calls.
        for t in 0..<s {
            let thetaT = Array(thetaDot[(t * P)..<((t + 1) * P)])
            let xT = column(xDot, t, block: s, batch: b, width: n)
            let yT = column(yBar, t, block: s, batch: b, width: k)
            let single = try jvp(network, cache, parameterTangents: thetaT, inputTangents: xT, block: 1)
            let fromBlock = column(jBoth, t, block: s, batch: b, width: k)
            expectClose(single, fromBlock, relative: 1e-12, floor: 1, "block JVP column \(t)", sourceLocation)
            let (thetaBarT, xBarT) = try vjp(network, cache, yT, block: 1, initial: nil)
            let thetaBarFromBlock = Array(thetaBar[(t * P)..<((t + 1) * P)])
            expectClose(thetaBarT, thetaBarFromBlock, relative: 1e-12, floor: 1, "block VJP θ̄ column \(t)", sourceLocation)
            let xBarFromBlock = column(xBar, t, block: s, batch: b, width: n)
            expectClose(xBarT, xBarFromBlock, relative: 1e-12, floor: 1, "block VJP x̄ column \(t)", sourceLocation)
        }

        // 4. Float vs Double.
        var floatNet: Network<Float> = try spec.makeNetwork(seed: options.seed)
        floatNet.parameters = network.parameters.map { Float($0) }
        let xF = x.map { Float($0) }
        let cacheF = try xF.withUnsafeBufferPointer { try floatNet.forwardCache(inputs: $0, batch: b) }
        let tol = options.floatTolerance
        expectClose(cacheF.outputs.storage.map(Double.init), cache.outputs.storage, relative: tol, floor: 0, "Float forward", sourceLocation)
        let jF = try jvp(floatNet, cacheF, parameterTangents: thetaDot.map { Float($0) }, inputTangents: xDot.map { Float($0) }, block: s)
        expectClose(jF.map(Double.init), jBoth, relative: tol, floor: 0, "Float JVP", sourceLocation)
        let (thetaBarF, xBarF) = try vjp(floatNet, cacheF, yBar.map { Float($0) }, block: s, initial: nil)
        expectClose(thetaBarF.map(Double.init), thetaBar, relative: tol, floor: 0, "Float parameter VJP", sourceLocation)
        expectClose(xBarF.map(Double.init), xBar, relative: tol, floor: 0, "Float input VJP", sourceLocation)
    }

    // MARK: Helpers

    static func outputs<S: BLASScalar>(_ network: Network<S>, _ x: [S], _ b: Int) throws -> [S] {
        try network.forward(Matrix(rows: b, columns: network.inputSize, storage: x)).storage
    }

    static func jvp<S: BLASScalar>(
        _ network: Network<S>, _ cache: ForwardCache<S>, parameterTangents: [S]?, inputTangents: [S]?, block s: Int
    ) throws -> [S] {
        let workspace = network.makeBlockWorkspace(batch: cache.batch, block: s)
        var out = [S](repeating: .nan, count: cache.batch * s * network.outputCount)
        try withOptionalPointer(parameterTangents) { pt in
            try withOptionalPointer(inputTangents) { it in
                try out.withUnsafeMutableBufferPointer { o in
                    try network.jvp(
                        cache: cache, parameterTangents: pt, inputTangents: it, block: s, workspace: workspace,
                        outputTangents: o.baseAddress!)
                }
            }
        }
        return out
    }

    static func vjp<S: BLASScalar>(
        _ network: Network<S>, _ cache: ForwardCache<S>, _ yBar: [S], block s: Int, initial: [S]?
    ) throws -> (parameters: [S], inputs: [S]) {
        let workspace = network.makeBlockWorkspace(batch: cache.batch, block: s)
        var thetaBar = initial ?? [S](repeating: 0, count: s * network.parameterCount)
        var xBar = [S](repeating: .nan, count: cache.batch * s * network.inputSize)
        try yBar.withUnsafeBufferPointer { y in
            try thetaBar.withUnsafeMutableBufferPointer { t in
                try xBar.withUnsafeMutableBufferPointer { xb in
                    try network.vjp(
                        cache: cache, outputCotangents: y.baseAddress!, block: s, workspace: workspace,
                        parameterCotangents: t.baseAddress, inputCotangents: xb.baseAddress!)
                }
            }
        }
        return (thetaBar, xBar)
    }

    static func vjpParameters<S: BLASScalar>(_ network: Network<S>, _ cache: ForwardCache<S>, _ yBar: [S], block s: Int) throws -> [S] {
        let workspace = network.makeBlockWorkspace(batch: cache.batch, block: s)
        var thetaBar = [S](repeating: 0, count: s * network.parameterCount)
        try network.vjp(cache: cache, outputCotangents: yBar, block: s, workspace: workspace, parameterCotangents: &thetaBar)
        return thetaBar
    }

    static func withOptionalPointer<S, R>(_ a: [S]?, _ body: (UnsafePointer<S>?) throws -> R) rethrows -> R {
        guard let a, !a.isEmpty else { return try body(a == nil ? nil : UnsafePointer<S>(bitPattern: 8)) }
        return try a.withUnsafeBufferPointer { try body($0.baseAddress!) }
    }

    /// Vector t of a [b, s, width] block, as [b, width].
    static func column<S>(_ a: [S], _ t: Int, block s: Int, batch b: Int, width: Int) -> [S] {
        var out: [S] = []
        for i in 0..<b {
            let start = (i * s + t) * width
            out.append(contentsOf: a[start..<(start + width)])
        }
        return out
    }

    static func infNorm(_ a: [Double]) -> Double { a.reduce(0) { max($0, abs($1)) } }
    static func norm(_ a: [Double]) -> Double { a.reduce(0) { $0 + $1 * $1 }.squareRoot() }

    static func expectClose(
        _ a: [Double], _ b: [Double], relative: Double, floor: Double, _ what: String, _ location: SourceLocation
    ) {
        #expect(a.count == b.count, "\(what): sizes \(a.count) vs \(b.count)", sourceLocation: location)
        let error = infNorm(zip(a, b).map(-))
        let scale = max(infNorm(b), floor)
        #expect(error <= relative * scale, "\(what): ‖Δ‖∞ = \(error), allowed \(relative * scale)", sourceLocation: location)
    }

    static func expectAdjoint(
        _ yBar: [Double], _ jv: [Double], _ jtY: [Double], _ v: [Double], _ what: String, _ location: SourceLocation
    ) {
        let lhs = zip(yBar, jv).reduce(0) { $0 + $1.0 * $1.1 }
        let rhs = zip(jtY, v).reduce(0) { $0 + $1.0 * $1.1 }
        let scale = norm(yBar) * norm(jv) + norm(jtY) * norm(v)
        #expect(abs(lhs - rhs) <= 1e-12 * max(scale, 1e-300), "\(what): ⟨ȳ, Jv⟩ = \(lhs), ⟨Jᵀȳ, v⟩ = \(rhs)", sourceLocation: location)
    }
}

import Foundation
import NTKLinearAlgebra
import NTKNetworks
import Testing
@testable import NTKSpectra

/// Every ensemble statistic against a direct computation over the stored samples.
@Suite("Kernel ensembles")
struct KernelEnsembleTests {
    init() throws { try BLASThreads.set(1) }

    static func directMoments(_ x: [Double]) -> (mean: Double, variance: Double) {
        let mean = x.reduce(0, +) / Double(x.count)
        return (mean, x.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(x.count - 1))
    }

    static func close(_ a: Double, _ b: Double, _ tolerance: Double = 1e-12) -> Bool {
        abs(a - b) <= tolerance * max(1, abs(a), abs(b))
    }

    @Test func runningMomentsMatchTwoPassAndMerge() {
        var g = SeededGenerator(seed: 11)
        let x = (0..<101).map { _ in 1e3 + g.nextGaussian() }  // a large offset tests the update's stability
        let direct = Self.directMoments(x)
        let all = RunningMoments(x)
        #expect(all.count == 101 && Self.close(all.mean, direct.mean, 1e-15) && Self.close(all.variance, direct.variance, 1e-10))
        var a = RunningMoments(x[0..<37]), b = RunningMoments(x[37...])
        a.merge(b)
        #expect(a.count == 101 && Self.close(a.mean, direct.mean, 1e-15) && Self.close(a.variance, direct.variance, 1e-10))
        b.merge(RunningMoments())
        #expect(RunningMoments([1.0]).variance.isNaN)
    }

    /// Random PSD kernels A Aᵀ (Float and Double): entry means/variances, trace, entropy and top
    /// eigenvalues against two-pass moments of the directly computed per-kernel values.
    @Test(arguments: [false, true])
    func kernelStatisticsMatchDirectComputation(float: Bool) throws {
        let d = 5, samples = 9
        var g = SeededGenerator(seed: 21)
        var kernels: [Matrix<Double>] = []
        for _ in 0..<samples {
            let a = Matrix<Double>(rows: d, columns: 7) { _, _ in g.nextGaussian() }
            var k = Matrix<Double>(rows: d, columns: d) { i, j in (0..<7).reduce(0) { $0 + a[i, $1] * a[j, $1] } }
            if float { k = Matrix(rows: d, columns: d) { i, j in Double(Float(k[i, j])) } }
            kernels.append(k)
        }
        var ensemble = try KernelEnsemble(dimension: d, topCount: 2)
        var firstHalf = try KernelEnsemble(dimension: d, topCount: 2), secondHalf = firstHalf
        for (s, k) in kernels.enumerated() {
            if float {
                let kf = Matrix<Float>(rows: d, columns: d) { i, j in Float(k[i, j]) }
                try ensemble.add(kf)
                if s < 4 { try firstHalf.add(kf) } else { try secondHalf.add(kf) }
            } else {
                try ensemble.add(k)
                if s < 4 { try firstHalf.add(k) } else { try secondHalf.add(k) }
            }
        }
        try firstHalf.merge(secondHalf)
        for e in [ensemble, firstHalf] {
            #expect(e.count == samples)
            for i in 0..<d {
                for j in 0..<d {
                    let m = Self.directMoments(kernels.map { $0[i, j] })
                    #expect(Self.close(e.mean[i, j], m.mean) && Self.close(e.variance[i, j], m.variance, 1e-10))
                }
            }
            let traces = kernels.map { k in (0..<d).reduce(0) { $0 + k[$1, $1] } }
            let t = Self.directMoments(traces)
            #expect(Self.close(e.trace.mean, t.mean, 1e-10) && Self.close(e.trace.variance, t.variance, 1e-8))
            // Full rank (A is d × 7): entropy −Σ p log p over all eigenvalues.
            let spectra = try kernels.map { try SymmetricEigen($0).values.sorted(by: >) }
            let entropies = zip(spectra, traces).map { spectrum, trace in
                -spectrum.reduce(0) { $0 + $1 / trace * log($1 / trace) }
            }
            let s = Self.directMoments(entropies)
            #expect(Self.close(e.entropy.mean, s.mean, 1e-9) && Self.close(e.entropy.variance, s.variance, 1e-7))
            for r in 0..<2 {
                let l = Self.directMoments(spectra.map { $0[r] })
                #expect(Self.close(e.topEigenvalues[r].mean, l.mean, 1e-10) && Self.close(e.topEigenvalues[r].variance, l.variance, 1e-8))
            }
            let meanSquares = (0..<d * d).reduce(0.0) { acc, j in acc + e.mean.storage[j] * e.mean.storage[j] }
            #expect(Self.close(e.signalToNoise, meanSquares / e.variance.storage.reduce(0, +), 1e-12))
            #expect(Self.close(e.meanEntryVariance, e.variance.storage.reduce(0, +) / Double(d * d), 1e-14))
        }
    }

    @Test func badKernelsAreRefused() throws {
        var e = try KernelEnsemble(dimension: 3)
        #expect(throws: NTKError.self) { try e.add(Matrix<Double>(rows: 2, columns: 2)) }
        #expect(throws: NTKError.self) { try e.add(Matrix<Double>(rows: 3, columns: 3, repeating: .nan)) }
        #expect(throws: NTKError.self) { try e.merge(KernelEnsemble(dimension: 4)) }
        #expect(throws: NTKError.self) { try KernelEnsemble(dimension: 0) }
        #expect(e.count == 0)
    }

    /// The mean-field NTK of the two-layer net against its formula
    /// K(x,x') = (γ₀N)⁻² Σᵢ [φ(hᵢ)φ(hᵢ') + aᵢ² φ'(hᵢ)φ'(hᵢ') x·x'/D], its exact 1/γ₀² scaling at a
    /// fixed seed, and the O(1) rescaled kernel γ₀²N·K at growing N.
    @Test(arguments: [(4, 0.25), (32, 2.0)])
    func meanFieldNTKMatchesTheFormula(width: Int, gamma0: Double) throws {
        let d = 6, p = 5
        var g = SeededGenerator(seed: 4)
        let x = Matrix<Double>(rows: p, columns: d) { _, _ in g.nextGaussian() }
        func kernel(_ gamma0: Double, _ width: Int) throws -> (Matrix<Double>, Network<Double>) {
            let net = try Network<Double>.mlp(inputSize: d, hiddenSizes: [width], outputSize: 1, activation: .tanh, bias: false,
                                              parameterization: .meanField(gamma0: gamma0), seed: 9)
            return (try ExactNTK().kernel(network: net, inputs: x).0, net)
        }
        let (k, net) = try kernel(gamma0, width)
        let w = Array(net.parameters[0..<(width * d)]), a = Array(net.parameters[(width * d)...])
        func h(_ r: Int, _ i: Int) -> Double { (0..<d).reduce(0) { $0 + w[i * d + $1] * x[r, $1] } / Double(d).squareRoot() }
        for r in 0..<p {
            for s in 0..<p {
                let xx = (0..<d).reduce(0) { $0 + x[r, $1] * x[s, $1] } / Double(d)
                var sum = 0.0
                for i in 0..<width {
                    let hr = h(r, i), hs = h(s, i)
                    sum += tanh(hr) * tanh(hs) + a[i] * a[i] * (1 - tanh(hr) * tanh(hr)) * (1 - tanh(hs) * tanh(hs)) * xx
                }
                let expected = sum / (gamma0 * gamma0 * Double(width * width))
                #expect(Self.close(k[r, s], expected, 1e-12))
            }
        }
        let (k2, _) = try kernel(2 * gamma0, width)
        for (u, v) in zip(k.storage, k2.storage) { #expect(Self.close(u, 4 * v, 1e-13)) }
    }

    /// γ₀²N·K stays O(1) as N grows while K itself falls as 1/N.
    @Test func rescaledMeanFieldKernelIsOrderOne() throws {
        let d = 8
        var g = SeededGenerator(seed: 2)
        let x = Matrix<Double>(rows: 3, columns: d) { _, _ in g.nextGaussian() }
        var traces: [Double] = []
        for width in [512, 4096] {
            let net = try Network<Double>.mlp(inputSize: d, hiddenSizes: [width], outputSize: 1, activation: .tanh, bias: false,
                                              parameterization: .meanField(gamma0: 0.5), seed: 1)
            let k = try ExactNTK().kernel(network: net, inputs: x).0
            traces.append((0..<3).reduce(0) { $0 + k[$1, $1] } * 0.25 * Double(width))
        }
        #expect(abs(traces[0] / traces[1] - 1) < 0.1)
        #expect(traces[1] > 0.5 && traces[1] < 6)
    }

    /// The ensemble runner: its initial statistics equal a direct per-seed loop, one or two
    /// workers agree, and gradient descent lowers the loss.
    @Test func networkEnsembleMatchesDirectLoopAndWorkersAgree() throws {
        let d = 4, p = 6, width = 16, gamma0 = 0.5
        var g = SeededGenerator(seed: 8)
        let x = Matrix<Double>(rows: p, columns: d) { _, _ in g.nextGaussian() }
        let y = Matrix<Double>(rows: p, columns: 1) { i, _ in sin(x[i, 0]) }
        let spec = ModelSpec.mlp(inputSize: d, hiddenSizes: [width], outputSize: 1, activation: .tanh, bias: false,
                                 parameterization: .meanField(gamma0: gamma0))
        let scale = gamma0 * gamma0 * Double(width)
        let seeds: [UInt64] = Array(10..<17)
        var results: [NetworkEnsemble.Result] = []
        for workers in [1, 2] {
            results.append(try NetworkEnsemble(spec: spec, seeds: seeds, steps: 30, learningRate: 0.5 * scale, kernelScale: scale,
                                               workers: workers).run(inputs: x, targets: y, testInputs: x))
        }
        var direct: [[Double]] = [], predictions: [[Double]] = []
        for seed in seeds {
            let net: Network<Double> = try spec.makeNetwork(seed: seed)
            direct.append(try ExactNTK().kernel(network: net, inputs: x).0.storage.map { $0 * scale })
            predictions.append(try net.forward(x).storage)
        }
        for r in results {
            #expect(r.initial.kernel.count == seeds.count)
            for j in 0..<(p * p) {
                let m = Self.directMoments(direct.map { $0[j] })
                #expect(Self.close(r.initial.kernel.mean.storage[j], m.mean) && Self.close(r.initial.kernel.variance.storage[j], m.variance, 1e-9))
            }
            for j in 0..<p {
                let m = Self.directMoments(predictions.map { $0[j] })
                #expect(Self.close(r.initial.predictions.mean[j], m.mean) && Self.close(r.initial.predictions.variance[j], m.variance, 1e-9))
            }
            #expect(r.final.loss.mean < 0.2 * r.initial.loss.mean)
        }
        #expect(Self.close(results[0].final.kernel.trace.variance, results[1].final.kernel.trace.variance, 1e-9))
        #expect(throws: NTKError.self) {
            try NetworkEnsemble(spec: spec, seeds: [], steps: 1).run(inputs: x, targets: y, testInputs: x)
        }
        #expect(throws: NTKError.self) {
            try NetworkEnsemble(spec: spec, seeds: [1], steps: 60, learningRate: 1e8 * scale).run(inputs: x, targets: y, testInputs: x)
        }
    }
}

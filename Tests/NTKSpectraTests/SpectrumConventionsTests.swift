import Foundation
import NTKEstimation
import NTKLinearAlgebra
import NTKNetworks
import Testing
@testable import NTKSpectra

/// The reference code's conventions on both paths, against kernels transformed by hand.
@Suite("Spectrum conventions")
struct SpectrumConventionsTests {
    init() throws { try BLASThreads.set(1) }

    static func fixture() throws -> (Network<Double>, Matrix<Double>) {
        let net: Network<Double> = try ModelSpec.mlp(inputSize: 5, hiddenSizes: [9, 7], outputSize: 3).makeNetwork(seed: 6)
        return (net, try EmpiricalNTKTests.inputs(30, 5, seed: 8))
    }

    @Test(arguments: [KernelKind.full, .traced])
    func cosineAndAveragedExactMatchHandTransformedKernels(kind: KernelKind) throws {
        let (net, x) = try Self.fixture()
        let raw = try EmpiricalNTKTests.referenceKernel(net, x, kind)
        let n = raw.rows
        let cosine = Matrix<Double>(rows: n, columns: n) { i, j in raw[i, j] / (raw[i, i] * raw[j, j]).squareRoot() }
        let expectedCosine = SpectrumStatistics(eigenvalues: try SymmetricEigen(cosine).values)
        let gotCosine = try ExactNTK(kind: kind, conventions: .init(normalization: .cosine)).spectrum(network: net, inputs: x)
        #expect(abs(gotCosine.statistics.entropy - expectedCosine.entropy) <= 1e-10 * expectedCosine.entropy)
        #expect(abs(gotCosine.statistics.trace - Double(n)) <= 1e-10 * Double(n))

        let averaged = try ExactNTK(kind: kind, conventions: .init(outputReduction: .average)).spectrum(network: net, inputs: x)
        let rawStats = try ExactNTK(kind: kind).spectrum(network: net, inputs: x).statistics
        let factor = kind == .traced ? 1.0 / 3 : 1
        #expect(abs(averaged.statistics.trace - factor * rawStats.trace) <= 1e-10 * rawStats.trace)
        #expect(abs(averaged.statistics.entropy - rawStats.entropy) <= 1e-10 * rawStats.entropy)
    }

    @Test func matrixFreeCosineEntropyAgreesWithExact() throws {
        let (net, x) = try Self.fixture()
        let conventions = SpectrumConventions(normalization: .cosine)
        let exact = try ExactNTK(conventions: conventions).spectrum(network: net, inputs: x).statistics
        var estimator = CollectiveVariableEstimator()
        estimator.route = .matrixFree
        estimator.conventions = conventions
        estimator.spectral.rtol = 0.005
        let estimate = try estimator.estimate(network: net, inputs: x)
        #expect(abs(estimate.trace - Double(exact.dimension)) <= 1e-9 * Double(exact.dimension))
        // Within the interval widened by the bias bound, or 4 standard errors.
        let slack = 4 * estimate.entropy.standardError + (estimate.entropy.biasBound ?? 0) + 1e-9
        #expect(abs(estimate.entropy.value - exact.entropy) <= max(slack, 0.005 * exact.entropy))
    }

    @Test func blockSubsamplingWithWholeBlocksIsExact() throws {
        let (net, x) = try Self.fixture()
        let exact = try ExactNTK().spectrum(network: net, inputs: x).statistics
        // Every block holds all examples (in a random order): the spectrum is the full one.
        let whole = try BlockSubsampledSpectrum(blocks: 3, blockSize: x.rows, seed: 1).estimate(network: net, inputs: x)
        #expect(abs(whole.entropy.value - exact.entropy) <= 1e-10 * exact.entropy)
        #expect(whole.entropy.standardError <= 1e-10)
        // Small blocks: a different, smaller-dimensional quantity with a genuine spread.
        let small = try BlockSubsampledSpectrum(blocks: 20, blockSize: 5, seed: 1).estimate(network: net, inputs: x)
        #expect(small.entropy.standardError > 0 && small.entropy.value < exact.entropy)
        #expect(throws: NTKError.self) { _ = try BlockSubsampledSpectrum(blocks: 1).estimate(network: net, inputs: x) }
    }
}

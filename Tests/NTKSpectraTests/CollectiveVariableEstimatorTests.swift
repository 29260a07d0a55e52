import Foundation
import NTKLinearAlgebra
import NTKNetworks
import Testing
@testable import NTKSpectra

/// The matrix-free collective variables against the exact dense spectrum, in both network
/// precisions and with both operators.
@Suite("Collective variables estimator")
struct CollectiveVariableEstimatorTests {
    init() throws { try BLASThreads.set(1) }

    @Test(arguments: [NTKOperatorChoice.structured, .jvpVJP])
    func floatNetworkDeflatesAndAgreesWithExact(preference: NTKOperatorChoice) throws {
        let spec = ModelSpec.mlp(inputSize: 8, hiddenSizes: [32, 32], outputSize: 10, activation: .tanh)
        let netD: Network<Double> = try spec.makeNetwork(seed: 11)
        let netF = try Network<Float>(body: spec.makeNetwork(Float.self, seed: 11).body, parameters: netD.parameters.map(Float.init))
        let xD: Matrix<Double> = try EmpiricalNTKTests.inputs(60, 8, seed: 12)
        let exact = try ExactNTK().spectrum(network: netD, inputs: xD).statistics
        var estimator = CollectiveVariableEstimator()
        estimator.route = .matrixFree
        estimator.operatorPreference = preference
        let estimate = try estimator.estimate(network: netF, inputs: xD.converted(to: Float.self))
        #expect(estimate.operatorName == preference.name)
        // Float products carry ~1e-3 relative Ritz residuals: the precision-aware tolerance
        // must still let the dominant modes be deflated.
        #expect(estimate.deflationRank > 0)
        #expect(abs(estimate.trace - exact.trace) <= 1e-4 * exact.trace)
        let slack = 4 * estimate.entropy.standardError + (estimate.entropy.biasBound ?? 0) + estimate.roundoffAllowance
        #expect(abs(estimate.entropy.value - exact.entropy) <= max(slack, 1e-4 * exact.entropy))
        #expect(abs(estimate.entropy.value - exact.entropy) <= 0.02 * exact.entropy)
    }
}

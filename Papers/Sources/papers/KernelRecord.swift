import Foundation
import NTKDatasets
import NTKEstimation
import NTKLinearAlgebra
import NTKNetworks
import NTKSpectra

/// One record of the NTK of a network over a fixed set of inputs, in the conventions of the
/// collective-variables reference code (NUMERICS.md):
/// - the fields `SpectralMonitor` writes: the matrix-free estimate (`CollectiveVariableEstimator`
///   on the `matrix-free` route: exact trace from per-example gradients, deflated SLQ entropy
///   with its 95% interval) and its comparison with the exact spectrum (`exact_entropy`,
///   `exact_trace`, relative errors, `exact_in_interval`);
/// - from the exact dense kernel (`ExactNTK`, Double, `keepKernel`): `exact_trace_per_sample`
///   (T/N, the 2024 reference code's trace), the top four eigenvalues, the effective rank, the
///   self-entropy of the diagonal (Shannon entropy of √K_ii / Σ_j √K_jj) and the entropy of the
///   cosine-normalized kernel K_ij / √(K_ii K_jj) (`SpectrumConventions(normalization: .cosine)`).
/// Entropies in nats; eigenvalues clipped at 0 and divided by their sum.
struct KernelRecorder {
    var estimator: CollectiveVariableEstimator
    var topCount = 4

    init(seed: UInt64) {
        var estimator = CollectiveVariableEstimator(kind: .full)
        estimator.route = .matrixFree
        estimator.spectral.seed = seed      // the same probes at every record: a smooth series
        self.estimator = estimator
    }

    func record(network: Network<Double>, inputs: Matrix<Double>, targets: Matrix<Double>) throws -> [String: JSONValue] {
        let (estimate, exactOfEstimator) = try estimator.measure(network: network, inputs: inputs, targets: targets, exact: true)
        guard let exactOfEstimator else { throw PaperError.failed("the estimator returned no exact spectrum") }
        var record = estimate.fields
        record.merge(estimate.comparisonFields(exact: exactOfEstimator)) { _, new in new }

        let start = DispatchTime.now().uptimeNanoseconds
        let exact = try ExactNTK(kind: .full).spectrum(network: network, inputs: inputs, keepKernel: true)
        guard var kernel = exact.kernel else { throw PaperError.failed("the exact route kept no kernel") }
        let n = kernel.rows
        let statistics = exact.statistics
        let roots = (0..<n).map { max(kernel[$0, $0], 0).squareRoot() }
        let rootSum = roots.reduce(0, +)
        var selfEntropy = 0.0
        for r in roots where r > 0 { let q = r / rootSum; selfEntropy -= q * Foundation.log(q) }
        SpectrumConventions(normalization: .cosine).apply(to: &kernel, kind: .full, outputs: network.outputCount)
        let cosine = SpectrumStatistics(eigenvalues: try SymmetricEigen(kernel).values)
        let top = exact.eigenvalues.reversed().prefix(topCount).map { max($0, 0) }
        record["exact_trace_per_sample"] = .number(statistics.trace / Double(n))
        record["exact_top_eigenvalues"] = .array(top.map { .number($0) })
        record["exact_effective_rank"] = .number(statistics.effectiveRank)
        record["exact_entropy_normalized"] = .number(statistics.normalizedEntropy)
        record["exact_self_entropy"] = .number(selfEntropy)
        record["exact_cosine_entropy"] = .number(cosine.entropy)
        record["exact_kernel_seconds"] = .number(Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
        return record
    }
}

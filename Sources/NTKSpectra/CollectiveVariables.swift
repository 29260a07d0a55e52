import Foundation
import NTKEstimation
import NTKLinearAlgebra
import NTKNetworks

/// The collective variables of training measured on the NTK of a network over a probe set
/// (arXiv:2410.07451): trace (exact, from per-example gradient norms), spectral entropy of
/// the trace-normalized kernel with its error bar, normalized entropy S/ln N, effective rank
/// exp(S), participation ratio T²/tr K², top eigenvalues, and kernel–target alignment
/// yᵀKy / (‖K‖_F ‖y‖²) (Cristianini et al. 2002) when targets are given.
public struct CollectiveVariables: Sendable {
    public var kind: KernelKind
    public var dimension: Int
    public var examples: Int
    public var outputs: Int
    public var parameterCount: Int
    /// tr K, exact.
    public var trace: Double
    public var entropy: MonteCarloEstimate
    public var effectiveRank: MonteCarloEstimate
    public var participationRatio: MonteCarloEstimate
    public var topEigenvalues: [Double]
    public var topResidualNorms: [Double]
    public var alignment: Double?
    public var deflationRank: Int
    public var probes: Int
    public var lanczosDepth: Double
    /// "structured" or "jvp_vjp".
    public var operatorName: String
    public var precision: String
    /// NTK products spent (vectors), passes over the probe set, and wall-clock seconds.
    public var matvecs: Int
    public var dataPasses: Int
    public var seconds: Double
    /// The route that answered (`dense`, `kernel-lanczos` or `matrix-free`), why, and what the
    /// cost model predicted for it.
    public var route: SpectralRoute = .matrixFree
    public var routeReason: String = ""
    public var predictedSeconds: Double? = nil
    public var predictedBytes: Int? = nil
    /// The process's peak resident memory when the result was assembled (Linux `VmHWM`).
    public var peakResidentBytes: Int? = ResidentMemory.peakBytes()
    /// Seconds spent forming the dense kernel (dense and kernel-Lanczos routes) and in the
    /// eigensolver (dense route); nil where the route did neither.
    public var kernelSeconds: Double? = nil
    public var eigensolverSeconds: Double? = nil
    /// How the estimate used a warm start from the previous record (`WarmStart`); all
    /// zero/false for a cold start and on the dense route.
    public var warmStart = WarmStartUsage()
    /// Whether the entropy is exact (dense route) rather than a Monte Carlo estimate.
    public var entropyIsExact: Bool { route == .dense }

    public var tracePerSample: Double { trace / Double(examples) }

    /// Share of the trace carried by the reported top eigenvalues (≤ 10). NTK spectra with a
    /// few dominant modes (share ≳ 0.3, typical of tanh MLPs) are kind to plain SLQ; spread
    /// spectra (ReLU networks; NTKEstimation's DeflatedSLQ article) need deflation for the entropy.
    public var topTraceShare: Double { trace > 0 ? topEigenvalues.prefix(10).reduce(0, +) / trace : 0 }

    /// Precision of the kernel's arithmetic: the network's on the matrix-free route, Double on
    /// the routes that form the kernel (a Float network is evaluated in Double there).
    public var kernelPrecision: String {
        route == .matrixFree ? precision : Double.precisionName
    }

    /// Round-off of the kernel arithmetic in the entropy, 100·√N·ε·max(|S|, |log T|, 1) (ε of
    /// the kernel's precision: S = log T − tr(K log K)/T cancels terms of size log T), which the
    /// statistical interval does not describe.
    public var roundoffAllowance: Double {
        let epsilon = kernelPrecision == Float.precisionName ? Double(Float.ulpOfOne) : Double.ulpOfOne
        let scale = Swift.max(abs(entropy.value), trace > 0 ? abs(Double.log(trace)) : 0, 1)
        return 100 * Double(dimension).squareRoot() * epsilon * scale
    }

    /// How far round-off carried the estimate outside [0, ln N] before `enforcingEntropyRange`
    /// moved it to the bound (0 when it was inside).
    public var entropyRangeCorrection: Double = 0

    /// The estimate with its entropy inside [0, ln N], where every entropy lies: a value outside
    /// by at most `roundoffAllowance` (a near-rank-one or tiny kernel in Float arithmetic) is moved
    /// to the bound, its interval widened to contain it and the move reported in
    /// `entropyRangeCorrection`; one outside by more is an error naming the precision.
    public func enforcingEntropyRange() throws -> CollectiveVariables {
        let top = dimension > 1 ? Double.log(Double(dimension)) : 0
        let value = entropy.value
        guard value < 0 || value > top else { return self }
        let bound = value < 0 ? 0 : top
        guard abs(value - bound) <= roundoffAllowance else {
            throw NTKError.nonFinite(
                String(format: "the entropy estimate %.6g lies outside [0, ln N = %.6g]", value, top)
                    + " by more than round-off in \(kernelPrecision) arithmetic allows; use --precision double or --route dense")
        }
        var fixed = self
        fixed.entropyRangeCorrection = bound - value
        fixed.entropy.value = bound
        fixed.entropy.lower = Swift.max(0, Swift.min(entropy.lower, bound))
        fixed.entropy.upper = Swift.min(top, Swift.max(entropy.upper, bound))
        fixed.effectiveRank.value = Double.exp(bound)
        fixed.effectiveRank.lower = Double.exp(fixed.entropy.lower)
        fixed.effectiveRank.upper = Double.exp(fixed.entropy.upper)
        return fixed
    }

    /// Whether `exactEntropy` lies in the reported interval widened by the deterministic
    /// Lanczos bias bound and the round-off allowance.
    public func entropyIntervalCovers(_ exactEntropy: Double) -> Bool {
        let slack = (entropy.biasBound ?? 0) + roundoffAllowance
        return exactEntropy >= entropy.lower - slack && exactEntropy <= entropy.upper + slack
    }
    public var normalizedEntropy: Double { dimension > 1 ? entropy.value / Double.log(Double(dimension)) : 0 }

    /// The record fields comparing this estimate with the exact result of the same kernel:
    /// `exact_trace`, `exact_entropy`, `exact_seconds`, the relative errors, and
    /// `exact_in_interval` (see `entropyIntervalCovers`).
    public func comparisonFields(exact: ExactNTK.Result) -> [String: JSONValue] {
        let s = exact.statistics
        return [
            "exact_trace": .number(s.trace),
            "exact_entropy": .number(s.entropy),
            "exact_seconds": .number(exact.cost.seconds),
            "entropy_relative_error": .number(abs(entropy.value - s.entropy) / s.entropy),
            "trace_relative_error": .number(abs(trace - s.trace) / s.trace),
            "exact_in_interval": .bool(entropyIntervalCovers(s.entropy)),
        ]
    }

    /// The JSON fields (public interface: `trace`, `entropy`, `dimension`, `parameter_count`,
    /// `n`, `outputs`, `trace_stderr`, `entropy_stderr`, `matvecs`, `data_passes`, `seconds`, …).
    public var fields: [String: JSONValue] {
        var f: [String: JSONValue] = [
            "kernel": .string(kind.rawValue),
            "dimension": .integer(dimension),
            "n": .integer(examples),
            "outputs": .integer(outputs),
            "parameter_count": .integer(parameterCount),
            "trace": .number(trace),
            "trace_stderr": .number(0),
            "trace_exact": .bool(true),
            "trace_per_sample": .number(tracePerSample),
            "trace_mean_diagonal": .number(trace / Double(max(dimension, 1))),
            "entropy": .number(entropy.value),
            "entropy_stderr": .number(entropy.standardError),
            "entropy_lower": .number(entropy.lower),
            "entropy_upper": .number(entropy.upper),
            "entropy_bias_bound": entropy.biasBound.map { .number($0) } ?? .null,
            "confidence": .number(entropy.confidenceLevel),
            "entropy_normalized": .number(normalizedEntropy),
            "effective_rank": .number(effectiveRank.value),
            "participation_ratio": .number(participationRatio.value),
            "top_eigenvalue": .number(topEigenvalues.first ?? 0),
            "top_eigenvalues": .array(topEigenvalues.map { .number($0) }),
            "deflation_rank": .integer(deflationRank),
            "probes": .integer(probes),
            "lanczos_depth": .number(lanczosDepth),
            "operator": .string(operatorName),
            "precision": .string(precision),
            "matvecs": .integer(matvecs),
            "data_passes": .integer(dataPasses),
            "seconds": .number(seconds),
        ]
        if let alignment { f["kernel_target_alignment"] = .number(alignment) }
        f["route"] = .string(route.rawValue)
        f["route_reason"] = .string(routeReason)
        f["predicted_seconds"] = predictedSeconds.map { .number($0) } ?? .null
        f["predicted_bytes"] = predictedBytes.map { .integer($0) } ?? .null
        f["peak_resident_bytes"] = peakResidentBytes.map { .integer($0) } ?? .null
        f["entropy_exact"] = .bool(entropyIsExact)
        if entropyRangeCorrection != 0 { f["entropy_range_correction"] = .number(entropyRangeCorrection) }
        if let kernelSeconds { f["kernel_seconds"] = .number(kernelSeconds) }
        if let eigensolverSeconds { f["eigensolver_seconds"] = .number(eigensolverSeconds) }
        f["kernel_precision"] = .string(kernelPrecision)
        f["top_eigenvalues_trace_share"] = .number(topTraceShare)
        f["spectrum_kind"] = .string(topTraceShare >= 0.3 ? "dominant_modes" : "spread")
        f["warm_started"] = .bool(warmStart.warmStarted)
        f["warm_reused_vectors"] = .integer(warmStart.reusedVectors)
        f["warm_block_rows"] = .integer(warmStart.blockRows)
        f["warm_refresh_matvecs"] = .integer(warmStart.refreshApplications)
        f["warm_fell_back"] = .bool(warmStart.fellBack)
        f["deflation_matvecs"] = .integer(warmStart.deflationApplications)
        return f
    }
}

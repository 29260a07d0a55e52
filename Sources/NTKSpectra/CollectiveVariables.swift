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

    public var tracePerSample: Double { trace / Double(examples) }

    /// Share of the trace carried by the reported top eigenvalues (≤ 10). NTK spectra with a
    /// few dominant modes (share ≳ 0.3, typical of tanh MLPs) are kind to plain SLQ; spread
    /// spectra (ReLU networks in NUMERICS.md) need deflation for the entropy.
    public var topTraceShare: Double { trace > 0 ? topEigenvalues.prefix(10).reduce(0, +) / trace : 0 }

    /// Round-off of the network arithmetic in the entropy, 100·√N·ε·|S| (ε of the network's
    /// precision), which the statistical interval does not describe.
    public var roundoffAllowance: Double {
        let epsilon = precision == Float.precisionName ? Double(Float.ulpOfOne) : Double.ulpOfOne
        return 100 * Double(dimension).squareRoot() * epsilon * abs(entropy.value)
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
        f["top_eigenvalues_trace_share"] = .number(topTraceShare)
        f["spectrum_kind"] = .string(topTraceShare >= 0.3 ? "dominant_modes" : "spread")
        return f
    }
}

/// Estimates `CollectiveVariables` matrix-free: exact trace from per-example gradient norms,
/// then deflated stochastic Lanczos quadrature (NTKEstimation's `SpectralEstimator`) for the
/// entropy with the exact trace as T. A configuration value; `estimate` is the call.
public struct CollectiveVariableEstimator: Sendable {
    public var kind: KernelKind
    public var batchSize: Int
    public var cacheBudgetBytes: Int
    /// The NTK product: `structured` (default; falls back to JVP∘VJP when its cache does not
    /// fit the budget) or `jvp_vjp`.
    public var operatorPreference: NTKOperatorChoice = .structured
    /// Output averaging and cosine normalization of the reference code (default: raw kernel).
    public var conventions = SpectrumConventions()
    /// Ritz pairs are deflated when ‖Aq − θq‖ ≤ tolerance·λ_max. nil: 1e-6 for Double networks
    /// (NUMERICS.md) and 1e-2 for Float ones, whose products carry ~1e-3 relative residuals that
    /// would otherwise reject every pair (measured: calibration benchmark). An inexact pair
    /// biases tr f(A) only at second order in its residual.
    public var ritzTolerance: Double? = nil
    /// Passed to NTKEstimation (probes, Lanczos depth, rtol, confidence, budgets, seed, deflation).
    public var spectral: SpectralEstimator.Configuration

    public init(kind: KernelKind = .full, batchSize: Int = 256, cacheBudgetBytes: Int = 1 << 30,
                spectral: SpectralEstimator.Configuration = .init()) {
        self.kind = kind
        self.batchSize = batchSize
        self.cacheBudgetBytes = cacheBudgetBytes
        self.spectral = spectral
    }

    /// - Parameters:
    ///   - targets: n × k (full kernel) targets for the kernel–target alignment, or nil.
    public func estimate<Scalar: BLASScalar>(
        network: Network<Scalar>, inputs: Matrix<Scalar>, targets: Matrix<Double>? = nil
    ) throws -> CollectiveVariables {
        let start = DispatchTime.now().uptimeNanoseconds
        let selection = try NTKOperatorChoice.makeOperator(
            network: network, inputs: inputs, kind: kind, batchSize: batchSize, cacheBudgetBytes: cacheBudgetBytes,
            preference: operatorPreference)
        let op = selection.kernel
        let measured: any SymmetricOperator
        let trace: Double
        if conventions.isDefault {
            trace = try op.exactTrace()
            measured = op
        } else {
            let transformed = try ConventionOperator(op, conventions: conventions, kind: kind, outputs: network.outputCount)
            trace = transformed.trace
            measured = transformed
        }
        guard trace > 0 else {
            throw NTKError.invalidOption("network", "a kernel with positive trace (all gradients are zero)")
        }
        var configuration = spectral
        configuration.ritzTolerance = ritzTolerance ?? (Scalar.self == Float.self ? 1e-2 : 1e-6)
        let report = try SpectralEstimator(configuration).estimate(measured, traceHint: trace)
        var alignment: Double? = nil
        if let targets {
            alignment = try kernelTargetAlignment(op, targets: targets, traceOfSquare: report.traceOfSquare.value)
        }
        return CollectiveVariables(
            kind: kind, dimension: op.dimension, examples: inputs.rows, outputs: network.outputCount,
            parameterCount: network.parameterCount, trace: trace, entropy: report.entropy,
            effectiveRank: report.effectiveRank, participationRatio: report.participationRatio,
            topEigenvalues: report.topEigenvalues, topResidualNorms: report.topResidualNorms,
            alignment: alignment, deflationRank: report.deflationRank, probes: report.probes,
            lanczosDepth: report.lanczosDepth, operatorName: selection.choice.name, precision: Scalar.precisionName,
            matvecs: op.cost.matvecs, dataPasses: op.cost.dataPasses,
            seconds: Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
    }

    /// yᵀKy / (‖K‖_F ‖y‖²) with ‖K‖_F² = tr K² (estimated by the same SLQ run).
    func kernelTargetAlignment(
        _ op: any NTKKernelOperator, targets: Matrix<Double>, traceOfSquare: Double
    ) throws -> Double {
        let y: [Double]
        switch kind {
        case .full:
            guard targets.rows * targets.columns == op.dimension else {
                throw NTKError.shapeMismatch("targets \(targets.rows)×\(targets.columns) for a kernel of dimension \(op.dimension)")
            }
            y = targets.storage
        case .traced:
            guard targets.rows == op.dimension, targets.rows > 0 else {
                throw NTKError.shapeMismatch("targets have \(targets.rows) rows for \(op.dimension) examples")
            }
            y = (0..<targets.rows).map { i in targets.row(i).reduce(0, +) }
        }
        let v = try Matrix(rows: 1, columns: op.dimension, storage: y)
        var kv = Matrix<Double>(rows: 1, columns: op.dimension)
        try op.apply(v, into: &kv)
        let yKy = zip(y, kv.storage).reduce(0) { $0 + $1.0 * $1.1 }
        let yy = y.reduce(0) { $0 + $1 * $1 }
        guard yy > 0, traceOfSquare > 0 else { return 0 }
        return yKy / (traceOfSquare.squareRoot() * yy)
    }
}

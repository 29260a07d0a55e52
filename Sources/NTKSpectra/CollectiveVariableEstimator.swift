import Foundation
import NTKEstimation
import NTKLinearAlgebra
import NTKNetworks

/// Estimates `CollectiveVariables` by the cheapest route (`SpectralRoute`, chosen by
/// `RoutePlanner` unless one is forced):
/// - `dense`: the exact spectrum (`ExactNTK`, Double) — every value exact;
/// - `kernel-lanczos`: the kernel formed once in Double (structured Gram products), its exact
///   trace from the diagonal, the entropy by deflated SLQ (`SpectralEstimator`) on the dense
///   matrix;
/// - `matrix-free`: exact trace from per-example gradient norms, then deflated SLQ on the NTK
///   operator (structured, or JVP∘VJP) with the exact trace as T.
/// A configuration value; `estimate` is the call.
public struct CollectiveVariableEstimator: Sendable {
    public var kind: KernelKind
    public var batchSize: Int
    public var cacheBudgetBytes: Int
    /// The NTK product of the matrix-free route: `structured` (default; falls back to JVP∘VJP
    /// when its cache does not fit the budget) or `jvp_vjp`.
    public var operatorPreference: NTKOperatorChoice = .structured
    /// Output averaging and cosine normalization of the reference code (default: raw kernel).
    public var conventions = SpectrumConventions()
    /// Ritz pairs are deflated when ‖Aq − θq‖ ≤ tolerance·λ_max. nil: `spectral.ritzTolerance`
    /// (1e-6 unless set; NTKEstimation's DeflatedSLQ article) for Double kernels, and at least 1e-2 for matrix-free
    /// Float ones, whose products carry ~1e-3 relative residuals that would otherwise reject
    /// every pair (measured: calibration benchmark). An inexact pair biases tr f(A) only at
    /// second order in its residual.
    public var ritzTolerance: Double? = nil

    /// The tolerance a route with kernel arithmetic `Scalar` uses (see `ritzTolerance`).
    func resolvedRitzTolerance<Scalar: BLASScalar>(_: Scalar.Type) -> Double {
        if let ritzTolerance { return ritzTolerance }
        return Scalar.self == Float.self ? max(spectral.ritzTolerance, 1e-2) : spectral.ritzTolerance
    }
    /// Passed to NTKEstimation (probes, Lanczos depth, rtol, confidence, budgets, seed, deflation).
    public var spectral: SpectralEstimator.Configuration
    /// How to answer (default `auto`: the cheapest predicted route that fits `memoryBudgetBytes`).
    public var route: SpectralRoute = .auto
    /// Memory the routes may use: the dense kernel (and its factors) on `dense` and
    /// `kernel-lanczos`, the caches and Lanczos bases on `matrix-free`.
    public var memoryBudgetBytes: Int = RoutePlanner.defaultMemoryBudget
    /// Machine rates for the cost model (nil: measured once per process).
    public var rates: MachineRates? = nil

    public init(kind: KernelKind = .full, batchSize: Int = 256, cacheBudgetBytes: Int = 1 << 30,
                spectral: SpectralEstimator.Configuration = .init()) {
        self.kind = kind
        self.batchSize = batchSize
        self.cacheBudgetBytes = cacheBudgetBytes
        self.spectral = spectral
    }

    /// The route plan for this request (what `estimate` will run, and why).
    public func plan<Scalar: BLASScalar>(network: Network<Scalar>, examples: Int) throws -> RoutePlanner.Plan {
        try RoutePlanner(memoryBudgetBytes: memoryBudgetBytes, rates: rates ?? .measured())
            .plan(requested: route, network: network, examples: examples, kind: kind, batchSize: batchSize,
                  cacheBudgetBytes: cacheBudgetBytes)
    }

    /// - Parameters:
    ///   - targets: n × k (full kernel) targets for the kernel–target alignment, or nil.
    public func estimate<Scalar: BLASScalar>(
        network: Network<Scalar>, inputs: Matrix<Scalar>, targets: Matrix<Double>? = nil
    ) throws -> CollectiveVariables {
        try measure(network: network, inputs: inputs, targets: targets, exact: false).estimate
    }

    /// The estimate and, when `exact` is true, the exact spectrum of the same kernel, reusing
    /// what the route built: the dense route's result is exact already; `kernel-lanczos`
    /// eigensolves the kernel it formed (no second build); `matrix-free` runs `ExactNTK` (a
    /// Float network converted to Double).
    public func measure<Scalar: BLASScalar>(
        network: Network<Scalar>, inputs: Matrix<Scalar>, targets: Matrix<Double>? = nil, exact: Bool
    ) throws -> (estimate: CollectiveVariables, exact: ExactNTK.Result?) {
        let r = try measure(network: network, inputs: inputs, targets: targets, exact: exact, warmStart: nil)
        return (r.estimate, r.exact)
    }

    /// `measure`, warm-started from the previous record's `WarmStart` (nil: cold), returning the
    /// state for the next record. The kernel-Lanczos and matrix-free routes pass it to
    /// `SpectralEstimator.estimate(_:traceHint:warmStart:)` (both estimate the same conventional
    /// kernel, so a state crosses between them); the dense route is exact and hands the incoming
    /// state on unchanged.
    public func measure<Scalar: BLASScalar>(
        network: Network<Scalar>, inputs: Matrix<Scalar>, targets: Matrix<Double>? = nil, exact: Bool,
        warmStart: WarmStart?
    ) throws -> (estimate: CollectiveVariables, exact: ExactNTK.Result?, warmStart: WarmStart?) {
        let start = DispatchTime.now().uptimeNanoseconds
        let plan = try plan(network: network, examples: inputs.rows)
        var estimator = self
        if let progress = spectral.progress {
            let route = plan.route.rawValue
            estimator.spectral.progress = { p in
                var p = p
                p.context = route
                progress(p)
            }
            estimator.spectral.progress?(EstimationProgress(
                phase: plan.route == .matrixFree ? .pilot : .kernel, seconds: Self.seconds(since: start)))
        }
        return try estimator.run(plan: plan, network: network, inputs: inputs, targets: targets, exact: exact, start: start,
                                 warmStart: warmStart)
    }

    func run<Scalar: BLASScalar>(
        plan: RoutePlanner.Plan, network: Network<Scalar>, inputs: Matrix<Scalar>, targets: Matrix<Double>?, exact: Bool,
        start: UInt64, warmStart: WarmStart? = nil
    ) throws -> (estimate: CollectiveVariables, exact: ExactNTK.Result?, warmStart: WarmStart?) {
        var result: (estimate: CollectiveVariables, exact: ExactNTK.Result?)
        var next = warmStart
        switch plan.route {
        case .dense:
            result = try denseRoute(network: network, inputs: inputs, targets: targets, start: start)
        case .kernelLanczos:
            (result.estimate, result.exact, next) = try kernelLanczosRoute(
                network: network, inputs: inputs, targets: targets, exact: exact, start: start, warmStart: warmStart)
        case .matrixFree, .auto:
            var estimate: CollectiveVariables
            (estimate, next) = try matrixFreeRoute(network: network, inputs: inputs, targets: targets, start: start,
                                                  warmStart: warmStart)
            estimate.seconds = Self.seconds(since: start)
            result = (estimate, nil)
            if exact {
                let double = try Self.doubleNetwork(network)
                let exactResult = try ExactNTK(kind: kind, batchSize: batchSize, memoryBudgetBytes: memoryBudgetBytes,
                                               conventions: conventions)
                    .spectrum(network: double, inputs: inputs.converted(to: Double.self))
                result.exact = exactResult
            }
        }
        result.estimate.route = plan.route
        result.estimate = try result.estimate.enforcingEntropyRange()
        result.estimate.routeReason = plan.reason
        result.estimate.predictedSeconds = plan.chosen.seconds
        result.estimate.predictedBytes = plan.chosen.bytes
        result.estimate.peakResidentBytes = ResidentMemory.peakBytes()
        return (result.estimate, result.exact, next)
    }

    static func seconds(since start: UInt64) -> Double {
        Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
    }

    /// The network in Double (the routes that form the kernel work in Double).
    static func doubleNetwork<Scalar: BLASScalar>(_ network: Network<Scalar>) throws -> Network<Double> {
        if let double = network as? Network<Double> { return double }
        return try network.converted(to: Double.self)
    }

    func exactNTK() -> ExactNTK {
        ExactNTK(kind: kind, batchSize: batchSize, memoryBudgetBytes: memoryBudgetBytes, conventions: conventions)
    }

    // MARK: Routes

    func denseRoute<Scalar: BLASScalar>(
        network: Network<Scalar>, inputs: Matrix<Scalar>, targets: Matrix<Double>?, start: UInt64
    ) throws -> (estimate: CollectiveVariables, exact: ExactNTK.Result?) {
        let double = try Self.doubleNetwork(network)
        let exact = try exactNTK().spectrum(network: double, inputs: inputs.converted(to: Double.self),
                                            keepKernel: targets != nil)
        let s = exact.statistics
        guard s.trace > 0 else {
            throw NTKError.invalidOption("network", "a kernel with positive trace (all gradients are zero)")
        }
        var alignment: Double? = nil
        if let targets, let k = exact.kernel {
            let op = try DenseOperator(k)
            let squares = exact.eigenvalues.reduce(0) { $0 + $1 * $1 }
            alignment = try kernelTargetAlignment(op, targets: targets, traceOfSquare: squares)
        }
        let seconds = Self.seconds(since: start)
        let c = spectral.confidence
        var result = exact
        result.kernel = nil
        let top = Array(exact.eigenvalues.reversed().prefix(spectral.topK).map { max($0, 0) })
        var estimate = CollectiveVariables(
            kind: kind, dimension: s.dimension, examples: inputs.rows, outputs: network.outputCount,
            parameterCount: network.parameterCount, trace: s.trace,
            entropy: .exact(s.entropy, confidenceLevel: c, seconds: seconds),
            effectiveRank: .exact(s.effectiveRank, confidenceLevel: c, seconds: seconds),
            participationRatio: .exact(s.participationRatio, confidenceLevel: c, seconds: seconds),
            topEigenvalues: top, topResidualNorms: Array(repeating: 0, count: top.count), alignment: alignment,
            deflationRank: 0, probes: 0, lanczosDepth: 0, operatorName: exact.route.rawValue,
            precision: Scalar.precisionName, matvecs: exact.cost.matvecs, dataPasses: exact.cost.dataPasses,
            seconds: seconds)
        estimate.eigensolverSeconds = exact.eigensolverSeconds
        estimate.kernelSeconds = exact.cost.seconds - exact.eigensolverSeconds
        return (estimate, result)
    }

    func kernelLanczosRoute<Scalar: BLASScalar>(
        network: Network<Scalar>, inputs: Matrix<Scalar>, targets: Matrix<Double>?, exact: Bool, start: UInt64,
        warmStart: WarmStart? = nil
    ) throws -> (estimate: CollectiveVariables, exact: ExactNTK.Result?, warmStart: WarmStart?) {
        let double = try Self.doubleNetwork(network)
        var (kernel, cost) = try exactNTK().conventionalKernel(network: double, inputs: inputs.converted(to: Double.self))
        let kernelSeconds = Self.seconds(since: start)
        let n = kernel.rows
        var trace = 0.0
        for i in 0..<n { trace += kernel[i, i] }
        guard trace > 0 else {
            throw NTKError.invalidOption("network", "a kernel with positive trace (all gradients are zero)")
        }
        var configuration = spectral
        configuration.ritzTolerance = resolvedRitzTolerance(Double.self)
        let report: SpectralReport
        let next: WarmStart
        var alignment: Double? = nil
        do {
            // The operator shares the kernel's storage; it is released before the eigensolver
            // overwrites the kernel, so no copy is made.
            let op = try DenseOperator(kernel)
            (report, next) = try SpectralEstimator(configuration).estimate(op, traceHint: trace, warmStart: warmStart)
            if let targets {
                alignment = try kernelTargetAlignment(op, targets: targets, traceOfSquare: report.traceOfSquare.value)
            }
        }
        let seconds = Self.seconds(since: start)
        var estimate = CollectiveVariables(
            kind: kind, dimension: n, examples: inputs.rows, outputs: network.outputCount,
            parameterCount: network.parameterCount, trace: trace, entropy: report.entropy,
            effectiveRank: report.effectiveRank, participationRatio: report.participationRatio,
            topEigenvalues: report.topEigenvalues, topResidualNorms: report.topResidualNorms,
            alignment: alignment, deflationRank: report.deflationRank, probes: report.probes,
            lanczosDepth: report.lanczosDepth, operatorName: "dense_kernel",
            precision: Scalar.precisionName, matvecs: report.applications, dataPasses: cost.dataPasses,
            seconds: seconds)
        estimate.kernelSeconds = kernelSeconds
        estimate.warmStart = report.warmStart
        guard exact else { return (estimate, nil, next) }
        let exactStart = DispatchTime.now().uptimeNanoseconds
        var kernelCost = cost
        kernelCost.seconds = 0
        let result = try ExactNTK.spectrum(destroying: &kernel, route: ExactNTK.kernelRoute(double), cost: kernelCost,
                                           started: exactStart)
        return (estimate, result, next)
    }

    func matrixFreeRoute<Scalar: BLASScalar>(
        network: Network<Scalar>, inputs: Matrix<Scalar>, targets: Matrix<Double>?, start: UInt64,
        warmStart: WarmStart? = nil
    ) throws -> (CollectiveVariables, WarmStart?) {
        let selection = try NTKOperatorChoice.makeOperator(
            network: network, inputs: inputs, kind: kind, batchSize: batchSize, cacheBudgetBytes: cacheBudgetBytes,
            preference: operatorPreference)
        return try estimate(kernel: selection.kernel, operatorName: selection.choice.name, network: network,
                            examples: inputs.rows, targets: targets, start: start, warmStart: warmStart)
    }

    /// The matrix-free route on a given NTK operator: the exact trace from `exactTrace()` (or
    /// the conventions' transformed diagonal), then deflated SLQ with it as T — what `estimate`
    /// runs on its own operators, open to others (the data-parallel operator of `NTKDistributed`,
    /// whose every call is collective and deterministic, so that all ranks run this in lockstep).
    /// `network` gives the precision and sizes reported; `examples` is n of the whole kernel.
    public func estimate<Scalar: BLASScalar>(
        kernel op: any NTKKernelOperator, operatorName: String, network: Network<Scalar>, examples: Int,
        targets: Matrix<Double>? = nil
    ) throws -> CollectiveVariables {
        var (result, _) = try estimate(kernel: op, operatorName: operatorName, network: network, examples: examples,
                                       targets: targets, start: DispatchTime.now().uptimeNanoseconds)
        result.route = .matrixFree
        return try result.enforcingEntropyRange()
    }

    func estimate<Scalar: BLASScalar>(
        kernel op: any NTKKernelOperator, operatorName: String, network: Network<Scalar>, examples: Int,
        targets: Matrix<Double>?, start: UInt64, warmStart: WarmStart? = nil
    ) throws -> (CollectiveVariables, WarmStart?) {
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
        configuration.ritzTolerance = resolvedRitzTolerance(Scalar.self)
        let (report, next) = try SpectralEstimator(configuration).estimate(measured, traceHint: trace,
                                                                           warmStart: warmStart)
        var alignment: Double? = nil
        if let targets {
            alignment = try kernelTargetAlignment(op, targets: targets, traceOfSquare: report.traceOfSquare.value)
        }
        var result = CollectiveVariables(
            kind: kind, dimension: op.dimension, examples: examples, outputs: network.outputCount,
            parameterCount: network.parameterCount, trace: trace, entropy: report.entropy,
            effectiveRank: report.effectiveRank, participationRatio: report.participationRatio,
            topEigenvalues: report.topEigenvalues, topResidualNorms: report.topResidualNorms,
            alignment: alignment, deflationRank: report.deflationRank, probes: report.probes,
            lanczosDepth: report.lanczosDepth, operatorName: operatorName, precision: Scalar.precisionName,
            matvecs: op.cost.matvecs, dataPasses: op.cost.dataPasses,
            seconds: Self.seconds(since: start))
        result.warmStart = report.warmStart
        return (result, next)
    }

    /// yᵀKy / (‖K‖_F ‖y‖²) with ‖K‖_F² = tr K² (exact, or estimated by the same SLQ run).
    func kernelTargetAlignment(
        _ op: any SymmetricOperator, targets: Matrix<Double>, traceOfSquare: Double
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

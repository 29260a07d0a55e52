import ArgumentParser
import Foundation
import NTKEstimation
import NTKLinearAlgebra
import NTKNetworks
import NTKSpectra

/// Options of the matrix-free estimators.
public struct EstimatorOptions: ParsableArguments {
    @Option(name: .long, help: "Target relative half-width of the entropy interval.")
    public var rtol: Double = 0.01

    @Option(name: .long, help: "Confidence level of the intervals (Student-t over probes).")
    public var confidence: Double = 0.95

    @Option(name: .long, help: "Budget of NTK-vector products.")
    public var maxMatvecs: Int?

    @Option(name: [.customLong("max-probes"), .customLong("probes")],
            help: "Most Lanczos probes on the deflated complement (--probes is the same option, kept for scripts).")
    public var probes: Int = 64

    @Option(name: .long, help: "Probes before the tolerance may stop the estimate (default 8; an error bar from fewer under-covers).")
    public var minProbes: Int?

    @Option(name: .long, help: "Lanczos depth per probe.")
    public var lanczosSteps: Int = 30

    @OptionGroup public var product: ProductOptions

    /// --precision (`ProductOptions`).
    public var precision: Precision {
        get { product.precision }
        set { product.precision = newValue }
    }

    /// --operator (`ProductOptions`).
    public var operatorChoice: NTKOperatorChoice {
        get { product.operatorChoice }
        set { product.operatorChoice = newValue }
    }

    @Flag(name: .long, help: "Plain SLQ (no deflation of the top eigenpairs).")
    public var noDeflation = false

    @Option(name: .long, help: "Accept a Ritz pair for deflation when its residual is at most this × λ_max (default: 1e-6 for double networks, 1e-2 for float).")
    public var ritzTolerance: Double?

    @Option(name: .long, help: "Route: auto (the cheapest predicted that fits --memory-budget), dense (exact eigensolve), kernel-lanczos (kernel formed once, deflated SLQ on it) or matrix-free.")
    public var route: SpectralRoute = .auto

    @Option(name: .long, help: "Memory budget of the route in MiB (default: half the physical memory, at most 8192).")
    public var memoryBudget: Int?

    public init() {}

    public func validate() throws {
        guard rtol > 0, rtol < 1 else { throw ValidationError("--rtol must be in (0, 1), got \(rtol)") }
        guard confidence > 0, confidence < 1 else { throw ValidationError("--confidence must be in (0, 1), got \(confidence)") }
        if let m = maxMatvecs, m < 1 { throw ValidationError("--max-matvecs must be positive, got \(m)") }
        guard probes >= 2 else { throw ValidationError("--max-probes (--probes) must be at least 2 (an error bar needs two), got \(probes)") }
        if let m = minProbes, !(2...probes).contains(m) {
            throw ValidationError("--min-probes must be between 2 and --max-probes (\(probes)), got \(m)")
        }
        guard lanczosSteps >= 1 else { throw ValidationError("--lanczos-steps must be at least 1, got \(lanczosSteps)") }
        if let r = ritzTolerance, !(r > 0 && r < 1) { throw ValidationError("--ritz-tolerance must be in (0, 1), got \(r)") }
        if let m = memoryBudget, !(1...(Int.max >> 21)).contains(m) {
            throw ValidationError("--memory-budget must be a positive number of MiB, got \(m)")
        }
    }

    /// The estimator these options configure (public for tools built on the options, e.g. ntk-spectra-mpi).
    public func estimator(kernel: KernelOptions, seed: UInt64, conventions: SpectrumConventions = .init()) -> CollectiveVariableEstimator {
        var spectral = SpectralEstimator.Configuration()
        spectral.rtol = rtol
        spectral.confidence = confidence
        spectral.maxApplications = maxMatvecs
        spectral.maxProbes = probes
        if let minProbes { spectral.minProbes = minProbes } else { spectral.minProbes = min(spectral.minProbes, probes) }
        spectral.lanczosSteps = lanczosSteps
        spectral.deflation = !noDeflation
        spectral.seed = seed
        var estimator = CollectiveVariableEstimator(kind: kernel.kernel, batchSize: kernel.batchSize, spectral: spectral)
        estimator.operatorPreference = operatorChoice
        estimator.conventions = conventions
        estimator.ritzTolerance = ritzTolerance
        estimator.route = route
        if let memoryBudget { estimator.memoryBudgetBytes = memoryBudget << 20 }
        return estimator
    }

    /// The probe block and the Lanczos basis are sized by options: checked against memory first.
    public func checkSizes(dimension: Int) throws {
        try SizeLimit.checkAllocation(
            "--probes \(probes) vectors of the kernel dimension \(dimension)", count: SizeLimit.product([probes, dimension]),
            bytesPerElement: 8)
        try SizeLimit.checkAllocation(
            "--lanczos-steps \(lanczosSteps) vectors of the kernel dimension \(dimension)",
            count: SizeLimit.product([lanczosSteps, dimension]), bytesPerElement: 8)
    }

    /// Runs the estimator in the requested precision on `model` (read once by the caller), with
    /// the exact spectrum of the same network and kernel when `exact` is true; the progress line
    /// on stderr unless `runtime.quiet`.
    func run(model: LoadedModel, kernel: KernelOptions, runtime: RuntimeOptions, conventions: SpectrumConventions = .init(),
             exact: Bool = false, command: String = "estimate") throws -> (estimate: CollectiveVariables, exact: ExactNTK.Result?)
    {
        var estimator = estimator(kernel: kernel, seed: model.options.seed, conventions: conventions)
        let line = ProgressLine(command: command, minimumProbes: estimator.spectral.minProbes)
        if !runtime.quiet { estimator.spectral.progress = line.handler }
        defer { line.finish() }
        switch precision {
        case .float:
            let net = try model.network(Float.self)
            let inputs = try model.inputs(Float.self, inputShape: net.inputShape)
            try checkSizes(dimension: kernel.kernel.dimension(examples: inputs.rows, outputs: net.outputCount))
            return try estimator.measure(network: net, inputs: inputs, exact: exact)
        case .double:
            let net = try model.network(Double.self)
            let inputs = try model.inputs(Double.self, inputShape: net.inputShape)
            try checkSizes(dimension: kernel.kernel.dimension(examples: inputs.rows, outputs: net.outputCount))
            return try estimator.measure(network: net, inputs: inputs, exact: exact)
        }
    }
}

import ArgumentParser
import Foundation
import NTKEstimation
import NTKLinearAlgebra
import NTKNetworks
import NTKSpectra
import NTKFormats

/// `ntk-spectra density`: the NTK's spectral density on a grid, matrix-free.
public struct DensityCommand: ParsableCommand {
    public enum Method: String, ExpressibleByArgument, CaseIterable { case slq, kpm }

    public static let configuration = CommandConfiguration(
        commandName: "density",
        abstract: "Spectral density of the NTK on a grid (SLQ with Gaussian smoothing, or the kernel polynomial method).")

    @OptionGroup public var model: ModelOptions
    @OptionGroup public var kernel: KernelOptions
    @OptionGroup public var output: OutputOptions
    @OptionGroup public var runtime: RuntimeOptions

    @Option(name: .long, help: "slq (Gaussian-smoothed Lanczos quadrature) or kpm (Chebyshev moments, Jackson damping).")
    public var method: Method = .slq

    @Option(name: .long, help: "Grid points.")
    public var points: Int = 512

    @Option(name: .long, help: "Probes.")
    public var probes: Int = 8

    @Option(name: .long, help: "Lanczos steps (slq) or Chebyshev moments (kpm).")
    public var steps: Int = 60

    @Option(name: .long, help: "Gaussian width for slq (default: 1% of the spectral range).")
    public var width: Double?

    @Option(name: .long, help: "Where to write the density: .npy ([points, 2]: x, density) or .csv.")
    public var out: String

    @Option(name: .long, help: "Route: auto (the cheapest predicted that fits --memory-budget), dense (the exact spectrum smoothed with the same Gaussian; kpm runs on the formed kernel), kernel-lanczos (the kernel formed once, probes on it) or matrix-free.")
    public var route: SpectralRoute = .auto

    @Option(name: .long, help: "Memory budget of the route in MiB (default: half the physical memory, at most 8192).")
    public var memoryBudget: Int?

    @Option(name: .long, help: "Also compute the exact eigenvalues (written beside the density as *_exact_eigenvalues.npy) when the kernel dimension is at most this.")
    public var exactLimit: Int = 4000

    public init() {}

    public func validate() throws {
        guard points >= 2 else { throw ValidationError("--points must be at least 2, got \(points)") }
        guard probes >= 1 else { throw ValidationError("--probes must be at least 1, got \(probes)") }
        guard steps >= 2 else { throw ValidationError("--steps must be at least 2, got \(steps)") }
        if let width, !(width > 0) { throw ValidationError("--width must be positive, got \(width)") }
        guard out.hasSuffix(".npy") || out.hasSuffix(".csv") else {
            throw ValidationError("--out must end in .npy or .csv, got '\(out)'")
        }
    }

    public func run() throws {
        try runtime.applyThreads()
        var outputs = model.outputFiles
        let exactPath = String(out.dropLast(4)) + "_exact_eigenvalues.npy"
        try outputs.check(out, option: "--out")
        let loaded = try LoadedModel(model)
        let network = try loaded.network(Double.self)
        let inputs = try loaded.inputs(Double.self, inputShape: network.inputShape)
        let dimension = kernel.kernel.dimension(examples: inputs.rows, outputs: network.outputCount)
        let exactWanted = dimension <= exactLimit
        if exactWanted { try outputs.check(exactPath, option: "--out (its _exact_eigenvalues.npy sibling)") }
        // Sizes from options, checked before the estimators allocate.
        try SizeLimit.checkAllocation("--points \(points) grid", count: SizeLimit.product([max(points, steps), 4]), bytesPerElement: 8)
        try SizeLimit.checkAllocation(
            "--steps \(steps) Lanczos vectors of the kernel dimension \(dimension)", count: SizeLimit.product([steps, dimension]),
            bytesPerElement: 8)
        try SizeLimit.checkAllocation(
            "--probes \(probes) vectors of the kernel dimension \(dimension)", count: SizeLimit.product([probes, dimension]),
            bytesPerElement: 8)
        var planner = RoutePlanner(memoryBudgetBytes: memoryBudget.map { $0 << 20 } ?? RoutePlanner.defaultMemoryBudget)
        planner.expectedMatvecs = probes * steps
        let plan = try planner.plan(requested: route, network: network, examples: inputs.rows, kind: kernel.kernel,
                                    batchSize: kernel.batchSize, cacheBudgetBytes: 1 << 30)
        let exactNTK = ExactNTK(kind: kernel.kernel, batchSize: kernel.batchSize, memoryBudgetBytes: planner.memoryBudgetBytes)
        func estimate(_ op: any SymmetricOperator) throws -> SpectralDensity {
            switch method {
            case .slq:
                return try SmoothedLanczosDensity(probes: probes, steps: steps, width: width, points: points, seed: model.seed)
                    .estimate(op)
            case .kpm:
                return try KernelPolynomialMethod(moments: steps, probes: probes, points: max(points, steps), seed: model.seed)
                    .estimate(op)
            }
        }
        let density: SpectralDensity
        var exactResult: ExactNTK.Result? = nil
        switch plan.route {
        case .dense where method == .slq:
            // The exact spectrum, smoothed exactly as the SLQ estimate would be.
            let exact = try exactNTK.spectrum(network: network, inputs: inputs)
            exactResult = exact
            let n = Double(exact.eigenvalues.count)
            density = SmoothedLanczosDensity.smoothed(
                [(exact.eigenvalues.map { max($0, 0) }, Array(repeating: 1 / n, count: exact.eigenvalues.count))],
                width: width, points: points, cost: OperatorCost(seconds: exact.cost.seconds))
        case .dense, .kernelLanczos:
            let (k, _) = try exactNTK.kernel(network: network, inputs: inputs)
            density = try estimate(DenseOperator(k))
        case .matrixFree, .auto:
            density = try estimate(NTKOperatorChoice.makeOperator(
                network: network, inputs: inputs, kind: kernel.kernel, batchSize: kernel.batchSize).kernel)
        }
        if out.hasSuffix(".npy") {
            var values: [Double] = []
            for (x, y) in zip(density.points, density.values) { values += [x, y] }
            try outputs.stage(NPY.encode(shape: [density.points.count, 2], values: values, source: out), to: out, option: "--out")
        } else {
            var text = "x,density\n"
            for (x, y) in zip(density.points, density.values) { text += "\(x),\(y)\n" }
            try outputs.stage(Data(text.utf8), to: out, option: "--out")
        }
        if exactWanted {
            let exact = try exactResult ?? exactNTK.spectrum(network: network, inputs: inputs)
            try outputs.stage(NPY.encode(shape: [exact.eigenvalues.count], values: exact.eigenvalues, source: exactPath),
                              to: exactPath, option: "--out (its _exact_eigenvalues.npy sibling)")
        }
        try outputs.commit()
        output.emit(.density(density, method: method.rawValue, dimension: dimension, out: out, plan: plan,
                             exactEigenvalues: exactWanted ? URL(fileURLWithPath: exactPath).path : nil))
    }
}

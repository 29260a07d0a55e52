import ArgumentParser
import Foundation
import NTKEstimation
import NTKLinearAlgebra
import NTKNetworks
import NTKSpectra

/// `ntk-spectra density`: the NTK's spectral density on a grid, matrix-free.
public struct DensityCommand: ParsableCommand {
    public enum Method: String, ExpressibleByArgument, CaseIterable { case slq, kpm }

    public static let configuration = CommandConfiguration(
        commandName: "density",
        abstract: "Spectral density of the NTK on a grid (SLQ with Gaussian smoothing, or the kernel polynomial method).")

    @OptionGroup public var model: ModelOptions
    @OptionGroup public var kernel: KernelOptions

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
        try BLASThreads.set(ProcessInfo.processInfo.activeProcessorCount)
        var outputs = model.outputFiles
        let exactPath = String(out.dropLast(4)) + "_exact_eigenvalues.npy"
        try outputs.check(out, option: "--out")
        let spec = try model.spec()
        let network = try model.network(Double.self, spec: spec)
        let inputs = try model.inputMatrix(Double.self, inputShape: network.inputShape)
        let op = try EmpiricalNTK(network: network, inputs: inputs, kind: kernel.kernel, batchSize: kernel.batchSize)
        let exactWanted = op.dimension <= exactLimit
        if exactWanted { try outputs.check(exactPath, option: "--out (its _exact_eigenvalues.npy sibling)") }
        // Sizes from options, checked before the estimators allocate.
        try SizeLimit.checkAllocation("--points \(points) grid", count: SizeLimit.product([max(points, steps), 4]), bytesPerElement: 8)
        try SizeLimit.checkAllocation(
            "--steps \(steps) Lanczos vectors of the kernel dimension \(op.dimension)", count: SizeLimit.product([steps, op.dimension]),
            bytesPerElement: 8)
        try SizeLimit.checkAllocation(
            "--probes \(probes) vectors of the kernel dimension \(op.dimension)", count: SizeLimit.product([probes, op.dimension]),
            bytesPerElement: 8)
        let density: SpectralDensity
        switch method {
        case .slq:
            density = try SmoothedLanczosDensity(probes: probes, steps: steps, width: width, points: points, seed: model.seed)
                .estimate(op)
        case .kpm:
            density = try KernelPolynomialMethod(moments: steps, probes: probes, points: max(points, steps), seed: model.seed)
                .estimate(op)
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
        var fields: [String: JSONValue] = [
            "method": .string(method.rawValue), "points": .integer(density.points.count),
            "integral": .number(density.integral), "matvecs": .integer(density.cost.applications),
            "seconds": .number(density.cost.seconds), "dimension": .integer(op.dimension), "out": .string(out),
        ]
        if exactWanted {
            let exact = try ExactNTK(kind: kernel.kernel, batchSize: kernel.batchSize).spectrum(network: network, inputs: inputs)
            try outputs.stage(NPY.encode(shape: [exact.eigenvalues.count], values: exact.eigenvalues, source: exactPath),
                              to: exactPath, option: "--out (its _exact_eigenvalues.npy sibling)")
            fields["exact_eigenvalues"] = .string(URL(fileURLWithPath: exactPath).path)
        }
        try outputs.commit()
        switch kernel.format {
        case .json: printJSON(fields)
        case .table: printTable(title: "NTK spectral density (\(method.rawValue))", fields)
        }
    }
}

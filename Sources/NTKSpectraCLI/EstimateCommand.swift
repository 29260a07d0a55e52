import ArgumentParser
import Foundation
import NTKSpectra

/// `ntk-spectra estimate`: matrix-free trace (exact) and entropy (deflated SLQ) with error bars.
public struct EstimateCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "estimate",
        abstract: "Matrix-free NTK trace (exact, per-example gradients) and entropy (deflated SLQ) with error bars.")

    @OptionGroup public var model: ModelOptions
    @OptionGroup public var kernel: KernelOptions
    @OptionGroup public var estimator: EstimatorOptions
    @OptionGroup public var convention: ConventionOptions
    @OptionGroup public var output: OutputOptions
    @OptionGroup public var runtime: RuntimeOptions

    public init() {}

    public func run() throws {
        try runtime.applyThreads()
        let loaded = try LoadedModel(model)
        let result = try estimator.run(model: loaded, kernel: kernel, runtime: runtime, conventions: convention.conventions).estimate
        output.emit(.estimate(result, kind: kernel.kernel, conventions: convention.conventions))
    }
}

import ArgumentParser
import Foundation
import NTKSpectra

/// `ntk-spectra validate`: estimate and exact on the same network, with errors and coverage.
public struct ValidateCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Run the estimator and the exact path on the same network and compare them.")

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
        let (estimate, exactResult) = try estimator.run(
            model: loaded, kernel: kernel, runtime: runtime, conventions: convention.conventions, exact: true, command: "validate")
        guard let exact = exactResult else { throw CLIError.failed("the exact spectrum was not computed") }
        output.emit(.validation(estimate, exact: exact, kind: kernel.kernel, conventions: convention.conventions))
    }
}

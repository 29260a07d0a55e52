import ArgumentParser
import Foundation
import NTKLinearAlgebra
import NTKNetworks
import NTKSpectra
import NTKFormats

/// `ntk-spectra exact`: the dense NTK spectrum in Double (validation path).
public struct ExactCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "exact",
        abstract: "Exact NTK trace, entropy and spectrum (dense kernel, LAPACK dsyevd or dsyevd_2stage, Double).")

    @OptionGroup public var model: ModelOptions
    @OptionGroup public var kernel: KernelOptions
    @OptionGroup public var convention: ConventionOptions
    @OptionGroup public var output: OutputOptions
    @OptionGroup public var runtime: RuntimeOptions

    @Option(name: .long, help: "Block-subsampled approximation of the reference code: this many random blocks (entropy and trace averaged).")
    public var blocks: Int?

    @Option(name: .long, help: "Examples per random block (with --blocks).")
    public var blockSize: Int = 20

    @Option(name: .long, help: "Largest dense object allowed, in MiB.")
    public var memoryBudget: Int = 8192

    @Option(name: .long, help: "Also write the eigenvalues (ascending) to this .npy file.")
    public var eigenvaluesOut: String?

    public init() {}

    public func validate() throws {
        if let blocks, blocks < 2 { throw ValidationError("--blocks must be at least 2, got \(blocks)") }
        guard blockSize >= 1 else { throw ValidationError("--block-size must be at least 1, got \(blockSize)") }
        guard memoryBudget >= 1 else { throw ValidationError("--memory-budget must be positive, got \(memoryBudget)") }
    }

    public func run() throws {
        try runtime.applyThreads()
        var outputs = model.outputFiles
        if let path = eigenvaluesOut { try outputs.check(path, option: "--eigenvalues-out") }
        let loaded = try LoadedModel(model)
        let network = try loaded.network(Double.self)
        let inputs = try loaded.inputs(Double.self, inputShape: network.inputShape)
        if let blocks {
            let sub = BlockSubsampledSpectrum(blocks: blocks, blockSize: blockSize, seed: model.seed, kind: kernel.kernel,
                                              conventions: convention.conventions)
            let r = try sub.estimate(network: network, inputs: inputs)
            output.emit(.blockSubsampled(
                entropy: r.entropy, trace: r.trace, seconds: r.seconds, blocks: blocks, blockSize: blockSize, examples: inputs.rows,
                parameterCount: network.parameterCount, outputs: network.outputCount, kind: kernel.kernel,
                conventions: convention.conventions))
            return
        }
        let exact = ExactNTK(kind: kernel.kernel, batchSize: kernel.batchSize, memoryBudgetBytes: memoryBudget << 20,
                             conventions: convention.conventions)
        let result = try exact.spectrum(network: network, inputs: inputs)
        if let path = eigenvaluesOut {
            try outputs.stage(NPY.encode(shape: [result.eigenvalues.count], values: result.eigenvalues, source: path),
                              to: path, option: "--eigenvalues-out")
        }
        try outputs.commit()
        output.emit(.exact(result, parameterCount: network.parameterCount, outputs: network.outputCount, examples: inputs.rows,
                           kind: kernel.kernel, conventions: convention.conventions))
    }
}

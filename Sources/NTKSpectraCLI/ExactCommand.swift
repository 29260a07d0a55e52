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
        try BLASThreads.set(ProcessInfo.processInfo.activeProcessorCount)
        var outputs = model.outputFiles
        if let path = eigenvaluesOut { try outputs.check(path, option: "--eigenvalues-out") }
        let spec = try model.spec()
        let network = try model.network(Double.self, spec: consume spec)
        let inputs = try model.inputMatrix(Double.self, inputShape: network.inputShape)
        if let blocks {
            let sub = BlockSubsampledSpectrum(blocks: blocks, blockSize: blockSize, seed: model.seed, kind: kernel.kernel,
                                              conventions: convention.conventions)
            let r = try sub.estimate(network: network, inputs: inputs)
            var fields: [String: JSONValue] = [
                "entropy": .number(r.entropy.value), "entropy_stderr": .number(r.entropy.standardError),
                "trace": .number(r.trace.value), "trace_stderr": .number(r.trace.standardError),
                "blocks": .integer(blocks), "block_size": .integer(blockSize), "n": .integer(inputs.rows),
                "outputs": .integer(network.outputCount), "parameter_count": .integer(network.parameterCount),
                "dimension": .integer(kernel.kernel.dimension(examples: blockSize, outputs: network.outputCount)),
                "kernel": .string(kernel.kernel.rawValue), "seconds": .number(r.seconds),
            ]
            fields.merge(convention.fields) { a, _ in a }
            switch kernel.format {
            case .json: printJSON(fields)
            case .table: printTable(title: "Block-subsampled NTK (\(blocks) blocks of \(blockSize))", fields)
            }
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
        var fields = ExactReport(result: result, network: network, examples: inputs.rows, kind: kernel.kernel).fields
        fields.merge(convention.fields) { a, _ in a }
        switch kernel.format {
        case .json: printJSON(fields)
        case .table: printTable(title: "Exact NTK (\(kernel.kernel.rawValue) kernel)", fields)
        }
    }
}

/// The JSON fields of an exact result (public interface: `trace`, `entropy`, `dimension`,
/// `parameter_count`, `n`, `outputs` and more).
struct ExactReport {
    var fields: [String: JSONValue]

    init(result: ExactNTK.Result, network: Network<Double>, examples: Int, kind: KernelKind) {
        let s = result.statistics
        fields = [
            "trace": .number(s.trace),
            "trace_per_sample": .number(s.trace / Double(examples)),
            "trace_mean_diagonal": .number(s.trace / Double(max(s.dimension, 1))),
            "entropy": .number(s.entropy),
            "entropy_normalized": .number(s.normalizedEntropy),
            "effective_rank": .number(s.effectiveRank),
            "participation_ratio": .number(s.participationRatio),
            "top_eigenvalue": .number(s.topEigenvalue),
            "clipped_negative_mass": .number(s.clippedNegativeMass),
            "dimension": .integer(s.dimension),
            "parameter_count": .integer(network.parameterCount),
            "n": .integer(examples),
            "outputs": .integer(network.outputCount),
            "kernel": .string(kind.rawValue),
            "route": .string(result.route.rawValue),
            "seconds": .number(result.cost.seconds),
            "eigensolver_seconds": .number(result.eigensolverSeconds),
            "eigensolver": .string(result.eigensolver),
            "precision": "double",
        ]
    }
}

/// A two-column table on stdout, keys sorted.
public func printTable(title: String, _ fields: [String: JSONValue]) {
    Console.current.print(tableText(title: title, fields))
}

/// The text `printTable` prints (without the final newline).
public func tableText(title: String, _ fields: [String: JSONValue]) -> String {
    var lines = [title]
    let width = fields.keys.map(\.count).max() ?? 0
    for key in fields.keys.sorted() {
        let value: String
        switch fields[key]! {
        case let .number(x): value = x.isFinite ? String(format: "%.10g", x) : "—"
        case let .string(s): value = s
        default: value = fields[key]!.encoded()
        }
        lines.append("  " + key.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + value)
    }
    return lines.joined(separator: "\n")
}

import ArgumentParser
import Foundation
import NTKDistributed
import NTKLinearAlgebra
import NTKNetworks
import NTKSpectra
import NTKSpectraCLI

/// `ntk-spectra-mpi exact`: `ntk-spectra exact` with the examples sharded across the ranks, the
/// kernel formed block-cyclically from the shards' Jacobian rows and eigensolved by ScaLAPACK's
/// PDSYEVD (`DistributedExactNTK`); on one rank, LAPACK as `ntk-spectra exact`.
public struct DistributedExactCommand: ParsableCommand, DistributedCommand {
    public static let configuration = CommandConfiguration(
        commandName: "exact",
        abstract: "Exact NTK trace, entropy and spectrum: dense kernel distributed block-cyclically, ScaLAPACK pdsyevd (Double).")

    @OptionGroup public var model: ModelOptions
    @OptionGroup public var kernel: KernelOptions
    @OptionGroup public var convention: ConventionOptions
    @OptionGroup public var options: DistributedOptions
    @OptionGroup public var output: OutputOptions
    @OptionGroup public var runtime: RuntimeOptions

    @Option(name: .long, help: "Largest memory each rank's dense objects may use, in MiB.")
    public var memoryBudget: Int = 8192

    @Option(name: .long, help: "ScaLAPACK block size (square nb × nb blocks of the block-cyclic kernel).")
    public var scalapackBlockSize: Int = 64

    @Option(name: .long, help: "Also write the eigenvalues (ascending) to this .npy file (rank 0).")
    public var eigenvaluesOut: String?

    public init() {}

    public func validate() throws {
        guard memoryBudget >= 1 else { throw ValidationError("--memory-budget must be positive, got \(memoryBudget)") }
        guard scalapackBlockSize >= 1 else {
            throw ValidationError("--scalapack-block-size must be at least 1, got \(scalapackBlockSize)")
        }
    }

    func run(collectives: any Collectives) throws -> String {
        let threads = options.threads(runtime)
        try BLASThreads.set(threads)
        let rank = collectives.rank
        let (network, shard, examples) = try collectives.agree(describing: NTKSpectraMPICommand.message) {
            () throws -> (Network<Double>, Matrix<Double>, Int) in
            let spec = try model.spec()
            let network = try model.network(Double.self, spec: spec)
            let inputs = try model.inputMatrix(Double.self, inputShape: network.inputShape)
            let range = try Sharding(examples: inputs.rows, ranks: collectives.size).range(rank)
            let columns = inputs.columns
            let shard = try Matrix(rows: range.count, columns: columns,
                                   storage: Array(inputs.storage[(range.lowerBound * columns)..<(range.upperBound * columns)]))
            return (network, shard, inputs.rows)
        }
        let exact = DistributedExactNTK(kind: kernel.kernel, batchSize: kernel.batchSize,
                                        memoryBudgetBytes: memoryBudget << 20, blockSize: scalapackBlockSize,
                                        conventions: convention.conventions)
        let result = try exact.spectrum(network: network, shard: shard, examples: examples, collectives: collectives)
        try collectives.agree(describing: NTKSpectraMPICommand.message) {
            guard rank == 0, let path = eigenvaluesOut else { return }
            try NPY.write(shape: [result.eigenvalues.count], values: result.eigenvalues, to: URL(fileURLWithPath: path))
        }
        let s = result.statistics, stats = collectives.statistics
        var fields: [String: JSONValue] = [
            "trace": .number(s.trace),
            "trace_per_sample": .number(s.trace / Double(examples)),
            "trace_mean_diagonal": .number(s.trace / Double(max(s.dimension, 1))),
            "entropy": .number(s.entropy),
            "entropy_normalized": .number(s.normalizedEntropy),
            "effective_rank": .number(s.effectiveRank),
            "participation_ratio": .number(s.participationRatio),
            "top_eigenvalue": .number(s.topEigenvalue),
            "top_eigenvalues": .array(result.eigenvalues.suffix(10).reversed().map { .number($0) }),
            "clipped_negative_mass": .number(s.clippedNegativeMass),
            "dimension": .integer(s.dimension),
            "parameter_count": .integer(network.parameterCount),
            "n": .integer(examples),
            "outputs": .integer(network.outputCount),
            "kernel": .string(kernel.kernel.rawValue),
            "route": .string(result.route),
            "seconds": .number(result.seconds),
            "eigensolver_seconds": .number(result.eigensolverSeconds),
            "eigensolver": .string(result.eigensolver),
            "precision": "double",
            "ranks": .integer(collectives.size),
            "threads_per_rank": .integer(threads),
            "distributed": .bool(true),
            "process_grid": .array([.integer(result.grid.rows), .integer(result.grid.columns)]),
            "scalapack_block_size": .integer(result.blockSize),
            "broadcast_count": .integer(stats.broadcastCount),
            "broadcast_bytes": .integer(stats.broadcastBytes),
            "broadcast_seconds": .number(stats.broadcastSeconds),
            "allreduce_count": .integer(stats.allreduceCount),
            "allreduce_bytes": .integer(stats.allreduceBytes),
            "allreduce_seconds": .number(stats.allreduceSeconds),
        ]
        fields.merge(convention.fields) { a, _ in a }
        return CommandReport(title: "Exact NTK (\(kernel.kernel.rawValue) kernel, \(collectives.size) ranks)", fields: fields)
            .rendered(output.format)
    }
}

import ArgumentParser
import Foundation
import NTKDistributed
import NTKEstimation
import NTKLinearAlgebra
import NTKNetworks
import NTKSpectra
import NTKSpectraCLI

/// Options of the distributed run itself.
public struct DistributedOptions: ParsableArguments {
    @Flag(name: .long, help: "Accepted for symmetry with `ntk-spectra … --distributed` (ntk-spectra-mpi always is).")
    public var distributed = false

    public init() {}

    /// OpenBLAS threads for this rank: --threads (`RuntimeOptions`), else the cores this rank may
    /// use divided by the ranks on its node (OMPI_COMM_WORLD_LOCAL_SIZE), at least 1.
    func threads(_ runtime: RuntimeOptions) -> Int {
        if let threads = runtime.threads { return threads }
        let local = ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap { Int($0) } ?? 1
        return max(1, ProcessInfo.processInfo.activeProcessorCount / max(local, 1))
    }
}

/// What both commands measure: the distributed estimate and, for validate, rank 0's exact spectrum.
struct DistributedRun {
    var model: ModelOptions
    var kernel: KernelOptions
    var estimator: EstimatorOptions
    var convention: ConventionOptions
    var options: DistributedOptions
    var output: OutputOptions
    var runtime: RuntimeOptions

    func fields(collectives: any Collectives, exact: Bool) throws -> [String: JSONValue] {
        let threads = options.threads(runtime)
        try BLASThreads.set(threads)
        guard estimator.route == .auto || estimator.route == .matrixFree else {
            throw CLIError.invalidOption(
                "--route \(estimator.route.rawValue)", "auto or matrix-free (the distributed estimate is matrix-free)")
        }
        var fields: [String: JSONValue]
        switch estimator.precision {
        case .float: fields = try run(Float.self, collectives: collectives, exact: exact)
        case .double: fields = try run(Double.self, collectives: collectives, exact: exact)
        }
        fields.merge(convention.fields) { a, _ in a }
        let stats = collectives.statistics
        fields["ranks"] = .integer(collectives.size)
        fields["threads_per_rank"] = .integer(threads)
        fields["distributed"] = .bool(true)
        fields["allreduce_count"] = .integer(stats.allreduceCount)
        fields["allreduce_bytes"] = .integer(stats.allreduceBytes)
        fields["allreduce_seconds"] = .number(stats.allreduceSeconds)
        fields["allgather_count"] = .integer(stats.allgatherCount)
        fields["allgather_bytes"] = .integer(stats.allgatherBytes)
        fields["allgather_seconds"] = .number(stats.allgatherSeconds)
        return fields
    }

    func run<Scalar: BLASScalar>(_: Scalar.Type, collectives: any Collectives, exact: Bool) throws
        -> [String: JSONValue]
    {
        let start = DispatchTime.now().uptimeNanoseconds
        let rank = collectives.rank
        // Every rank reads the spec, the weights and the inputs, and keeps its shard (rank 0 keeps
        // all inputs for validate's exact spectrum). A bad file on one rank fails all of them here.
        let (network, shard, all, examples) = try collectives.agree(describing: NTKSpectraMPICommand.message) {
            () throws -> (Network<Scalar>, Matrix<Scalar>, Matrix<Scalar>?, Int) in
            let spec = try model.spec()
            let network = try model.network(Scalar.self, spec: spec)
            let inputs = try model.inputMatrix(Scalar.self, inputShape: network.inputShape)
            try estimator.checkSizes(dimension: kernel.kernel.dimension(examples: inputs.rows, outputs: network.outputCount))
            let range = try Sharding(examples: inputs.rows, ranks: collectives.size).range(rank)
            let columns = inputs.columns
            let shard = try Matrix(rows: range.count, columns: columns,
                                   storage: Array(inputs.storage[(range.lowerBound * columns)..<(range.upperBound * columns)]))
            return (network, shard, exact && rank == 0 ? inputs : nil, inputs.rows)
        }
        try collectives.checkSame([
            ("--seed", Int64(bitPattern: model.seed)), ("--probes", Int64(estimator.probes)),
            ("--lanczos-steps", Int64(estimator.lanczosSteps)), ("--batch-size", Int64(kernel.batchSize)),
            ("--rtol", Int64(bitPattern: estimator.rtol.bitPattern)),
        ])
        let op = try DistributedNTK(network: network, shard: shard, examples: examples, collectives: collectives,
                                    kind: kernel.kernel, batchSize: kernel.batchSize)
        let configured = estimator.estimator(kernel: kernel, seed: model.seed, conventions: convention.conventions)
        var result = try configured.estimate(kernel: op, operatorName: NTKOperatorChoice.jvpVJP.name, network: network,
                                             examples: examples)
        result.seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        result.routeReason = "data-parallel JVP∘VJP over \(collectives.size) ranks"
            + (estimator.operatorChoice == .structured ? " (the structured product is not distributed yet)" : "")
        result.predictedSeconds = nil
        result.predictedBytes = nil
        result.peakResidentBytes = ResidentMemory.peakBytes()
        var fields = result.fields
        let exactResult = try collectives.agree(describing: NTKSpectraMPICommand.message) { () throws -> ExactNTK.Result? in
            guard let all else { return nil }
            let double: Network<Double> = try (network as? Network<Double>) ?? network.converted(to: Double.self)
            return try ExactNTK(kind: kernel.kernel, batchSize: kernel.batchSize, conventions: convention.conventions)
                .spectrum(network: double, inputs: all.converted(to: Double.self))
        }
        if let exactResult { fields.merge(result.comparisonFields(exact: exactResult)) { _, new in new } }
        return fields
    }

    func format(_ fields: [String: JSONValue], title: String) -> String {
        CommandReport(title: title, fields: fields).rendered(output.format)
    }
}

/// `ntk-spectra-mpi estimate`: `ntk-spectra estimate --route matrix-free --operator jvp_vjp`, data-parallel.
public struct DistributedEstimateCommand: ParsableCommand, DistributedCommand {
    public static let configuration = CommandConfiguration(
        commandName: "estimate",
        abstract: "Matrix-free NTK trace and entropy, the examples sharded across the MPI ranks.")

    @OptionGroup public var model: ModelOptions
    @OptionGroup public var kernel: KernelOptions
    @OptionGroup public var estimator: EstimatorOptions
    @OptionGroup public var convention: ConventionOptions
    @OptionGroup public var options: DistributedOptions
    @OptionGroup public var output: OutputOptions
    @OptionGroup public var runtime: RuntimeOptions

    public init() {}

    func run(collectives: any Collectives) throws -> String {
        let run = DistributedRun(model: model, kernel: kernel, estimator: estimator, convention: convention, options: options,
                              output: output, runtime: runtime)
        return run.format(try run.fields(collectives: collectives, exact: false),
                          title: "Estimated NTK (\(kernel.kernel.rawValue) kernel, \(collectives.size) ranks)")
    }
}

/// `ntk-spectra-mpi validate`: the distributed estimate and rank 0's exact spectrum of the same kernel.
public struct DistributedValidateCommand: ParsableCommand, DistributedCommand {
    public static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "The distributed estimate against the exact spectrum (computed on rank 0).")

    @OptionGroup public var model: ModelOptions
    @OptionGroup public var kernel: KernelOptions
    @OptionGroup public var estimator: EstimatorOptions
    @OptionGroup public var convention: ConventionOptions
    @OptionGroup public var options: DistributedOptions
    @OptionGroup public var output: OutputOptions
    @OptionGroup public var runtime: RuntimeOptions

    public init() {}

    func run(collectives: any Collectives) throws -> String {
        let run = DistributedRun(model: model, kernel: kernel, estimator: estimator, convention: convention, options: options,
                              output: output, runtime: runtime)
        return run.format(try run.fields(collectives: collectives, exact: true),
                          title: "Distributed estimate vs exact (\(kernel.kernel.rawValue) kernel, \(collectives.size) ranks)")
    }
}

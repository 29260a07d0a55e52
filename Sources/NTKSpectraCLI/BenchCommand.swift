import ArgumentParser
import Foundation
import NTKEstimation
import NTKLinearAlgebra
import NTKNetworks
import NTKSpectra
import NTKFormats

/// `ntk-spectra bench`: throughput and cost-to-accuracy measurements.
public struct BenchCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Benchmarks: NTK matvec throughput, and cost to a target entropy accuracy.",
        subcommands: [BenchMatvecCommand.self, BenchEntropyCommand.self])
    public init() {}
}

/// Median of a non-empty sample.
func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : 0.5 * (s[s.count / 2 - 1] + s[s.count / 2])
}

func seconds(since start: UInt64) -> Double { Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9 }

/// `ntk-spectra bench matvec`: block NTK products per second.
public struct BenchMatvecCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "matvec", abstract: "NTK block matvec throughput (median over repeats, after a warm-up).")

    @OptionGroup public var model: ModelOptions
    @Option(name: .long, help: "Vectors per block product.")
    public var block: Int = 1
    @Option(name: .long, help: "Network arithmetic: float or double.")
    public var precision: Precision = .float
    @Option(name: .long, help: "Timed block products (median reported).")
    public var repeats: Int = 5
    @Option(name: .long, help: "OpenBLAS threads.")
    public var threads: Int = ProcessInfo.processInfo.activeProcessorCount
    @Option(name: .long, help: "Examples per batch.")
    public var batchSize: Int = 1024
    @Option(name: .long, help: "Kernel: full or traced.")
    public var kernel: KernelKind = .full
    @Option(name: .long, help: "Output format.")
    public var format: OutputFormat = .json
    @Option(name: .customLong("operator"), help: "NTK product: structured (the default, as for estimate) or jvp_vjp.")
    public var operatorChoice: NTKOperatorChoice = .structured

    public init() {}

    public func validate() throws {
        guard block >= 1 else { throw ValidationError("--block must be at least 1, got \(block)") }
        guard repeats >= 1 else { throw ValidationError("--repeats must be at least 1, got \(repeats)") }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1, got \(threads)") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
    }

    public func run() throws {
        try BLASThreads.set(threads)
        let spec = try model.spec()
        let fields: [String: JSONValue]
        switch precision {
        case .float: fields = try measure(Float.self, spec: spec)
        case .double: fields = try measure(Double.self, spec: spec)
        }
        switch format {
        case .json: printJSON(fields)
        case .table: printTable(title: "NTK matvec throughput", fields)
        }
    }

    func measure<Scalar: BLASScalar>(_: Scalar.Type, spec: ModelSource) throws -> [String: JSONValue] {
        let network = try model.network(Scalar.self, spec: consume spec)
        let inputs = try model.inputMatrix(Scalar.self, inputShape: network.inputShape)
        // Forward over the whole set (the cost unit of the route cost model, RoutePlanner).
        var forwardTimes: [Double] = []
        for _ in 0...repeats {
            let t = DispatchTime.now().uptimeNanoseconds
            _ = try network.forward(inputs)
            forwardTimes.append(seconds(since: t))
        }
        forwardTimes.removeFirst()
        let t0 = DispatchTime.now().uptimeNanoseconds
        let selection = try NTKOperatorChoice.makeOperator(
            network: network, inputs: inputs, kind: kernel, batchSize: batchSize, cacheBudgetBytes: 8 << 30,
            preference: operatorChoice)
        let op = selection.kernel
        let setup = seconds(since: t0)
        try SizeLimit.checkAllocation(
            "--block \(block) vectors of the kernel dimension \(op.dimension)", count: SizeLimit.product([block, op.dimension]),
            bytesPerElement: 3 * 8)
        var g = SeededGenerator(seed: model.seed)
        let v = try Matrix(rows: block, columns: op.dimension, storage: [Double].gaussian(count: block * op.dimension, using: &g))
        var u = Matrix<Double>(rows: block, columns: op.dimension)
        try op.apply(v, into: &u)  // warm-up
        var times: [Double] = []
        for _ in 0..<repeats {
            let t = DispatchTime.now().uptimeNanoseconds
            try op.apply(v, into: &u)
            times.append(seconds(since: t))
        }
        let perBlock = median(times)
        return [
            "matvecs_per_second": .number(Double(block) / perBlock),
            "seconds_per_matvec": .number(perBlock / Double(block)),
            "seconds_per_block": .number(perBlock),
            "forward_seconds": .number(median(forwardTimes)),
            "matvec_over_forward": .number(perBlock / Double(block) / median(forwardTimes)),
            "setup_seconds": .number(setup),
            "openblas_core": .string(BLASThreads.coreName),
            "threads": .integer(BLASThreads.count),
            "block": .integer(block),
            "precision": .string(Scalar.precisionName),
            "operator": .string(selection.choice.name),
            "operator_reason": .string(selection.reason),
            "n": .integer(inputs.rows), "outputs": .integer(network.outputCount),
            "parameter_count": .integer(network.parameterCount), "dimension": .integer(op.dimension),
            "repeats": .integer(repeats),
        ]
    }
}

/// `ntk-spectra bench entropy`: seconds and matvecs to reach a relative entropy error.
public struct BenchEntropyCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "entropy",
        abstract: "Seconds and matvecs of the estimator for a requested accuracy, against the exact value when affordable.")

    @OptionGroup public var model: ModelOptions
    @OptionGroup public var kernel: KernelOptions
    @OptionGroup public var estimator: EstimatorOptions
    @Option(name: .long, help: "Compute the exact spectrum when the kernel dimension is at most this.")
    public var exactLimit: Int = 12000

    public init() {}

    public func run() throws {
        try BLASThreads.set(ProcessInfo.processInfo.activeProcessorCount)
        let start = DispatchTime.now().uptimeNanoseconds
        let estimate = try estimator.run(model: model, kernel: kernel).estimate
        var fields: [String: JSONValue] = [
            "entropy": .number(estimate.entropy.value), "entropy_stderr": .number(estimate.entropy.standardError),
            "trace": .number(estimate.trace), "matvecs": .integer(estimate.matvecs),
            "data_passes": .integer(estimate.dataPasses), "seconds": .number(seconds(since: start)),
            "requested_rtol": .number(estimator.rtol), "deflation_rank": .integer(estimate.deflationRank),
            "probes": .integer(estimate.probes), "dimension": .integer(estimate.dimension),
            "openblas_core": .string(BLASThreads.coreName), "threads": .integer(BLASThreads.count),
            "precision": .string(estimate.precision), "route": .string(estimate.route.rawValue),
            "route_reason": .string(estimate.routeReason),
            "predicted_seconds": estimate.predictedSeconds.map { .number($0) } ?? .null,
            "predicted_bytes": estimate.predictedBytes.map { .integer($0) } ?? .null,
            "peak_resident_bytes": estimate.peakResidentBytes.map { .integer($0) } ?? .null,
        ]
        if estimate.dimension <= exactLimit {
            let spec = try model.spec()
            let network = try model.network(Double.self, spec: consume spec)
            let inputs = try model.inputMatrix(Double.self, inputShape: network.inputShape)
            let exact = try ExactNTK(kind: kernel.kernel, batchSize: kernel.batchSize).spectrum(network: network, inputs: inputs)
            fields.merge(estimate.comparisonFields(exact: exact)) { _, new in new }
            fields["speedup_over_exact"] = .number(exact.cost.seconds / max(estimate.seconds, 1e-12))
        }
        switch kernel.format {
        case .json: printJSON(fields)
        case .table: printTable(title: "Entropy cost to accuracy", fields)
        }
    }
}

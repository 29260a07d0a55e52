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
    @OptionGroup public var kernel: KernelOptions
    @OptionGroup public var product: ProductOptions
    @OptionGroup public var output: OutputOptions
    @OptionGroup public var runtime: RuntimeOptions
    @Option(name: .long, help: "Vectors per block product.")
    public var block: Int = 1
    @Option(name: .long, help: "Timed block products (median reported).")
    public var repeats: Int = 5

    public init() {}

    public func validate() throws {
        guard block >= 1 else { throw ValidationError("--block must be at least 1, got \(block)") }
        guard repeats >= 1 else { throw ValidationError("--repeats must be at least 1, got \(repeats)") }
    }

    public func run() throws {
        try runtime.applyThreads()
        let loaded = try LoadedModel(model)
        let report: CommandReport
        switch product.precision {
        case .float: report = try measure(Float.self, model: loaded)
        case .double: report = try measure(Double.self, model: loaded)
        }
        output.emit(report, defaultFormat: .json)
    }

    /// Examples per batch: --batch-size, else 1024 (larger than the estimators' default: throughput).
    var batchSize: Int { kernel.requestedBatchSize ?? 1024 }

    func measure<Scalar: BLASScalar>(_: Scalar.Type, model: LoadedModel) throws -> CommandReport {
        let network = try model.network(Scalar.self)
        let inputs = try model.inputs(Scalar.self, inputShape: network.inputShape)
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
            network: network, inputs: inputs, kind: kernel.kernel, batchSize: batchSize, cacheBudgetBytes: 8 << 30,
            preference: product.operatorChoice)
        let op = selection.kernel
        let setup = seconds(since: t0)
        try SizeLimit.checkAllocation(
            "--block \(block) vectors of the kernel dimension \(op.dimension)", count: SizeLimit.product([block, op.dimension]),
            bytesPerElement: 3 * 8)
        var g = SeededGenerator(seed: self.model.seed)
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
        return .matvecThroughput(
            secondsPerBlock: perBlock, forwardSeconds: median(forwardTimes), setupSeconds: setup, block: block,
            precision: Scalar.precisionName, operatorName: selection.choice.name, operatorReason: selection.reason,
            examples: inputs.rows, outputs: network.outputCount, parameterCount: network.parameterCount,
            dimension: op.dimension, repeats: repeats)
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
    @OptionGroup public var output: OutputOptions
    @OptionGroup public var runtime: RuntimeOptions
    @Option(name: .long, help: "Compute the exact spectrum when the kernel dimension is at most this.")
    public var exactLimit: Int = 12000

    public init() {}

    public func run() throws {
        try runtime.applyThreads()
        let start = DispatchTime.now().uptimeNanoseconds
        let loaded = try LoadedModel(model)
        let estimate = try estimator.run(model: loaded, kernel: kernel, runtime: runtime).estimate
        let elapsed = seconds(since: start)
        var exact: ExactNTK.Result? = nil
        if estimate.dimension <= exactLimit {
            // The same model and inputs, in Double.
            let network = try loaded.network(Double.self)
            let inputs = try loaded.inputs(Double.self, inputShape: network.inputShape)
            exact = try ExactNTK(kind: kernel.kernel, batchSize: kernel.batchSize).spectrum(network: network, inputs: inputs)
        }
        output.emit(.entropyCost(estimate, seconds: elapsed, requestedRtol: estimator.rtol, exact: exact))
    }
}

import ArgumentParser
import Foundation
import NTKLinearAlgebra
import NTKNetworks
import NTKSpectra
import NTKFormats

/// `ntk-spectra ensemble`: kernel and prediction statistics over seeds, for a grid of widths
/// and mean-field γ₀ values (`NetworkEnsemble`, `KernelEnsemble`).
public struct EnsembleCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "ensemble",
        abstract: "Mean and variance over seeds of the exact NTK (per entry, trace, entropy, top eigenvalues) and of the predictions, at initialization and after gradient descent, for MLPs over widths × γ₀.")

    public enum ParameterizationName: String, ExpressibleByArgument, CaseIterable {
        case meanField = "mean_field", ntk, standard
    }

    @Option(name: .long, help: "Training inputs (.npy, [P, D]).")
    public var inputs: String

    @Option(name: .long, help: "Training targets (.npy, [P] or [P, 1]); required with --steps > 0 (zeros otherwise).")
    public var targets: String?

    @Option(name: .long, help: "Test inputs for the prediction statistics (.npy, [M, D]; default: the training inputs).")
    public var testInputs: String?

    @Option(name: .long, help: "Hidden widths N, comma-separated.")
    public var widths: String = "128"

    @Option(name: .long, help: "Mean-field γ₀ values, comma-separated (mean_field only).")
    public var gamma0: String = "1"

    @Option(name: .long, help: "mean_field (f = (1/(γ₀N)) a·φ(h), lr = η₀γ₀²N, kernel reported as γ₀²N·K), ntk or standard (lr = η₀, raw kernel).")
    public var parameterization: ParameterizationName = .meanField

    @Option(name: .long, help: "Hidden layers (depth − 1), all of the same width.")
    public var hiddenLayers: Int = 1

    @Option(name: .long, help: "Activation after each hidden layer.")
    public var activation: String = "tanh"

    @Flag(name: .long, help: "Give every linear layer a bias (default: none, as in the mean-field theory).")
    public var bias: Bool = false

    @Option(name: .long, help: "Number of seeds (networks) per cell.")
    public var seeds: Int = 100

    @Option(name: .long, help: "First seed (seeds are first-seed, first-seed + 1, …).")
    public var firstSeed: UInt64 = 0

    @Option(name: .long, help: "Full-batch gradient-descent steps on ½ mean squared error (0: initialization only).")
    public var steps: Int = 0

    @Option(name: .long, help: "Base learning rate η₀ (lr = η₀γ₀²N under mean_field).")
    public var eta0: Double = 1

    @Option(name: .long, help: "Top eigenvalues tracked.")
    public var top: Int = 3

    @Option(name: .long, help: "Worker threads (seeds in parallel, one BLAS thread each).")
    public var workers: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(name: .long, help: "Write all statistics (entry means and variances included) as JSON to this file.")
    public var jsonOut: String?

    @Option(name: .long, help: "Write one CSV row per cell and time (init, final) to this file.")
    public var csvOut: String?

    @OptionGroup public var output: OutputOptions

    public init() {}

    static func list<T>(_ text: String, option: String, _ parse: (String) -> T?) throws -> [T] {
        let items = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let values = items.compactMap(parse)
        guard !items.isEmpty, values.count == items.count else {
            throw ValidationError("\(option) must be a comma-separated list, got '\(text)'")
        }
        return values
    }

    var widthList: [Int] { get throws { try Self.list(widths, option: "--widths") { Int($0) } } }
    var gammaList: [Double] { get throws { try Self.list(gamma0, option: "--gamma0") { Double($0) } } }

    public func validate() throws {
        guard try widthList.allSatisfy({ $0 >= 1 }) else { throw ValidationError("--widths must be positive, got '\(widths)'") }
        guard try gammaList.allSatisfy({ $0 > 0 && $0.isFinite }) else {
            throw ValidationError("--gamma0 must be positive and finite, got '\(gamma0)'")
        }
        guard hiddenLayers >= 1 else { throw ValidationError("--hidden-layers must be at least 1, got \(hiddenLayers)") }
        guard ActivationFunction(rawValue: activation) != nil else {
            throw ValidationError("--activation must be one of \(ActivationFunction.allCases.map(\.rawValue).joined(separator: ", ")), got '\(activation)'")
        }
        guard seeds >= 2 else { throw ValidationError("--seeds must be at least 2 (a variance needs two samples), got \(seeds)") }
        guard steps >= 0 else { throw ValidationError("--steps must be ≥ 0, got \(steps)") }
        guard eta0 > 0, eta0.isFinite else { throw ValidationError("--eta0 must be positive and finite, got \(eta0)") }
        guard top >= 0 else { throw ValidationError("--top must be ≥ 0, got \(top)") }
        guard workers >= 1 else { throw ValidationError("--workers must be at least 1, got \(workers)") }
        if steps > 0, targets == nil { throw ValidationError("--steps \(steps) needs --targets") }
    }

    func readMatrix(_ path: String, option: String, columns: Int? = nil) throws -> Matrix<Double> {
        try checkReadable(path, what: "data", option: option)
        let array: NPYArray
        do { array = try NPY.read(URL(fileURLWithPath: path), requireFinite: true) } catch {
            throw CLIError.invalidFile(path, "\(error)")
        }
        guard let rows = array.shape.first, rows > 0, array.values.count % rows == 0 else {
            throw CLIError.invalidFile(path, "shape \(array.shape), expected [n, d] with n ≥ 1")
        }
        let cols = array.values.count / rows
        if let columns, cols != columns {
            throw CLIError.invalidFile(path, "shape \(array.shape), expected \(columns) value(s) per row (\(option))")
        }
        return try Matrix(rows: rows, columns: cols, storage: array.values)
    }

    public func run() throws {
        var outputs = OutputFiles(inputs: [("--inputs", inputs), ("--targets", targets), ("--test-inputs", testInputs)])
        if let jsonOut { try outputs.check(jsonOut, option: "--json-out") }
        if let csvOut { try outputs.check(csvOut, option: "--csv-out") }
        let x = try readMatrix(inputs, option: "--inputs")
        let y = try targets.map { try readMatrix($0, option: "--targets", columns: 1) } ?? Matrix(rows: x.rows, columns: 1)
        guard y.rows == x.rows else {
            throw CLIError.invalidFile(targets!, "\(y.rows) targets for \(x.rows) inputs (--inputs)")
        }
        let test = try testInputs.map { try readMatrix($0, option: "--test-inputs", columns: x.columns) } ?? x
        let act = ActivationFunction(rawValue: activation)!
        let gammas: [Double] = parameterization == .meanField ? try gammaList : [1]
        var cells: [JSONValue] = []
        var csv = "width,gamma0,time,seeds,parameters,trace_mean,trace_variance,entropy_mean,entropy_variance,lambda1_mean,lambda1_variance,"
            + "mean_entry_variance,signal_to_noise,prediction_variance_mean,loss_mean,seconds\n"
        var table: [String] = []
        for width in try widthList {
            for g in gammas {
                let p: Parameterization
                switch parameterization {
                case .meanField: p = .meanField(gamma0: g)
                case .ntk: p = .ntk()
                case .standard: p = .standard
                }
                let spec = ModelSpec.mlp(inputSize: x.columns, hiddenSizes: Array(repeating: width, count: hiddenLayers),
                                         outputSize: 1, activation: act, bias: bias, parameterization: p)
                let scale = parameterization == .meanField ? g * g * Double(width) : 1
                let ensemble = NetworkEnsemble(
                    spec: spec, seeds: (0..<seeds).map { firstSeed + UInt64($0) }, steps: steps, learningRate: eta0 * scale,
                    kernelScale: scale, kind: .full, topCount: top, workers: workers)
                let r: NetworkEnsemble.Result
                do { r = try ensemble.run(inputs: x, targets: y, testInputs: test) } catch let error as NTKError {
                    throw CLIError.failed("width \(width), γ₀ \(g): \(error)")
                }
                var cell = CommandReport.ensembleCell(
                    width: width, gamma0: parameterization == .meanField ? g : nil, parameterization: parameterization.rawValue,
                    hiddenLayers: hiddenLayers, activation: activation, seeds: seeds, steps: steps,
                    learningRate: ensemble.learningRate, kernelScale: scale, parameterCount: r.parameterCount, seconds: r.seconds,
                    workers: r.workers)
                for (name, s) in [("initial", r.initial), ("final", r.final)] {
                    cell[name] = .object(CommandReport.ensembleSnapshot(s))
                    let lambda1 = s.kernel.topEigenvalues.first
                    let predictionVariance = s.predictions.variance.reduce(0, +) / Double(max(s.predictions.length, 1))
                    let row: [String] = [
                        "\(width)", parameterization == .meanField ? "\(g)" : "", name, "\(seeds)", "\(r.parameterCount)",
                        Self.number(s.kernel.trace.mean), Self.number(s.kernel.trace.variance), Self.number(s.kernel.entropy.mean),
                        Self.number(s.kernel.entropy.variance), Self.number(lambda1?.mean ?? .nan), Self.number(lambda1?.variance ?? .nan),
                        Self.number(s.kernel.meanEntryVariance), Self.number(s.kernel.signalToNoise), Self.number(predictionVariance),
                        Self.number(s.loss.mean), Self.number(r.seconds),
                    ]
                    csv += row.joined(separator: ",") + "\n"
                    let gText = parameterization == .meanField ? "\(g)" : "-"
                    table.append("  N \(width)  γ₀ \(gText)  \(name):  " + String(
                        format: "tr %.5g ± %.3g  S %.5g ± %.3g  mean Var[K_ij] %.4g  SNR %.4g  Var f %.4g  loss %.3g",
                        s.kernel.trace.mean, s.kernel.trace.standardDeviation, s.kernel.entropy.mean,
                        s.kernel.entropy.standardDeviation, s.kernel.meanEntryVariance, s.kernel.signalToNoise,
                        predictionVariance, s.loss.mean))
                }
                cells.append(.object(cell))
            }
        }
        let report = CommandReport.ensemble(
            cells: cells, inputs: x.rows, inputDimension: x.columns, testInputs: test.rows,
            table: (["Kernel ensembles (\(seeds) seeds per cell; mean ± standard deviation over seeds)"] + table).joined(separator: "\n"))
        if let jsonOut { try outputs.stage(Data((report.json + "\n").utf8), to: jsonOut, option: "--json-out") }
        if let csvOut { try outputs.stage(Data(csv.utf8), to: csvOut, option: "--csv-out") }
        try outputs.commit()
        output.emit(report)
    }

    static func number(_ x: Double) -> String { x.isFinite ? String(format: "%.10g", x) : "" }
}

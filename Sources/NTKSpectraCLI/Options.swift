import ArgumentParser
import Foundation
import NTKLinearAlgebra
import NTKNetworks
import NTKONNX
import NTKSpectra
import NTKFormats

/// Arithmetic of the network passes.
public enum Precision: String, ExpressibleByArgument, CaseIterable, Sendable {
    case float, double
}

extension KernelKind: ExpressibleByArgument {}
extension NTKOperatorChoice: ExpressibleByArgument {}
extension SpectralRoute: ExpressibleByArgument {}
extension SpectrumConventions.OutputReduction: ExpressibleByArgument {}
extension SpectrumConventions.Normalization: ExpressibleByArgument {}

/// The reference code's conventions (both paths).
public struct ConventionOptions: ParsableArguments {
    @Option(name: .long, help: "Traced kernel summed (sum) or averaged (average) over outputs.")
    public var outputReduction: SpectrumConventions.OutputReduction = .sum

    @Option(name: .long, help: "none, or cosine: K_ij / sqrt(K_ii K_jj).")
    public var normalize: SpectrumConventions.Normalization = .none

    public init() {}

    public var conventions: SpectrumConventions {
        SpectrumConventions(outputReduction: outputReduction, normalization: normalize)
    }

    public var fields: [String: JSONValue] { CommandReport.conventionFields(conventions) }
}

/// The network and data every kernel command reads.
public struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: "Model: an ONNX file exported from PyTorch (.onnx, weights from its initializers; export with do_constant_folding=False), or a JSON spec (layers in the style of PyTorch's nn.Sequential, or a graph with per-layer \"inputs\").")
    public var model: String

    @Option(name: .long, help: "Weights (safetensors, PyTorch state_dict names). Without it a JSON spec's network is initialized from --seed and an ONNX model keeps its initializers.")
    public var weights: String?

    @Option(name: .long, help: "Inputs (.npy, float32/float64, or integer token ids for a model that starts with an embedding; shape [n, ...] matching the model's input shape).")
    public var inputs: String

    @Option(name: .long, help: "Use only the first N inputs.")
    public var maxInputs: Int?

    @Option(name: .long, help: "Random seed (initialization without --weights, probes).")
    public var seed: UInt64 = 0

    public init() {}

    public func validate() throws {
        if let m = maxInputs, m < 1 { throw ValidationError("--max-inputs must be at least 1, got \(m)") }
    }

    /// The command's outputs, guarded against overwriting these inputs.
    var outputFiles: OutputFiles {
        OutputFiles(inputs: [("--model", model), ("--weights", weights), ("--inputs", inputs)])
    }

    /// The model, read and decoded: an ONNX file (`.onnx`, or any file that is not a JSON
    /// object) or a JSON spec.
    public func spec() throws -> ModelSource {
        let data = try readFile(model, what: "model")
        if ModelSource.isONNX(path: model, data: data) {
            do { return .onnx(try ONNXModel(data: data)) } catch { throw CLIError.invalidFile(model, "\(error)") }
        }
        do { return .spec(try ModelSpec.decode(json: data)) } catch {
            throw CLIError.invalidFile(model, "\(error)")
        }
    }

    /// The network in the requested precision, with weights loaded when given (for an ONNX
    /// model they replace the initializers of the same names).
    public func network<Scalar: BLASScalar>(_: Scalar.Type, spec source: consuming ModelSource) throws -> Network<Scalar> {
        var net: Network<Scalar>
        switch consume source {
        case let .spec(spec):
            do { net = try spec.makeNetwork(Scalar.self, seed: seed) } catch {
                throw CLIError.invalidFile(model, "\(error)")
            }
            if let weights {
                try checkReadable(weights, what: "weights", option: "--weights")
                do { try net.loadParameters(contentsOf: URL(fileURLWithPath: weights)) } catch {
                    throw CLIError.invalidFile(weights, "\(error)")
                }
            }
        case let .onnx(onnx):
            var imported: ONNXImport<Scalar>
            do { imported = try ONNXImporter.network(onnx, as: Scalar.self) } catch {
                throw CLIError.invalidFile(model, "\(error)")
            }
            if let weights {
                try checkReadable(weights, what: "weights", option: "--weights")
                do { try imported.loadWeights(from: Safetensors(contentsOf: URL(fileURLWithPath: weights))) } catch {
                    throw CLIError.invalidFile(weights, "\(error)")
                }
            }
            net = imported.network
        }
        return net
    }

    /// Inputs as an n × inputSize matrix (checked against the model's input shape).
    public func inputMatrix<Scalar: BLASScalar>(_: Scalar.Type, inputShape: [Int]) throws -> Matrix<Scalar> {
        try inputMatrix(Scalar.self, inputShape: inputShape, array: inputArray())
    }

    /// The inputs file, read and checked finite.
    public func inputArray() throws -> NPYArray {
        try checkReadable(inputs, what: "inputs", option: "--inputs")
        do { return try NPY.read(URL(fileURLWithPath: inputs), requireFinite: true) } catch {
            throw CLIError.invalidFile(inputs, "\(error)")
        }
    }

    /// `array` (the inputs file) as an n × inputSize matrix (checked against the model's input shape).
    public func inputMatrix<Scalar: BLASScalar>(_: Scalar.Type, inputShape: [Int], array: NPYArray) throws -> Matrix<Scalar> {
        let perExample = inputShape.reduce(1, *)
        guard let n = array.shape.first, n > 0, array.values.count == n.multipliedReportingOverflow(by: perExample).partialValue,
            !n.multipliedReportingOverflow(by: perExample).overflow
        else {
            throw CLIError.invalidFile(
                inputs, "shape \(array.shape) does not hold examples of shape \(inputShape) (expected [n] + \(inputShape) or [n, \(perExample)])")
        }
        let rows = min(n, maxInputs ?? n)
        let values = array.values[0..<(rows * perExample)]
        // A finite value beyond the Float range would become infinite: say so, not "NaN or infinite".
        if Scalar.self == Float.self, let i = values.firstIndex(where: { abs($0) > Double(Float.greatestFiniteMagnitude) }) {
            throw CLIError.invalidFile(
                inputs, "element \(i) = \(values[i]) overflows float32 (largest finite \(Float.greatestFiniteMagnitude)); use --precision double")
        }
        return try Matrix(rows: rows, columns: perExample, storage: values.map { Scalar($0) })
    }
}

/// The model file and the inputs file of one command, each read once (the inputs when first
/// asked for, so that a bad model or weights file is reported before them); the network is
/// built from them in whichever precision a path needs.
public final class LoadedModel {
    public let options: ModelOptions
    public let source: ModelSource
    private var array: NPYArray?

    public init(_ options: ModelOptions) throws {
        self.options = options
        self.source = try options.spec()
    }

    public func network<Scalar: BLASScalar>(_: Scalar.Type) throws -> Network<Scalar> {
        try options.network(Scalar.self, spec: source)
    }

    public func inputs<Scalar: BLASScalar>(_: Scalar.Type, inputShape: [Int]) throws -> Matrix<Scalar> {
        if array == nil { array = try options.inputArray() }
        return try options.inputMatrix(Scalar.self, inputShape: inputShape, array: array!)
    }
}

/// How the NTK product is computed: the network's arithmetic and the operator (estimate,
/// validate, bench entropy through `EstimatorOptions`, and bench matvec).
public struct ProductOptions: ParsableArguments {
    @Option(name: .long, help: "Network arithmetic: float or double (Lanczos and reductions are always double).")
    public var precision: Precision = .float

    @Option(name: .customLong("operator"), help: "NTK product: structured (default; falls back when its cache does not fit) or jvp_vjp.")
    public var operatorChoice: NTKOperatorChoice = .structured

    public init() {}
}

/// Kernel options shared by exact and estimated paths.
public struct KernelOptions: ParsableArguments {
    @Option(name: .long, help: "full: (n·k)×(n·k) kernel; traced: n×n kernel summed over outputs.")
    public var kernel: KernelKind = .full

    /// --batch-size as given; nil: the command's default (`batchSize`: 256).
    @Option(name: .customLong("batch-size"),
            help: ArgumentHelp("Examples per batch when streaming the data (default: 256; bench matvec: 1024).", valueName: "batch-size"))
    public var requestedBatchSize: Int?

    /// Examples per batch: --batch-size, else 256.
    public var batchSize: Int { requestedBatchSize ?? 256 }

    public init() {}

    public func validate() throws {
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
    }
}

/// Errors of the command-line layer, each naming the file or option and what was expected.
public enum CLIError: Error, CustomStringConvertible, Equatable {
    case missingFile(String, String)
    case invalidFile(String, String)
    case invalidOption(String, String)
    /// An output file cannot be written: (path, option, why).
    case cannotWrite(String, option: String, String)
    case failed(String)

    public var description: String {
        switch self {
        case let .missingFile(path, what): return "\(what) file '\(path)' does not exist"
        case let .invalidFile(path, why): return "cannot use '\(path)': \(why)"
        case let .invalidOption(option, expected): return "invalid \(option): expected \(expected)"
        case let .cannotWrite(path, option, why): return "cannot write \(option) '\(path)': \(why)"
        case let .failed(why): return why
        }
    }
}

func readFile(_ path: String, what: String, option: String = "--model") throws -> Data {
    try checkReadable(path, what: what, option: option)
    do { return try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
        throw CLIError.invalidFile(path, "cannot be read (\(option))")
    }
}

/// Where a network comes from: a JSON spec or an ONNX model.
public enum ModelSource: Sendable {
    case spec(ModelSpec)
    case onnx(ONNXModel)

    /// An ONNX file by its extension, or any file whose first non-blank byte does not open a
    /// JSON object.
    static func isONNX(path: String, data: Data) -> Bool {
        if path.lowercased().hasSuffix(".onnx") { return true }
        if path.lowercased().hasSuffix(".json") { return false }
        guard let first = data.first(where: { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }) else { return false }
        return first != UInt8(ascii: "{")
    }
}

import ArgumentParser
import Foundation
import NTKEstimation

/// The root command: configuration only; the work is in the subcommands.
public struct NTKSpectraCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "ntk-spectra",
        abstract: "Matrix-free spectra (trace, entropy, density) of the empirical neural tangent kernel.",
        subcommands: [DemoCommand.self, TrainCommand.self, EstimateCommand.self, ExactCommand.self, ValidateCommand.self,
                      DensityCommand.self, BenchCommand.self, EnsembleCommand.self])

    public init() {}

    /// Parses and runs; a failure is one line on stderr (`ntk-spectra: error: …`) and a
    /// non-zero exit. Only `--help` (and `--version`) print the argument parser's multi-line text.
    public static func run(arguments: [String]) -> Int32 {
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
            return 0
        } catch {
            let code = exitCode(for: error).rawValue
            if code == 0 && error is CleanExit || (code == 0 && !(error is CLIError) && isParserError(error)) {
                let text = fullMessage(for: error)
                if !text.isEmpty { Console.current.print(text) }
                return 0
            }
            Console.current.note("ntk-spectra: error: \(oneLine(errorMessage(error)))")
            return code == 0 ? 1 : code
        }
    }

    public static func isParserError(_ error: any Error) -> Bool {
        error is ValidationError || error is CleanExit || String(reflecting: type(of: error)).contains("ArgumentParser")
    }

    /// The message of `error` in the user's terms: the parser's own message without its usage
    /// text, internal configuration names replaced by the options that set them.
    public static func errorMessage(_ error: any Error) -> String {
        if let error = error as? CLIError { return error.description }
        if let error = error as? EstimationError { return optionMessage(error) }
        if isParserError(error) {
            var text = message(for: error)
            if text.hasPrefix("Error: ") { text.removeFirst("Error: ".count) }
            // Keep the first line (the error); usage and help pointers follow on later lines.
            return text.split(separator: "\n").first.map(String.init) ?? "invalid arguments"
        }
        return "\(error)"
    }

    /// Estimator configuration errors name the CLI option that set the value.
    static func optionMessage(_ error: EstimationError) -> String {
        guard case let .invalidConfiguration(name, value, expected) = error else { return error.description }
        switch name {
        case "maxApplications":
            // "room for at least one complement probe after the pilot (N spent)"
            if let spent = expected.split(separator: "(").last?.split(separator: " ").first.flatMap({ Int($0) }) {
                return "invalid --max-matvecs \(value): expected at least \(spent + 1) (the pilot spent \(spent) matrix-vector products "
                    + "and at least one more probe is needed)"
            }
            return "invalid --max-matvecs \(value): expected \(expected)"
        case "maxProbes": return "invalid --probes \(value): expected \(expected)"
        case "lanczosSteps": return "invalid --lanczos-steps \(value): expected \(expected)"
        default: return error.description
        }
    }

    public static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: "; ")
    }
}

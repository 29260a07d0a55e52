import ArgumentParser
import Foundation

/// The root command: configuration only; the work is in the subcommands.
public struct NTKSpectraCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "ntk-spectra",
        abstract: "Matrix-free spectra (trace, entropy, density) of the empirical neural tangent kernel.",
        subcommands: [DemoCommand.self, TrainCommand.self, EstimateCommand.self, ExactCommand.self, ValidateCommand.self,
                      DensityCommand.self, BenchCommand.self])

    public init() {}

    /// Parses and runs; a failure is one line on stderr and a non-zero exit.
    public static func run(arguments: [String]) -> Int32 {
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
            return 0
        } catch let error as CLIError {
            FileHandle.standardError.write(Data("ntk-spectra: error: \(error)\n".utf8))
            return 1
        } catch {
            // Argument-parser errors (usage, --help) keep their own formatting and exit codes.
            let message = fullMessage(for: error)
            let code = exitCode(for: error).rawValue
            if !message.isEmpty {
                if code == 0 { print(message) } else {
                    let isParserError = error is ValidationError || String(reflecting: type(of: error)).contains("ArgumentParser")
                    let text = isParserError ? message : "ntk-spectra: error: \(error)"
                    FileHandle.standardError.write(Data((text + "\n").utf8))
                }
            }
            return code == 0 && !(error is CleanExit) ? 1 : code
        }
    }
}

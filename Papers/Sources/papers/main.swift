import Foundation
import NTKLinearAlgebra

// `papers NAME [--quick] [--output DIR] [--papers-dir DIR]`: runs one reproduction. Normally
// started by `Papers/run NAME [--quick]`, which builds this package in release mode first.

/// What every reproduction is given.
struct RunOptions {
    /// The ≤ 60 s smoke version (CI): fewer epochs, `"quick": true` in summary.json.
    var quick: Bool
    /// Where summary.json, the records and the figures go.
    var output: URL
    /// The `Papers/` directory (data embedded beside each reproduction).
    var papersDirectory: URL
    /// The command line as documented (for summary.json).
    var command: String
    /// `--part NAME`: one named sub-run of a reproduction (nil: the reproduction's default).
    var part: String? = nil
}

/// A reproduction of one paper: `Papers/NAME/` holds its README, data and results.
protocol Reproduction {
    static var name: String { get }
    static var paper: String { get }
    static func run(_ options: RunOptions) throws
}

let reproductions: [any Reproduction.Type] = [
    CollectiveVariablesReproduction.self, FiniteWidthFluctuationsReproduction.self, SlowVariablesReproduction.self,
    UniversalRepresentationsReproduction.self,
]

@MainActor func usage() -> String {
    "usage: papers NAME [--quick] [--part PART] [--output DIR] [--papers-dir DIR]\n  NAME: "
        + reproductions.map { "\($0.name) (\($0.paper))" }.joined(separator: ", ")
}

@MainActor func main() throws {
    var arguments = Array(CommandLine.arguments.dropFirst())
    if arguments.isEmpty || arguments.contains("--help") || arguments.contains("-h") {
        print(usage())
        return
    }
    var name: String? = nil, quick = false, output: String? = nil, part: String? = nil
    // Sources/papers/main.swift → Papers/
    var papers = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    while !arguments.isEmpty {
        let a = arguments.removeFirst()
        switch a {
        case "--quick": quick = true
        case "--output", "--papers-dir", "--part":
            guard let value = arguments.first, !value.hasPrefix("--") else { throw PaperError.usage("\(a) needs a value\n" + usage()) }
            arguments.removeFirst()
            switch a {
            case "--output": output = value
            case "--part": part = value
            default: papers = URL(fileURLWithPath: value)
            }
        default:
            guard !a.hasPrefix("-"), name == nil else { throw PaperError.usage("unexpected argument '\(a)'\n" + usage()) }
            name = a
        }
    }
    guard let name, let reproduction = reproductions.first(where: { $0.name == name }) else {
        throw PaperError.usage("unknown reproduction '\(name ?? "")'\n" + usage())
    }
    let directory: URL
    if let output {
        directory = URL(fileURLWithPath: output)
    } else if quick {
        // The smoke run never writes into the tree (CI stays clean).
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("papers-\(name)-quick-\(ProcessInfo.processInfo.processIdentifier)")
    } else {
        directory = papers.appendingPathComponent(name).appendingPathComponent("results")
    }
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    try BLASThreads.set(ProcessInfo.processInfo.activeProcessorCount)
    let command = "Papers/run \(name)" + (quick ? " --quick" : "") + (part.map { " --part \($0)" } ?? "")
        + (output.map { " --output \($0)" } ?? "")
    try reproduction.run(RunOptions(quick: quick, output: directory, papersDirectory: papers, command: command, part: part))
}

do {
    try main()
} catch {
    FileHandle.standardError.write(Data("papers: error: \(error)\n".utf8))
    exit(1)
}

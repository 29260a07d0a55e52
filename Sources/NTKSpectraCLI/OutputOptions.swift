import ArgumentParser

/// How results are printed.
public enum OutputFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    case table, json
}

/// How a command prints its report (`--format`), shared by every command that prints one.
public struct OutputOptions: ParsableArguments {
    /// The format asked for on the command line; nil: the command's default (`format`).
    @Option(name: .customLong("format"),
            help: ArgumentHelp("Output format: table or json (default: table; json for bench matvec and train).", valueName: "format"))
    public var requestedFormat: OutputFormat?

    public init() {}

    /// The format to print in: the requested one, else table.
    public var format: OutputFormat { requestedFormat ?? .table }

    /// Prints `report` on the command's console in the requested format, else `defaultFormat`:
    /// the one table-or-JSON switch of the tool.
    public func emit(_ report: CommandReport, defaultFormat: OutputFormat = .table) {
        Console.current.print(report.rendered(requestedFormat ?? defaultFormat))
    }
}

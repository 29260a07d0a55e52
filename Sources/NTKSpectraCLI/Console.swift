import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where a command's text goes: the process's stdout and stderr, or, for a command run
/// in-process (tests, tools embedding the commands), whatever `Console.$current` is bound to.
///
/// Every line the commands print passes through `Console.current`: reports and help text
/// (`out`), progress and the one-line error (`err`).
public struct Console: Sendable {
    /// Writes text to the report stream (stdout), as given (no newline added).
    public var out: @Sendable (String) -> Void
    /// Writes text to the diagnostics stream (stderr), as given.
    public var err: @Sendable (String) -> Void
    /// Whether the diagnostics stream is a terminal (a live progress line rewrites itself).
    public var errIsTerminal: Bool

    public init(out: @escaping @Sendable (String) -> Void, err: @escaping @Sendable (String) -> Void, errIsTerminal: Bool = false) {
        self.out = out
        self.err = err
        self.errIsTerminal = errIsTerminal
    }

    /// The process's stdout (buffered, as `print`) and stderr.
    public static var standard: Console {
        Console(out: { Swift.print($0, terminator: "") }, err: { FileHandle.standardError.write(Data($0.utf8)) },
                errIsTerminal: isatty(STDERR_FILENO) != 0)
    }

    /// The console of the running command.
    @TaskLocal public static var current: Console = .standard

    /// One line on stdout.
    public func print(_ line: String) { out(line + "\n") }
    /// One line on stderr.
    public func note(_ line: String) { err(line + "\n") }
}

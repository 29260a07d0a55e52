import ArgumentParser
import Foundation
import NTKLinearAlgebra

/// How a command runs: OpenBLAS threads and progress on stderr. Shared by every command that
/// computes (ensemble has its own `--workers`, one BLAS thread each).
public struct RuntimeOptions: ParsableArguments {
    @Option(name: .long, help: "OpenBLAS threads (default: the active cores; ntk-spectra-mpi: per rank, the cores divided by the ranks on the node).")
    public var threads: Int?

    @Flag(name: .long, help: "No progress on stderr (estimate, validate, bench entropy: the line shown after 2 s, live on a terminal, every 5 s otherwise; train, demo: the record lines).")
    public var quiet = false

    public init() {}

    public func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
    }

    /// --threads, else the active cores.
    public var resolvedThreads: Int { threads ?? ProcessInfo.processInfo.activeProcessorCount }

    /// Sets OpenBLAS's (process-wide) thread count — the one place the tool does — and returns
    /// it: `resolvedThreads`, halved (at least 1) when `sharedWithMonitor` (asynchronous monitor
    /// records run beside training, each side gets half).
    @discardableResult
    public func applyThreads(sharedWithMonitor: Bool = false) throws -> Int {
        let threads = sharedWithMonitor ? max(1, resolvedThreads / 2) : resolvedThreads
        if BLASThreads.count != threads { try BLASThreads.set(threads) }
        return threads
    }

    /// A progress line on stderr, unless --quiet.
    public func progress(_ message: String) {
        if !quiet { Console.current.note(message) }
    }
}

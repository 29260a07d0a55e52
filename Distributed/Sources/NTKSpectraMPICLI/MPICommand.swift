import ArgumentParser
import Foundation
import NTKDistributed
import NTKSpectraCLI

/// `ntk-spectra-mpi`: the `--distributed` commands of ntk-spectra, run under mpirun
/// (`mpirun -np R ntk-spectra-mpi estimate …`). Options are those of `ntk-spectra estimate` /
/// `exact` / `validate`; the estimate is always matrix-free with the JVP∘VJP product,
/// data-parallel over the ranks (`DistributedNTK`); `exact` forms the dense kernel
/// block-cyclically and eigensolves it with ScaLAPACK (`DistributedExactNTK`).
public struct NTKSpectraMPICommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "ntk-spectra-mpi",
        abstract: "Data-parallel NTK spectra over MPI (run under mpirun; options as ntk-spectra's).",
        subcommands: [DistributedEstimateCommand.self, DistributedExactCommand.self, DistributedValidateCommand.self])

    public init() {}

    /// Initializes MPI, parses, runs, agrees on the outcome and finalizes. A failure on any
    /// rank is one line on rank 0's stderr (`ntk-spectra-mpi: error: rank r: …`) and a non-zero
    /// exit of every rank. Only `--help` prints multi-line text (rank 0).
    public static func run(arguments: [String]) -> Int32 {
        let world: Communicator
        do { world = try Communicator.world() } catch {
            FileHandle.standardError.write(Data("ntk-spectra-mpi: error: \(error)\n".utf8))
            return 1
        }
        var failure: (any Error)? = nil
        var helpText: String? = nil
        var output: String? = nil
        do {
            let command = try parseAsRoot(arguments)
            if let command = command as? any DistributedCommand {
                output = try command.run(collectives: world)
            } else {
                helpText = helpMessage()
            }
        } catch {
            if exitCode(for: error).rawValue == 0 { helpText = fullMessage(for: error) } else { failure = error }
        }
        // Every rank arrives here, with or without an error of its own: agree on the outcome.
        // A rank whose error the others did not share (a bug: they may be waiting in another
        // collective) gets 10 s to agree before it aborts the job.
        let watchdog = failure.map { Watchdog(seconds: 10, message: message($0), rank: world.rank) }
        var code: Int32 = 0
        do {
            try world.agree {
                if let failure = failure as? DistributedError, case .rankFailed = failure { throw failure }
                if let failure { throw DistributedError.rankFailed(rank: world.rank, message: message(failure)) }
            }
        } catch {
            code = 1
            if world.rank == 0 { FileHandle.standardError.write(Data("ntk-spectra-mpi: error: \(message(error))\n".utf8)) }
        }
        if code == 0, world.rank == 0 {
            if let helpText, !helpText.isEmpty { print(helpText) }
            if let output { print(output) }
        }
        fflush(nil)
        do { try world.finalize() } catch { code = 1 }
        watchdog?.cancel()
        return code
    }

    /// One line, in ntk-spectra's terms (option names, no usage text).
    static func message(_ error: any Error) -> String {
        if let error = error as? DistributedError {
            // A rank's own message (already in ntk-spectra's terms), prefixed by the rank on R > 1.
            if case let .rankFailed(rank, text) = error {
                return NTKSpectraCommand.oneLine((try? Communicator.world().size) ?? 1 > 1 ? "rank \(rank): \(text)" : text)
            }
            return NTKSpectraCommand.oneLine(error.description)
        }
        if NTKSpectraCommand.isParserError(error) {
            var text = message(for: error)
            if text.hasPrefix("Error: ") { text.removeFirst("Error: ".count) }
            return text.split(separator: "\n").first.map(String.init) ?? "invalid arguments"
        }
        return NTKSpectraCommand.oneLine(NTKSpectraCommand.errorMessage(error))
    }
}

/// A command that runs on every rank; returns what rank 0 prints on stdout.
protocol DistributedCommand {
    func run(collectives: any Collectives) throws -> String
}

/// Ends the job when the agreement after an error does not complete in time (the other ranks
/// are stuck in a different collective): prints the rank's error and exits, which makes mpirun
/// stop every rank. The last resort; the normal failure path agrees first.
final class Watchdog: @unchecked Sendable {
    private let lock = NSLock()
    private var cancelled = false

    init(seconds: Double, message: String, rank: Int) {
        let thread = Thread { [self] in
            Thread.sleep(forTimeInterval: seconds)
            lock.lock()
            let stop = !cancelled
            lock.unlock()
            if stop {
                FileHandle.standardError.write(Data("ntk-spectra-mpi: error: rank \(rank): \(message)\n".utf8))
                _exit(1)
            }
        }
        thread.start()
    }

    func cancel() {
        lock.lock()
        cancelled = true
        lock.unlock()
    }
}

import Foundation
import NTKLinearAlgebra
import Synchronization
import Testing
@testable import NTKSpectraCLI
import NTKFormats

/// A `Console` that keeps what a command writes (for commands run in-process).
final class ConsoleCapture: Sendable {
    private let text = Mutex((out: "", err: ""))
    var stdout: String { text.withLock { $0.out } }
    var stderr: String { text.withLock { $0.err } }
    var console: Console {
        Console(out: { [self] s in text.withLock { $0.out += s } }, err: { [self] s in text.withLock { $0.err += s } })
    }
}

/// Parsing, validation and command runs in-process: `parseAsRoot` and `run()` on the parsed
/// command, output captured through `Console.$current`.
@Suite("ntk-spectra in-process")
struct InProcessTests {
    static let model = ["--model", CLITests.path("mlp.json"), "--weights", CLITests.path("mlp.safetensors"),
                        "--inputs", CLITests.path("mlp_inputs.npy")]

    /// The one-line message of the error `parseAsRoot` throws for `arguments` (nil: accepted).
    static func rejection(_ arguments: [String]) -> String? {
        do {
            _ = try NTKSpectraCommand.parseAsRoot(arguments)
            return nil
        } catch {
            return NTKSpectraCommand.errorMessage(error)
        }
    }

    /// Every rejected option, with the exact line the tool prints after `ntk-spectra: error: `.
    @Test(arguments: [
        (["estimate", "--rtol", "2"], "--rtol must be in (0, 1), got 2.0"),
        (["estimate", "--rtol", "0"], "--rtol must be in (0, 1), got 0.0"),
        (["estimate", "--confidence", "1"], "--confidence must be in (0, 1), got 1.0"),
        (["estimate", "--max-matvecs", "0"], "--max-matvecs must be positive, got 0"),
        (["estimate", "--probes", "1"], "--max-probes (--probes) must be at least 2 (an error bar needs two), got 1"),
        (["estimate", "--probes=-3"], "--max-probes (--probes) must be at least 2 (an error bar needs two), got -3"),
        (["estimate", "--probes", "-3"], "Missing value for '--probes <max-probes>'"),
        (["estimate", "--max-probes", "10", "--min-probes", "20"], "--min-probes must be between 2 and --max-probes (10), got 20"),
        (["estimate", "--lanczos-steps", "0"], "--lanczos-steps must be at least 1, got 0"),
        (["estimate", "--ritz-tolerance", "1"], "--ritz-tolerance must be in (0, 1), got 1.0"),
        (["estimate", "--memory-budget", "0"], "--memory-budget must be a positive number of MiB, got 0"),
        (["estimate", "--route", "fast"],
         "The value 'fast' is invalid for '--route <route>'. Please provide one of 'auto', 'dense', 'kernel-lanczos' or 'matrix-free'."),
        (["estimate", "--precision", "half"],
         "The value 'half' is invalid for '--precision <precision>'. Please provide one of 'float' and 'double'."),
        (["estimate", "--operator", "dense"],
         "The value 'dense' is invalid for '--operator <operator>'. Please provide one of 'structured' and 'jvp_vjp'."),
        (["estimate", "--prob", "3"], "Unknown option '--prob'. Did you mean '--probes'?"),
        (["validate", "--rtol", "1"], "--rtol must be in (0, 1), got 1.0"),
        (["exact", "--kernel", "diagonal"],
         "The value 'diagonal' is invalid for '--kernel <kernel>'. Please provide one of 'full' and 'traced'."),
        (["exact", "--batch-size", "0"], "--batch-size must be at least 1, got 0"),
        (["exact", "--max-inputs=-3"], "--max-inputs must be at least 1, got -3"),
        (["exact", "--max-inputs", "0"], "--max-inputs must be at least 1, got 0"),
        (["exact", "--blocks", "1"], "--blocks must be at least 2, got 1"),
        (["exact", "--block-size", "0"], "--block-size must be at least 1, got 0"),
        (["exact", "--memory-budget", "0"], "--memory-budget must be positive, got 0"),
        (["exact", "--format", "yaml"], "The value 'yaml' is invalid for '--format <format>'. Please provide one of 'table' and 'json'."),
        (["density", "--out", "d.txt"], "--out must end in .npy or .csv, got 'd.txt'"),
        (["density", "--out", "d.csv", "--points", "1"], "--points must be at least 2, got 1"),
        (["density", "--out", "d.csv", "--probes", "0"], "--probes must be at least 1, got 0"),
        (["density", "--out", "d.csv", "--steps", "1"], "--steps must be at least 2, got 1"),
        (["density", "--out", "d.csv", "--width", "0"], "--width must be positive, got 0.0"),
        (["density", "--out", "d.csv", "--method", "lanczos"],
         "The value 'lanczos' is invalid for '--method <method>'. Please provide one of 'slq' and 'kpm'."),
        (["bench", "matvec", "--block", "0"], "--block must be at least 1, got 0"),
        (["bench", "matvec", "--repeats", "0"], "--repeats must be at least 1, got 0"),
        (["bench", "matvec", "--threads", "0"], "--threads must be at least 1, got 0"),
    ])
    func modelCommandRejections(arguments: [String], message: String) {
        // The files exist: the rejection is the option's, before anything is read.
        let full = Array(arguments.prefix(arguments.first == "bench" ? 2 : 1)) + Self.model
            + arguments.dropFirst(arguments.first == "bench" ? 2 : 1)
        #expect(Self.rejection(full) == message)
    }

    @Test(arguments: [
        (["estimate", "--inputs", "x.npy"], "Missing expected argument '--model <model>'"),
        (["exact", "--model", "m.json"], "Missing expected argument '--inputs <inputs>'"),
        (["density", "--model", "m.json", "--inputs", "x.npy"], "Missing expected argument '--out <out>'"),
        (["train", "--epochs", "0"], "--epochs must be at least 1, got 0"),
        (["train", "--monitor-overhead", "1"], "--monitor-overhead must be a fraction of training time in (0, 1), got 1.0"),
        (["train", "--lr", "0"], "--lr must be positive, got 0.0"),
        (["train", "--family", "gcn", "--dataset", "moons", "--loss", "cross-entropy"],
         "--family gcn needs a graph data set: --dataset karate or sbm"),
        (["demo", "--probe-examples", "1"], "--probe-examples must be between 2 and 1797, got 1"),
        (["demo", "--every", "0"], "--every must be at least 1, got 0"),
        (["demo", "--threads", "0"], "--threads must be at least 1, got 0"),
        (["ensemble", "--inputs", "x.npy", "--widths", "8,a"], "--widths must be a comma-separated list, got '8,a'"),
        (["ensemble", "--inputs", "x.npy", "--seeds", "1"], "--seeds must be at least 2 (a variance needs two samples), got 1"),
        (["no-such-command"], "Unexpected argument 'no-such-command'"),
    ])
    func otherRejections(arguments: [String], message: String) {
        #expect(Self.rejection(arguments) == message)
    }

    /// Valid invocations parse (the cases above fail for their one option only).
    @Test func validInvocationsParse() {
        #expect(Self.rejection(["estimate"] + Self.model + ["--probes", "16", "--rtol", "0.05"]) == nil)
        #expect(Self.rejection(["bench", "matvec"] + Self.model + ["--threads", "1"]) == nil)
        #expect(Self.rejection(["density"] + Self.model + ["--out", "d.csv"]) == nil)
    }

    /// Parses `arguments` and calls `run()` on the command, its output captured.
    static func runParsed(_ arguments: [String]) throws -> (stdout: String, stderr: String) {
        var command = try NTKSpectraCommand.parseAsRoot(arguments)
        let capture = ConsoleCapture()
        try Console.$current.withValue(capture.console) { try command.run() }
        return (capture.stdout, capture.stderr)
    }

    static func object(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test func estimateRunsInProcess() throws {
        let (out, _) = try Self.runParsed(["estimate"] + Self.model + ["--route", "matrix-free", "--precision", "double",
                                                                      "--format", "json", "--quiet"])
        let o = try Self.object(out)
        #expect(o["dimension"] as? Int == 120 && o["route"] as? String == "matrix-free")
        #expect((o["entropy"] as? Double ?? 0) > 0 && (o["matvecs"] as? Int ?? 0) > 0)
        // The table names the same fields.
        let (table, _) = try Self.runParsed(["estimate"] + Self.model + ["--route", "dense", "--quiet"])
        #expect(table.hasPrefix("Estimated NTK (full kernel)\n"))
        #expect(table.contains("  entropy ") && table.contains("  route "))
    }

    @Test func exactRunsInProcessAndWritesItsEigenvalues() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ntk-exact-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let eigenvalues = directory.appendingPathComponent("ev.npy")
        let (out, err) = try Self.runParsed(["exact"] + Self.model + ["--format", "json", "--eigenvalues-out", eigenvalues.path])
        #expect(err.isEmpty)
        let o = try Self.object(out)
        let array = try NPY.read(eigenvalues)
        #expect(array.shape == [o["dimension"] as? Int ?? -1])
        #expect(abs(array.values.reduce(0, +) - (o["trace"] as? Double ?? 0)) <= 1e-8 * (o["trace"] as? Double ?? 1))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["ev.npy"])
    }

    @Test func validateRunsInProcess() throws {
        let (out, _) = try Self.runParsed(["validate"] + Self.model + ["--route", "matrix-free", "--precision", "double",
                                                                      "--format", "json", "--quiet"])
        let o = try Self.object(out)
        #expect(o["exact_in_interval"] as? Bool == true)
        #expect((o["entropy_relative_error"] as? Double ?? 1) <= 0.01)
    }

    /// The one test that spawns the built executable: exit status, streams and the one-line error.
    @Test func theExecutableRunsAndFailsWithOneLine() throws {
        let ok = try CLITests.runProcess(["exact"] + Self.model + ["--format", "json"])
        #expect(ok.code == 0 && ok.stderr.isEmpty, "\(ok.stderr)")
        #expect(try Self.object(ok.stdout)["dimension"] as? Int == 120)
        let bad = try CLITests.runProcess(["estimate"] + Self.model + ["--rtol", "2"])
        #expect(bad.code == 64 && bad.stdout.isEmpty)
        #expect(bad.stderr == "ntk-spectra: error: --rtol must be in (0, 1), got 2.0\n")
    }
}

/// Each command's JSON fields, pinned: the top-level keys (and the ensemble's nested ones), in
/// output order, against those the tool printed before the CLI was thinned
/// (NTKSpectraTests/Fixtures/cli_json_keys.json, written by make_cli_json_keys.py from the
/// same invocations). A renamed or dropped field fails; an added one needs the file regenerated.
@Suite("ntk-spectra report schema")
struct ReportSchemaTests {
    static let fixture = CLITests.fixtures.appendingPathComponent("cli_json_keys.json")

    /// The invocations of make_cli_json_keys.py, in a scratch directory.
    static func cases(_ scratch: URL) -> [String: [String]] {
        let model = InProcessTests.model
        let x = scratch.appendingPathComponent("x.npy").path, y = scratch.appendingPathComponent("y.npy").path
        return [
            "estimate": ["estimate"] + model + ["--route", "matrix-free", "--precision", "double", "--format", "json", "--quiet"],
            "estimate-dense": ["estimate"] + model + ["--route", "dense", "--format", "json", "--quiet"],
            "validate": ["validate"] + model + ["--route", "matrix-free", "--precision", "double", "--format", "json", "--quiet"],
            "exact": ["exact"] + model + ["--format", "json"],
            "exact-blocks": ["exact"] + model + ["--blocks", "2", "--block-size", "10", "--format", "json"],
            "density": ["density"] + model + ["--points", "64", "--out", scratch.appendingPathComponent("d.csv").path, "--format", "json"],
            "bench-matvec": ["bench", "matvec"] + model + ["--repeats", "1"],
            "bench-entropy": ["bench", "entropy"] + model + ["--route", "matrix-free", "--precision", "double", "--format", "json",
                                                           "--quiet"],
            "train": ["train", "--dataset", "moons", "--samples", "100", "--hidden", "4", "--epochs", "1", "--batch-size", "16",
                      "--monitor-every", "5", "--monitor-examples", "6", "--output", scratch.appendingPathComponent("train").path],
            "ensemble": ["ensemble", "--inputs", x, "--targets", y, "--widths", "8", "--seeds", "2", "--steps", "2",
                         "--format", "json"],
        ]
    }

    /// The keys of the top-level object of `text`, in the order they appear.
    static func keys(_ text: String) -> [String] {
        var keys: [String] = [], depth = 0, inString = false, escaped = false, current = ""
        let chars = Array(text)
        for (i, c) in chars.enumerated() {
            if inString {
                if escaped { escaped = false; current.append(c) } else if c == "\\" { escaped = true } else if c == "\"" {
                    inString = false
                    // A key: a string at depth 1 followed by a colon.
                    if depth == 1, chars[(i + 1)...].first(where: { $0 != " " }) == ":" { keys.append(current) }
                } else { current.append(c) }
                continue
            }
            switch c {
            case "\"": inString = true; current = ""
            case "{", "[": depth += 1
            case "}", "]": depth -= 1
            default: break
            }
        }
        return keys
    }

    static func scratch() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ntk-schema-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var g = SeededGenerator(seed: 5)
        try NPY.encode(shape: [6, 4], values: (0..<24).map { _ in g.nextGaussian() }).write(to: directory.appendingPathComponent("x.npy"))
        try NPY.encode(shape: [6], values: (0..<6).map { _ in g.nextGaussian() }).write(to: directory.appendingPathComponent("y.npy"))
        return directory
    }

    @Test(arguments: ["estimate", "estimate-dense", "validate", "exact", "exact-blocks", "density", "bench-matvec",
                      "bench-entropy", "train", "ensemble"])
    func jsonKeysAreThoseOfTheInterface(name: String) throws {
        let pinned = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: Self.fixture)) as? [String: [String]])
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try CLITests.run(try #require(Self.cases(directory)[name]))
        #expect(result.code == 0, "\(result.stderr)")
        let text = result.stdout.trimmingCharacters(in: .newlines)
        #expect(!text.contains("\n"), "one JSON line")
        #expect(Self.keys(text) == pinned[name], "\(name)")
        if name == "ensemble" {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
            let cell = try #require((object["cells"] as? [[String: Any]])?.first)
            #expect(cell.keys.sorted() == pinned["ensemble.cells"])
            #expect((cell["initial"] as? [String: Any])?.keys.sorted() == pinned["ensemble.cells.initial"])
            // Nested objects are written with sorted keys like the top level.
            #expect(pinned["ensemble.cells"] == pinned["ensemble.cells"]?.sorted())
        }
    }

    /// The key scanner reads keys only at the top level, in text order.
    @Test func keyScannerReadsTheTopLevel() {
        #expect(Self.keys(#"{"b": {"x": 1}, "a": "q\"uo:te", "c": [{"y": 2}]}"#) == ["b", "a", "c"])
    }
}

/// The option groups every command shares (`OutputOptions`, `RuntimeOptions`), the report
/// type they print through, and the model and inputs read once per command.
@Suite("ntk-spectra shared options")
struct SharedOptionsTests {
    /// Every computing command takes --threads and --quiet; every reporting command --format.
    @Test(arguments: [
        ["estimate"] + InProcessTests.model, ["validate"] + InProcessTests.model, ["exact"] + InProcessTests.model,
        ["density"] + InProcessTests.model + ["--out", "d.csv"], ["bench", "matvec"] + InProcessTests.model,
        ["bench", "entropy"] + InProcessTests.model, ["train"],
    ])
    func sharedGroupsParseEverywhere(arguments: [String]) throws {
        #expect(InProcessTests.rejection(arguments + ["--threads", "1", "--quiet", "--format", "json"]) == nil)
        #expect(InProcessTests.rejection(arguments + ["--threads", "0"]) == "--threads must be at least 1, got 0")
        #expect(InProcessTests.rejection(arguments + ["--format", "xml"])
            == "The value 'xml' is invalid for '--format <format>'. Please provide one of 'table' and 'json'.")
    }

    @Test func demoAndEnsembleTakeTheirGroups() {
        #expect(InProcessTests.rejection(["demo", "--threads", "1", "--quiet"]) == nil)
        #expect(InProcessTests.rejection(["ensemble", "--inputs", "x.npy", "--format", "json"]) == nil)
    }

    /// `bench matvec` prints JSON unless asked for a table; `exact` a table unless asked for JSON.
    @Test func defaultFormatsAreKept() throws {
        let bench = try InProcessTests.runParsed(["bench", "matvec"] + InProcessTests.model + ["--repeats", "1"]).stdout
        #expect(bench.hasPrefix("{"))
        let table = try InProcessTests.runParsed(["bench", "matvec"] + InProcessTests.model + ["--repeats", "1", "--format", "table"])
        #expect(table.stdout.hasPrefix("NTK matvec throughput\n  block "))
        let exact = try InProcessTests.runParsed(["exact"] + InProcessTests.model).stdout
        #expect(exact.hasPrefix("Exact NTK (full kernel)\n"))
    }

    /// `bench matvec` and the estimators share --precision and --operator (`ProductOptions`).
    @Test func benchMatvecTakesTheProductOptions() throws {
        let out = try InProcessTests.runParsed(["bench", "matvec"] + InProcessTests.model
            + ["--repeats", "1", "--precision", "double", "--operator", "jvp_vjp"]).stdout
        let o = try InProcessTests.object(out)
        #expect(o["operator"] as? String == "jvp_vjp" && o["precision"] as? String == "float64")
        #expect(InProcessTests.rejection(["estimate"] + InProcessTests.model + ["--precision", "double", "--operator", "jvp_vjp"]) == nil)
    }

    /// One report, two renderings of the same fields.
    @Test func reportRendersTableOrJSON() {
        var report = CommandReport(title: "T", fields: ["b": .number(.nan), "a": .integer(1)])
        report.add(["a": .integer(2), "c": .string("x")])
        report.update(["c": .string("y")])
        #expect(report.rendered(.json) == #"{"a": 1, "b": null, "c": "y"}"#)
        #expect(report.rendered(.table) == "T\n  a  1\n  b  —\n  c  y")
        #expect(CommandReport(title: "T", fields: ["a": 1], tableOverride: "custom").rendered(.table) == "custom")
    }

    /// `train --quiet` keeps stderr free of progress; without it the record lines appear.
    @Test func quietSilencesTrainingProgress() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ntk-quiet-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let arguments = ["train", "--dataset", "moons", "--samples", "40", "--hidden", "4", "--epochs", "1", "--batch-size", "16",
                         "--monitor-every", "1", "--monitor-examples", "4", "--output", directory.path]
        let loud = try InProcessTests.runParsed(arguments)
        #expect(loud.stderr.contains("train: ") && loud.stderr.contains(" step "))
        let quiet = try InProcessTests.runParsed(arguments + ["--quiet"])
        #expect(quiet.stderr.isEmpty, "\(quiet.stderr)")
        #expect(try InProcessTests.object(quiet.stdout)["records"] as? Int == 3)
    }

    /// The inputs file is read once per command: a second precision converts the same array.
    @Test func loadedModelReadsItsFilesOnce() throws {
        let (directory, inputs) = try CLIHardeningTests.scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        var options = try ModelOptions.parse(["--model", CLITests.path("mlp.json"), "--inputs", inputs.path])
        options.seed = 3
        let loaded = try LoadedModel(options)
        let network = try loaded.network(Double.self)
        let first = try loaded.inputs(Double.self, inputShape: network.inputShape)
        try FileManager.default.removeItem(at: inputs)
        let again = try loaded.inputs(Float.self, inputShape: network.inputShape)
        #expect(again.rows == first.rows && again.storage == first.storage.map { Float($0) })
    }
}

import Foundation
import NTKEstimation
import NTKLinearAlgebra
import Testing
@testable import NTKSpectraCLI

/// Command parsing, validation and failure modes, through the same entry point as the tool.
@Suite("ntk-spectra command line")
struct CLITests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../NTKSpectraTests/Fixtures").standardized

    static func path(_ name: String) -> String { fixtures.appendingPathComponent(name).path }

    /// The built `ntk-spectra` executable, next to the test bundle in the build directory.
    static var executable: URL {
        get throws {
            var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            for _ in 0..<3 {
                let candidate = dir.appendingPathComponent("ntk-spectra")
                if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
                dir = dir.deletingLastPathComponent()
            }
            throw CLIError.failed("ntk-spectra executable not found near \(CommandLine.arguments[0])")
        }
    }

    /// Runs the tool as a child process; returns its exit code, stdout and stderr.
    static func run(_ arguments: [String]) throws -> (code: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = try executable
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdoutData = out.fileHandleForReading.readDataToEndOfFile()
        let stderrData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stdoutData, as: UTF8.self),
                String(decoding: stderrData, as: UTF8.self))
    }

    @Test func exactJSONHasThePublicFields() throws {
        let (code, text, _) = try Self.run([
            "exact", "--model", Self.path("mlp.json"), "--weights", Self.path("mlp.safetensors"),
            "--inputs", Self.path("mlp_inputs.npy"), "--format", "json",
        ])
        #expect(code == 0)
        let object = try #require((try JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any])
        for key in ["trace", "entropy", "dimension", "parameter_count", "n", "outputs"] {
            #expect(object[key] != nil, "missing \(key)")
        }
        #expect(object["dimension"] as? Int == 120 && object["n"] as? Int == 40 && object["outputs"] as? Int == 3)
        #expect(!text.contains("nan") && !text.contains("NaN"))
    }

    /// `estimate --rtol 0.01` on the PyTorch-layout fixture lands within 1% of the independent
    /// JAX/numpy float64 reference, and its JSON carries the public fields.
    @Test(arguments: ["float", "double"], ["structured", "jvp_vjp"])
    func estimateLandsWithinOnePercentOfTheReference(precision: String, op: String) throws {
        let (code, text, stderr) = try Self.run([
            "estimate", "--model", Self.path("mlp.json"), "--weights", Self.path("mlp.safetensors"),
            "--inputs", Self.path("mlp_inputs.npy"), "--rtol", "0.01", "--precision", precision, "--operator", op,
            "--route", "matrix-free", "--format", "json",
        ])
        #expect(code == 0, "\(stderr)")
        let object = try #require((try JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any])
        for key in ["trace", "entropy", "dimension", "parameter_count", "n", "outputs", "trace_stderr",
                    "entropy_stderr", "matvecs", "data_passes", "seconds", "operator"] {
            #expect(object[key] != nil, "missing \(key)")
        }
        let reference = try JSONSerialization.jsonObject(
            with: Data(contentsOf: Self.fixtures.appendingPathComponent("mlp_reference.json"))) as? [String: Any]
        let full = try #require(reference?["full"] as? [String: Any])
        let exactEntropy = try #require(full["entropy"] as? Double), exactTrace = try #require(full["trace"] as? Double)
        let entropy = try #require(object["entropy"] as? Double), trace = try #require(object["trace"] as? Double)
        #expect(abs(entropy - exactEntropy) <= 0.01 * exactEntropy)
        #expect(abs(trace - exactTrace) <= 1e-5 * exactTrace)
        #expect(object["operator"] as? String == op)
    }

    @Test func validateAndDensityRun() throws {
        let (code, text, stderr) = try Self.run([
            "validate", "--model", Self.path("cnn.json"), "--weights", Self.path("cnn.safetensors"),
            "--inputs", Self.path("cnn_inputs.npy"), "--format", "json", "--precision", "double",
            "--route", "matrix-free",
        ])
        #expect(code == 0, "\(stderr)")
        let object = try #require((try JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any])
        #expect(object["exact_in_interval"] as? Bool == true)
        #expect((object["entropy_relative_error"] as? Double ?? 1) <= 0.01)

        let out = FileManager.default.temporaryDirectory.appendingPathComponent("density-\(UUID().uuidString).csv")
        defer {
            try? FileManager.default.removeItem(at: out)
            try? FileManager.default.removeItem(atPath: String(out.path.dropLast(4)) + "_exact_eigenvalues.npy")
        }
        for method in ["slq", "kpm"] {
            let density = try Self.run([
                "density", "--model", Self.path("mlp.json"), "--inputs", Self.path("mlp_inputs.npy"),
                "--method", method, "--out", out.path, "--format", "json",
            ])
            #expect(density.code == 0, "\(density.stderr)")
            let d = try #require((try JSONSerialization.jsonObject(with: Data(density.stdout.utf8))) as? [String: Any])
            #expect(abs((d["integral"] as? Double ?? 0) - 1) <= 1e-3, "\(method) density integral")
            let rows = try String(contentsOf: out, encoding: .utf8).split(separator: "\n")
            #expect(rows.first == "x,density" && rows.count > 100)
        }
    }

    /// Every route answers `estimate` with the route fields; `dense` is the exact spectrum and
    /// `kernel-lanczos` lands within 1% of it.
    @Test(arguments: ["dense", "kernel-lanczos", "auto"])
    func routesReportThemselvesAndAgreeWithTheReference(route: String) throws {
        let (code, text, stderr) = try Self.run([
            "estimate", "--model", Self.path("mlp.json"), "--weights", Self.path("mlp.safetensors"),
            "--inputs", Self.path("mlp_inputs.npy"), "--precision", "double", "--route", route, "--format", "json",
            "--quiet",
        ])
        #expect(code == 0, "\(stderr)")
        let object = try #require((try JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any])
        for key in ["route", "route_reason", "predicted_seconds", "predicted_bytes", "peak_resident_bytes"] {
            #expect(object[key] != nil, "missing \(key)")
        }
        let reference = try JSONSerialization.jsonObject(
            with: Data(contentsOf: Self.fixtures.appendingPathComponent("mlp_reference.json"))) as? [String: Any]
        let full = try #require(reference?["full"] as? [String: Any])
        let exactEntropy = try #require(full["entropy"] as? Double)
        let entropy = try #require(object["entropy"] as? Double)
        if route == "auto" {
            #expect(["dense", "kernel-lanczos", "matrix-free"].contains(object["route"] as? String ?? ""))
        } else {
            #expect(object["route"] as? String == route)
        }
        #expect(abs(entropy - exactEntropy) <= (route == "dense" ? 1e-9 : 0.01) * exactEntropy)
    }

    @Test(arguments: [
        ["estimate", "--model", "M", "--inputs", "x.npy", "--route", "fast"],
        ["estimate", "--model", "M", "--inputs", "x.npy", "--memory-budget", "0"],
        ["train", "--monitor-overhead", "0"],
        ["train", "--monitor-overhead", "1"],
        ["train", "--monitor-overhead", "-0.2"],
    ])
    func badRouteAndBudgetOptionsFailBeforeWork(arguments: [String]) throws {
        let result = try Self.run(arguments)
        #expect(result.code != 0 && result.stdout.isEmpty)
        let option = arguments[arguments.count - 2]
        #expect(result.stderr.contains(option), "\(result.stderr)")
    }

    @Test func progressLineNamesRoutePhaseAndETA() throws {
        let line = ProgressLine(command: "estimate", minimumProbes: 8, live: false)
        var p = EstimationProgress(phase: .complement, applications: 200, probes: 4, entropy: 4.47,
                                   relativeHalfWidth: 0.02, target: 0.01, seconds: 10)
        p.context = "matrix-free"
        let text = line.line(p, complementStart: (120, 6))
        #expect(text.hasPrefix("estimate: route matrix-free, probes"), "\(text)")
        #expect(text.contains("200 matvecs") && text.contains("4 probes") && text.contains("± 2.00%"))
        // 4 probes at 2% need 16 for 1% (1/√probes): 12 more at the 1 s per probe measured so far.
        #expect(p.secondsLeft(minimumProbes: 8, complementStart: (120, 6)) == 12)
        #expect(text.hasSuffix("ETA 12 s"), "\(text)")
        // The pilot has no ETA yet.
        #expect(EstimationProgress(phase: .pilot, applications: 120, seconds: 5)
            .secondsLeft(minimumProbes: 8, complementStart: (0, 0)) == nil)
    }

    @Test func probeSetLargerThanTheHeldOutDataIsRefusedBeforeTraining() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ntk-probes-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try Self.run([
            "train", "--dataset", "moons", "--samples", "100", "--monitor-examples", "500", "--output", directory.path,
        ])
        #expect(result.code != 0)
        #expect(result.stderr.contains("--monitor-examples") && result.stderr.contains("20 held-out"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("records.jsonl").path))
    }

    @Test(arguments: [
        ["exact", "--model", "/nonexistent/model.json", "--inputs", "x.npy"],
        ["exact", "--inputs", "x.npy"],
        ["exact", "--model", "M", "--inputs", "x.npy", "--kernel", "diagonal"],
        ["exact", "--model", "M", "--inputs", "x.npy", "--batch-size", "0"],
        ["exact", "--model", "M", "--inputs", "x.npy", "--max-inputs", "-3"],
        ["no-such-command"],
    ])
    func malformedInvocationsFail(arguments: [String]) throws {
        let result = try Self.run(arguments)
        #expect(result.code != 0)
        #expect(!result.stderr.isEmpty && result.stdout.isEmpty)
    }

    @Test func mismatchedFilesFailWithANamedError() throws {
        // Inputs of the CNN fixture do not fit the MLP's input shape; weights of the CNN do not fit the MLP.
        let wrongInputs = try Self.run(["exact", "--model", Self.path("mlp.json"), "--inputs", Self.path("cnn_inputs.npy")])
        #expect(wrongInputs.code == 1)
        #expect(wrongInputs.stderr.contains("cnn_inputs.npy") && wrongInputs.stderr.split(separator: "\n").count == 1)
        #expect(try Self.run([
            "exact", "--model", Self.path("mlp.json"), "--weights", Self.path("cnn.safetensors"),
            "--inputs", Self.path("mlp_inputs.npy"),
        ]).code == 1)
        // A truncated spec.
        let broken = FileManager.default.temporaryDirectory.appendingPathComponent("broken-\(UUID().uuidString).json")
        try Data("{\"input_shape\": [6], \"layers\": [".utf8).write(to: broken)
        defer { try? FileManager.default.removeItem(at: broken) }
        #expect(try Self.run(["exact", "--model", broken.path, "--inputs", Self.path("mlp_inputs.npy")]).code == 1)
    }
}

/// The monitor's records survive the process being killed between (or during) records, and a
/// later run resumes appending.
@Suite("Monitor records survive a killed process")
struct MonitorKillTests {
    @Test func recordsSurviveSIGKILLAndRunsResume() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ntk-kill-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let records = directory.appendingPathComponent("records.jsonl")
        let arguments = [
            "train", "--dataset", "moons", "--samples", "200", "--hidden", "8", "--epochs", "400",
            "--batch-size", "16", "--monitor-every", "1", "--monitor-examples", "8", "--monitor-matvecs", "200",
            "--lr", "0.05", "--output", directory.path,
        ]
        let process = Process()
        process.executableURL = try CLITests.executable
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Wait until a few records exist, then kill without warning.
        let deadline = Date().addingTimeInterval(120)
        var lines = 0
        while Date() < deadline {
            if let text = try? String(contentsOf: records, encoding: .utf8) { lines = text.filter { $0 == "\n" }.count }
            if lines >= 4 || !process.isRunning { break }
            usleep(20_000)
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal)
        #expect(lines >= 4, "the monitor wrote \(lines) records before the deadline")

        // Every complete line is a record with the public fields; a torn last line is the only
        // thing that may be lost, and reopening the file cuts it.
        let text = try String(contentsOf: records, encoding: .utf8)
        let complete = text.split(separator: "\n", omittingEmptySubsequences: true)
            .prefix(text.hasSuffix("\n") ? Int.max : max(0, text.split(separator: "\n").count - 1))
        #expect(complete.count >= 4)
        var lastStep = -1
        for line in complete {
            let object = try #require((try JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any])
            for key in ["step", "trace", "entropy", "entropy_stderr", "matvecs", "effective_rank", "top_eigenvalue"] {
                #expect(object[key] != nil, "record lacks \(key)")
            }
            let step = try #require(object["step"] as? Int)
            #expect(step > lastStep)
            lastStep = step
        }

        // Resume: a short second run appends after the surviving records.
        let resumed = try CLITests.run(arguments.map { $0 == "400" ? "1" : $0 } + ["--resume"])
        #expect(resumed.code == 0, "\(resumed.stderr)")
        let after = try JSONLinesWriterReader.records(records)
        #expect(after.count > complete.count)
        #expect(after.prefix(complete.count).map { $0["step"] as? Int } == complete.map {
            ((try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any])?["step"] as? Int
        })
    }
}

/// Reads JSON Lines records for the test.
enum JSONLinesWriterReader {
    static func records(_ url: URL) throws -> [[String: Any]] {
        try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map {
            try #require((try JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any])
        }
    }
}

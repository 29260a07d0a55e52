import Foundation
import NTKEstimation
import NTKLinearAlgebra
import Testing
@testable import NTKSpectraCLI
import NTKFormats

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

    /// Runs the tool in-process, through the same entry point as the executable
    /// (`NTKSpectraCommand.run(arguments:)`), its stdout and stderr captured; returns the exit
    /// code, stdout and stderr.
    static func run(_ arguments: [String]) throws -> (code: Int32, stdout: String, stderr: String) {
        let capture = ConsoleCapture()
        let code = Console.$current.withValue(capture.console) { NTKSpectraCommand.run(arguments: arguments) }
        return (code, capture.stdout, capture.stderr)
    }

    /// Runs the built tool as a child process (for what needs a process: a kill, the exit status).
    static func runProcess(_ arguments: [String]) throws -> (code: Int32, stdout: String, stderr: String) {
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
        ["estimate", "--model", "M", "--inputs", "x.npy", "--max-probes", "1"],
        ["estimate", "--model", "M", "--inputs", "x.npy", "--max-probes", "10", "--min-probes", "20"],
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

    /// `train --family transformer|autoencoder|gcn`: each trains and records the NTK of its
    /// probes — digits as 8 row tokens, the digits reconstructed (k = 64), the karate club as one
    /// graph example with per-node logits (k = 34 · 2).
    @Test(arguments: [
        (["--family", "transformer", "--dataset", "digits", "--hidden", "8", "--heads", "2", "--loss", "cross-entropy",
          "--batch-size", "256", "--epochs", "1", "--monitor-examples", "4"], 40),
        (["--family", "autoencoder", "--dataset", "digits", "--hidden", "16", "4", "--loss", "mse", "--batch-size", "256",
          "--epochs", "1", "--monitor-examples", "3"], 192),
        (["--family", "gcn", "--dataset", "karate", "--hidden", "8", "--loss", "cross-entropy", "--epochs", "6",
          "--lr", "0.01", "--optimizer", "adam"], 68),
    ])
    func trainsTheTransformerAutoencoderAndGCNFamilies(options: [String], dimension: Int) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ntk-family-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try Self.run(["train"] + options + ["--monitor-every", "3", "--monitor-matvecs", "300",
                                                         "--output", directory.path])
        #expect(result.code == 0, "\(result.stderr)")
        let records = try JSONLinesWriterReader.records(directory.appendingPathComponent("records.jsonl"))
        #expect(records.count >= 2)
        for r in records {
            #expect(r["dimension"] as? Int == dimension)
            let entropy = try #require(r["entropy"] as? Double)
            #expect(entropy > 0 && entropy <= log(Double(dimension)) + 1e-9)
        }
        let summary = try #require((try JSONSerialization.jsonObject(with: Data(result.stdout.utf8))) as? [String: Any])
        if options.contains("gcn") {
            // Accuracy over the held-out nodes (20 % of 34), not over the one graph example.
            let accuracy = try #require(summary["test_accuracy"] as? Double)
            #expect((accuracy * 7).rounded() == accuracy * 7)
        }
    }

    @Test(arguments: [
        (["train", "--family", "gcn", "--dataset", "moons", "--loss", "cross-entropy"], "--dataset karate or sbm"),
        (["train", "--family", "mlp", "--dataset", "karate"], "--family gcn"),
        (["train", "--family", "gcn", "--dataset", "karate", "--loss", "mse"], "--loss cross-entropy"),
        (["train", "--family", "autoencoder", "--hidden", "8", "4", "--loss", "cross-entropy"], "--loss mse"),
        (["train", "--family", "autoencoder", "--hidden", "8", "--loss", "mse"], "bottleneck"),
        (["train", "--family", "transformer", "--hidden", "6", "--heads", "4"], "--heads 4"),
    ])
    func familyOptionsAreValidated(arguments: [String], message: String) throws {
        let result = try Self.run(arguments)
        #expect(result.code != 0 && result.stdout.isEmpty)
        #expect(result.stderr.contains(message), "\(result.stderr)")
    }

    /// `density` on every route: the density integrates to 1 and the JSON names the route; the
    /// dense route's SLQ-method density is the exact spectrum smoothed, whose mean equals tr K / N.
    @Test(arguments: ["dense", "kernel-lanczos", "matrix-free"], ["slq", "kpm"])
    func densityOnEveryRoute(route: String, method: String) throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("density-\(UUID().uuidString).csv")
        defer {
            try? FileManager.default.removeItem(at: out)
            try? FileManager.default.removeItem(atPath: String(out.path.dropLast(4)) + "_exact_eigenvalues.npy")
        }
        let result = try Self.run([
            "density", "--model", Self.path("mlp.json"), "--weights", Self.path("mlp.safetensors"),
            "--inputs", Self.path("mlp_inputs.npy"), "--method", method, "--route", route, "--out", out.path,
            "--format", "json",
        ])
        #expect(result.code == 0, "\(result.stderr)")
        let d = try #require((try JSONSerialization.jsonObject(with: Data(result.stdout.utf8))) as? [String: Any])
        #expect(d["route"] as? String == route)
        #expect(abs((d["integral"] as? Double ?? 0) - 1) <= 1e-3, "\(route) \(method) integral")
        if route == "dense" && method == "slq" {
            let rows = try String(contentsOf: out, encoding: .utf8).split(separator: "\n").dropFirst().map {
                $0.split(separator: ",").map { Double($0)! }
            }
            let h = rows[1][0] - rows[0][0]
            let mean = rows.reduce(0) { $0 + $1[0] * $1[1] * h }
            let reference = try JSONSerialization.jsonObject(
                with: Data(contentsOf: Self.fixtures.appendingPathComponent("mlp_reference.json"))) as? [String: Any]
            let full = try #require(reference?["full"] as? [String: Any])
            let trace = try #require(full["trace"] as? Double)
            // Gaussian smoothing keeps the mean; the grid's trapezoid rule errs by O(h²).
            #expect(abs(mean - trace / 120) <= 1e-3 * trace / 120, "mean \(mean) vs \(trace / 120)")
        }
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

    /// The model and inputs exist (except in the first case), so each rejection comes from the
    /// option's validation, not from a missing file: deleting a `validate()` fails this test.
    @Test(arguments: [
        ["exact", "--model", "/nonexistent/model.json", "--inputs", "x.npy"],
        ["exact", "--inputs", path("mlp_inputs.npy")],
        ["exact", "--model", path("mlp.json"), "--inputs", path("mlp_inputs.npy"), "--kernel", "diagonal"],
        ["exact", "--model", path("mlp.json"), "--inputs", path("mlp_inputs.npy"), "--batch-size", "0"],
        ["exact", "--model", path("mlp.json"), "--inputs", path("mlp_inputs.npy"), "--max-inputs=-3"],
        ["no-such-command"],
    ])
    func malformedInvocationsFail(arguments: [String]) throws {
        let result = try Self.run(arguments)
        #expect(result.code != 0)
        #expect(!result.stderr.isEmpty && result.stdout.isEmpty)
        if arguments.contains(Self.path("mlp.json")) {
            // Rejected by the parser or validate(), before any file is read: the error names the option.
            let option = arguments.last(where: { $0.hasPrefix("--") })!.split(separator: "=")[0]
            #expect(!result.stderr.contains("does not exist") && result.stderr.contains(option), "\(result.stderr)")
            #expect(result.code == 64, "a usage error (EX_USAGE), not a failed run: \(result.stderr)")
        }
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

        // Resume: a short second run continues from the checkpoint (written every monitor
        // record, before it) and appends after the surviving records. 10 steps per epoch: the
        // run ends an epoch or two after the checkpoint (at most one step after the last record).
        let resumeEpochs = lastStep / 10 + 2
        let resumed = try CLITests.runProcess(arguments.map { $0 == "400" ? "\(resumeEpochs)" : $0 } + ["--resume"])
        #expect(resumed.code == 0, "\(resumed.stderr)")
        let after = try JSONLinesWriterReader.records(records)
        #expect(after.count > complete.count)
        #expect(after.prefix(complete.count).map { $0["step"] as? Int } == complete.map {
            ((try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any])?["step"] as? Int
        })
    }
}

/// `train --resume` after a SIGKILL continues from the last checkpoint: the records equal those
/// of an uninterrupted run (timing fields aside), each step once, and the weights bit for bit.
@Suite("Resumed training equals an uninterrupted run")
struct ResumeTests {
    static let arguments = [
        "train", "--dataset", "moons", "--samples", "200", "--hidden", "8", "--epochs", "30", "--batch-size", "16",
        "--monitor-every", "7", "--monitor-examples", "8", "--monitor-matvecs", "200", "--lr", "0.05",
        "--checkpoint-every", "3",
    ]

    /// The deterministic fields of each record, by step (timings and the timing-calibrated route reason excluded).
    static func deterministic(_ url: URL) throws -> [[String: String]] {
        try JSONLinesWriterReader.records(url).map { record in
            record.filter { key, _ in !key.contains("seconds") && !["route_reason", "peak_resident_bytes", "predicted_bytes"].contains(key) }
                .mapValues { "\($0)" }
        }
    }

    @Test func killedAndResumedRunMatchesAnUninterruptedOne() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("ntk-resume-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: base) }
        let straight = base.appendingPathComponent("straight"), killed = base.appendingPathComponent("killed")
        let reference = try CLITests.runProcess(Self.arguments + ["--output", straight.path])
        #expect(reference.code == 0, "\(reference.stderr)")
        let expected = try Self.deterministic(straight.appendingPathComponent("records.jsonl"))
        #expect(expected.count == 44)  // steps 0, 7, …, 294 and the last, 300
        #expect(Set(expected.map { $0["step"] }).count == expected.count)

        // Kill at pseudo-random points (after the first checkpoint), resume each time.
        var generator = SystemRandomNumberGenerator()
        let checkpoint = killed.appendingPathComponent("checkpoint.safetensors")
        var kills = 0
        for round in 0..<3 {
            let process = Process()
            process.executableURL = try CLITests.executable
            process.arguments = Self.arguments + ["--output", killed.path] + (round == 0 ? [] : ["--resume"])
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            func stamp() -> Date? { (try? FileManager.default.attributesOfItem(atPath: checkpoint.path))?[.modificationDate] as? Date }
            let before = stamp()
            try process.run()
            // Wait for this process's first checkpoint, then kill it a little later.
            let deadline = Date().addingTimeInterval(30)
            while stamp() == before, process.isRunning, Date() < deadline { usleep(2_000) }
            usleep(UInt32.random(in: 0..<40_000, using: &generator))
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                kills += 1
            }
            process.waitUntilExit()
        }
        let resumed = try CLITests.runProcess(Self.arguments + ["--output", killed.path, "--resume"])
        #expect(resumed.code == 0, "\(resumed.stderr)")
        let summary = try #require((try JSONSerialization.jsonObject(with: Data(resumed.stdout.utf8))) as? [String: Any])
        #expect(summary["checkpoint_step"] as? Int == 300)
        #expect(kills >= 1)
        #expect(try Self.deterministic(killed.appendingPathComponent("records.jsonl")) == expected, "after \(kills) kills")
        #expect(try Data(contentsOf: killed.appendingPathComponent("weights.safetensors"))
            == Data(contentsOf: straight.appendingPathComponent("weights.safetensors")))
        #expect(try FileManager.default.contentsOfDirectory(atPath: killed.path).filter { $0.hasSuffix(".tmp") }.isEmpty
            || kills > 0)

        // A finished run resumed with the same options changes nothing; with other options it is refused.
        let again = try CLITests.runProcess(Self.arguments + ["--output", killed.path, "--resume"])
        #expect(again.code == 0, "\(again.stderr)")
        #expect(try Self.deterministic(killed.appendingPathComponent("records.jsonl")) == expected)
        let otherLR = try CLITests.runProcess(Self.arguments.map { $0 == "0.05" ? "0.1" : $0 } + ["--output", killed.path, "--resume"])
        CLIHardeningTests.expectOneLineError(otherLR, contains: ["--resume", "--lr 0.05", "--lr 0.1"])
        let fewer = try CLITests.runProcess(Self.arguments.map { $0 == "30" ? "2" : $0 } + ["--output", killed.path, "--resume"])
        CLIHardeningTests.expectOneLineError(fewer, contains: ["step 300", "--epochs"])
        let missing = try CLITests.runProcess(Self.arguments + ["--output", base.appendingPathComponent("none").path, "--resume"])
        CLIHardeningTests.expectOneLineError(missing, contains: ["--resume", "no checkpoint"])
    }

    /// A diverging run exits non-zero with one line and writes no weights; each step is
    /// recorded once on disk, and the summary counts the records in the file.
    @Test func divergenceFailsAndRecordsAreUnique() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ntk-diverge-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let diverged = try CLITests.run(Self.arguments.map { $0 == "0.05" ? "1000" : $0 } + ["--output", directory.path])
        // Progress lines precede it on stderr; the error is one line, the last.
        #expect(diverged.code == 1 && diverged.stdout.isEmpty)
        let errors = diverged.stderr.split(separator: "\n").filter { $0.hasPrefix("ntk-spectra: error: ") }
        #expect(errors.count == 1 && errors.first == diverged.stderr.split(separator: "\n").last, "\(diverged.stderr)")
        #expect(errors.first?.contains("training diverged at step") == true && errors.first?.contains("--lr") == true)
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("weights.safetensors").path))

        // The last step (30) is a multiple of --monitor-every: recorded once, validated.
        let ok = try CLITests.run(["train", "--dataset", "moons", "--samples", "100", "--hidden", "4", "--epochs", "3",
                                   "--batch-size", "8", "--monitor-every", "5", "--monitor-examples", "6",
                                   "--output", directory.path])
        #expect(ok.code == 0, "\(ok.stderr)")
        let summary = try #require((try JSONSerialization.jsonObject(with: Data(ok.stdout.utf8))) as? [String: Any])
        let records = try JSONLinesWriterReader.records(directory.appendingPathComponent("records.jsonl"))
        let steps = records.compactMap { $0["step"] as? Int }
        #expect(steps == [0, 5, 10, 15, 20, 25, 30])
        #expect(summary["records"] as? Int == records.count)
        #expect(records.last?["exact_entropy"] != nil)
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

/// Hardening of the command line: one line per failure, outputs that never clobber inputs and
/// are written as a set, sizes from options checked before allocating.
@Suite("ntk-spectra hardening")
struct CLIHardeningTests {
    static let model = CLITests.path("mlp.json"), weights = CLITests.path("mlp.safetensors")

    /// Output directories that cannot be made, and data-set sizes beyond memory, are one line
    /// naming the option, before any work.
    @Test func outputDirectoriesAndDataSizesFailInWords() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("not-a-dir-\(UUID().uuidString)")
        try Data("x".utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let cases: [([String], [String])] = [
            (["demo", "--output", "/dev/null/x"], ["--output", "/dev/null is not a directory"]),
            (["train", "--dataset", "moons", "--samples", "200", "--monitor-examples", "10", "--output", file.path],
             ["--output", "it is a file, not a directory"]),
            (["train", "--dataset", "moons", "--samples", "100000000000000", "--output", file.path + "-dir"],
             ["--samples 100000000000000", "more than the physical memory"]),
        ]
        for (arguments, expected) in cases {
            let result = try CLITests.run(arguments)
            #expect(result.code == 1 && result.stdout.isEmpty, "\(arguments)")
            let lines = result.stderr.split(separator: "\n")
            #expect(lines.count == 1, "\(result.stderr)")
            for text in expected { #expect(result.stderr.contains(text), "\(result.stderr)") }
            #expect(!result.stderr.contains("NSCocoaErrorDomain"))
        }
        #expect(!FileManager.default.fileExists(atPath: file.path + "-dir"))
    }

    /// A scratch directory holding a copy of the fixture inputs.
    static func scratch() throws -> (directory: URL, inputs: URL) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ntk-harden-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let inputs = directory.appendingPathComponent("inputs.npy")
        try FileManager.default.copyItem(atPath: CLITests.path("mlp_inputs.npy"), toPath: inputs.path)
        return (directory, inputs)
    }

    static func expectOneLineError(_ result: (code: Int32, stdout: String, stderr: String), contains parts: [String]) {
        #expect(result.code != 0)
        #expect(result.stdout.isEmpty)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(result.stderr)")
        #expect(result.stderr.hasPrefix("ntk-spectra: error: "), "\(result.stderr)")
        for part in parts { #expect(result.stderr.contains(part), "missing '\(part)' in: \(result.stderr)") }
        #expect(!result.stderr.contains("NSCocoaErrorDomain") && !result.stderr.contains("UserInfo"))
    }

    @Test func outputsThatResolveToAnInputAreRefused() throws {
        let (directory, inputs) = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let before = try Data(contentsOf: inputs)
        let link = directory.appendingPathComponent("link.npy")
        try FileManager.default.createSymbolicLink(at: link, withDestinationURL: inputs)
        for out in [inputs.path, link.path, directory.path + "/./inputs.npy"] {
            let result = try CLITests.run(["exact", "--model", Self.model, "--inputs", inputs.path, "--eigenvalues-out", out])
            Self.expectOneLineError(result, contains: ["--eigenvalues-out", "it is the --inputs file"])
        }
        let modelCopy = directory.appendingPathComponent("model.npy")
        try FileManager.default.copyItem(atPath: Self.model, toPath: modelCopy.path)
        let spec = try Data(contentsOf: modelCopy)
        let clobberModel = try CLITests.run(["density", "--model", modelCopy.path, "--inputs", inputs.path, "--out", modelCopy.path])
        Self.expectOneLineError(clobberModel, contains: ["--out", "it is the --model file"])
        #expect(try Data(contentsOf: inputs) == before && Data(contentsOf: modelCopy) == spec)
    }

    @Test func filesystemFailuresAreDescribedInWords() throws {
        let (directory, inputs) = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let isDirectory = try CLITests.run(["exact", "--model", Self.model, "--inputs", inputs.path, "--eigenvalues-out", directory.path])
        Self.expectOneLineError(isDirectory, contains: ["cannot write --eigenvalues-out", "it is a directory"])
        let missing = directory.appendingPathComponent("nope/ev.npy").path
        let noDirectory = try CLITests.run(["exact", "--model", Self.model, "--inputs", inputs.path, "--eigenvalues-out", missing])
        Self.expectOneLineError(noDirectory, contains: ["directory \(directory.path)/nope does not exist"])
        let readOnly = directory.appendingPathComponent("ro")
        try FileManager.default.createDirectory(at: readOnly, withIntermediateDirectories: false)
        try FileManager.default.setAttributes([.posixPermissions: 0o555], ofItemAtPath: readOnly.path)
        defer { try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: readOnly.path) }
        if getuid() != 0 {
            let denied = try CLITests.run(["exact", "--model", Self.model, "--inputs", inputs.path,
                                           "--eigenvalues-out", readOnly.appendingPathComponent("ev.npy").path])
            Self.expectOneLineError(denied, contains: ["permission denied"])
        }
        let modelIsDirectory = try CLITests.run(["exact", "--model", directory.path, "--inputs", inputs.path])
        Self.expectOneLineError(modelIsDirectory, contains: ["it is a directory", "--model"])
    }

    /// density writes --out and its exact-eigenvalue sibling together or not at all.
    @Test func densityWritesBothOutputsOrNone() throws {
        let (directory, inputs) = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let out = directory.appendingPathComponent("d.npy")
        // The sibling path is a directory: nothing may be written, not even --out.
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("d_exact_eigenvalues.npy"), withIntermediateDirectories: false)
        let refused = try CLITests.run(["density", "--model", Self.model, "--inputs", inputs.path, "--out", out.path, "--points", "64"])
        Self.expectOneLineError(refused, contains: ["_exact_eigenvalues.npy", "it is a directory"])
        #expect(!FileManager.default.fileExists(atPath: out.path))
        try FileManager.default.removeItem(at: directory.appendingPathComponent("d_exact_eigenvalues.npy"))
        let ok = try CLITests.run(["density", "--model", Self.model, "--inputs", inputs.path, "--out", out.path, "--points", "64"])
        #expect(ok.code == 0, "\(ok.stderr)")
        #expect(FileManager.default.fileExists(atPath: out.path))
        #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("d_exact_eigenvalues.npy").path))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".tmp") }
        #expect(leftovers.isEmpty)
    }

    @Test(arguments: [
        (["estimate", "--inputs", "x.npy"], ["--model"]),
        (["estimate", "--model", "m.json", "--inputs", "x.npy", "--prob", "3"], ["--prob", "--probes"]),
        (["estimate", "--model", "m.json", "--inputs", "x.npy", "--rtol", "2"], ["--rtol"]),
        (["exact", "--model", "m.json", "--inputs", "x.npy", "--kernel", "diagonal"], ["diagonal"]),
        (["no-such-command"], ["no-such-command"]),
    ])
    func parserErrorsAreOneLine(arguments: [String], parts: [String]) throws {
        let result = try CLITests.run(arguments)
        Self.expectOneLineError(result, contains: parts)
        #expect(!result.stderr.contains("Usage:"))
    }

    @Test func helpKeepsItsUsageText() throws {
        let result = try CLITests.run(["estimate", "--help"])
        #expect(result.code == 0)
        #expect(result.stdout.contains("USAGE") && result.stdout.split(separator: "\n").count > 5)
    }

    @Test func sizesFromOptionsAreCheckedBeforeAllocating() throws {
        let (directory, inputs) = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let block = try CLITests.run(["bench", "matvec", "--model", Self.model, "--inputs", inputs.path, "--block", "100000000000000"])
        Self.expectOneLineError(block, contains: ["--block 100000000000000", "kernel dimension 120", "more than the physical memory"])
        let probes = try CLITests.run(["estimate", "--model", Self.model, "--inputs", inputs.path, "--probes", "100000000000000"])
        Self.expectOneLineError(probes, contains: ["--probes 100000000000000", "more than the physical memory"])
        let out = directory.appendingPathComponent("d.csv")
        let points = try CLITests.run(["density", "--model", Self.model, "--inputs", inputs.path, "--out", out.path,
                                       "--points", "100000000000000"])
        Self.expectOneLineError(points, contains: ["--points 100000000000000", "more than the physical memory"])
        #expect(!FileManager.default.fileExists(atPath: out.path))
    }

    @Test func badSpecsAndNetworksFailWithOneNamedLine() throws {
        let (directory, inputs) = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        func spec(_ text: String) throws -> String {
            let url = directory.appendingPathComponent("\(UUID().uuidString).json")
            try Data(text.utf8).write(to: url)
            return url.path
        }
        let cases: [(String, [String])] = [
            (String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000), ["deeper than 64 levels"]),
            (#"{"input_shape": [6], "layers": [{"type": "linear", "in_features": 6, "out_features": 3, "out_features": 3}]}"#,
             ["layers[0].out_features", "duplicate key"]),
            (#"{"input_shape": [6], "layers": [{"type": "linear", "in_features": 6, "out_features": 1e30}]}"#,
             ["layers[0].out_features", "outside the 64-bit integer range"]),
            (#"{"input_shape": [6], "layers": [{"type": "tanh"}]}"#, ["at least one layer with parameters"]),
            (#"{"input_shape": [6], "layers": [{"type": "linear", "in_features": 6, "out_features": 3000000000}]}"#,
             ["parameter vector", "more than the physical memory"]),
            (#"{"input_shape": [1, 4, 4], "layers": [{"type": "conv2d", "in_channels": 1, "out_channels": 1, "kernel_size": 1, "padding": 4611686018427387904}]}"#,
             ["field padding", "overflows the integer range"]),
        ]
        for (text, parts) in cases {
            let result = try CLITests.run(["exact", "--model", try spec(text), "--inputs", inputs.path])
            Self.expectOneLineError(result, contains: parts)
            #expect(!result.stderr.contains("not valid JSON"))
        }
    }

    @Test func finiteInputsBeyondFloatRangeOverflowFloat32() throws {
        let (directory, _) = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let inputs = directory.appendingPathComponent("big.npy")
        try NPY.write(shape: [2, 6], values: [Double](repeating: 1, count: 11) + [1e300], to: inputs)
        let result = try CLITests.run(["estimate", "--model", Self.model, "--inputs", inputs.path, "--route", "dense"])
        Self.expectOneLineError(result, contains: ["element 11 = 1e+300 overflows float32", "--precision double"])
        #expect(!result.stderr.contains("NaN"))
    }

    static let onnxFixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../NTKONNXTests/Fixtures").standardized

    /// `--model file.onnx` on every command that takes a model: `exact` reproduces the float64
    /// torch.func reference of a PyTorch export to 1e-9, and `estimate --rtol 0.01` on the
    /// matrix-free route lands within 1% of it (token-id inputs for the transformer).
    @Test(arguments: ["resnet_small", "transformer_tiny_dynamo"])
    func onnxModelsRunThroughTheCommands(file: String) throws {
        let base = file.replacingOccurrences(of: "_dynamo", with: "")
        let model = Self.onnxFixtures.appendingPathComponent("\(file).onnx").path
        let inputs = Self.onnxFixtures.appendingPathComponent("\(base)_inputs.npy").path
        let reference = try #require(try JSONSerialization.jsonObject(
            with: Data(contentsOf: Self.onnxFixtures.appendingPathComponent("\(base)_reference.json"))) as? [String: Any])
        let entropy = try #require(reference["entropy"] as? Double), parameters = try #require(reference["parameter_count"] as? Int)
        let exact = try CLITests.run(["exact", "--model", model, "--inputs", inputs, "--format", "json"])
        #expect(exact.code == 0, "\(exact.stderr)")
        let e = try #require(try JSONSerialization.jsonObject(with: Data(exact.stdout.utf8)) as? [String: Any])
        #expect(abs((e["entropy"] as? Double ?? 0) - entropy) <= 1e-9 * entropy)
        #expect(e["parameter_count"] as? Int == parameters)
        let estimate = try CLITests.run(["estimate", "--model", model, "--inputs", inputs, "--rtol", "0.01", "--route", "matrix-free",
                                     "--format", "json", "--quiet"])
        #expect(estimate.code == 0, "\(estimate.stderr)")
        let s = try #require(try JSONSerialization.jsonObject(with: Data(estimate.stdout.utf8)) as? [String: Any])
        #expect(abs((s["entropy"] as? Double ?? 0) - entropy) <= 0.01 * entropy)
        #expect(s["route"] as? String == "matrix-free")
    }

    @Test func onnxErrorsAreOneLine() throws {
        let (directory, _) = try Self.scratch()
        let junk = directory.appendingPathComponent("junk.onnx")
        try Data("not a model".utf8).write(to: junk)
        let inputs = Self.onnxFixtures.appendingPathComponent("mlp_dropout_inputs.npy").path
        Self.expectOneLineError(try CLITests.run(["exact", "--model", junk.path, "--inputs", inputs]), contains: ["junk.onnx", "ONNX"])
        // Inputs of the wrong shape for an imported model.
        let model = Self.onnxFixtures.appendingPathComponent("resnet_small.onnx").path
        Self.expectOneLineError(try CLITests.run(["exact", "--model", model, "--inputs", inputs]), contains: ["does not hold examples"])
    }
}


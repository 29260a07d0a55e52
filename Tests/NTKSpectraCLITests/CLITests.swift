import Foundation
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

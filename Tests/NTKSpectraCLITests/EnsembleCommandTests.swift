import Foundation
import NTKLinearAlgebra
import Testing
@testable import NTKSpectraCLI
import NTKFormats

/// `ntk-spectra ensemble`: JSON and CSV outputs over a widths × γ₀ grid, one-line errors.
@Suite("ntk-spectra ensemble")
struct EnsembleCommandTests {
    static func data() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ensemble-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var g = SeededGenerator(seed: 5)
        let x = (0..<(6 * 4)).map { _ in g.nextGaussian() }
        let y = (0..<6).map { x[4 * $0] }
        try NPY.encode(shape: [6, 4], values: x).write(to: directory.appendingPathComponent("x.npy"))
        try NPY.encode(shape: [6], values: y).write(to: directory.appendingPathComponent("y.npy"))
        return directory
    }

    @Test func jsonAndCSVCoverTheGrid() throws {
        let dir = try Self.data()
        let json = dir.appendingPathComponent("e.json").path, csv = dir.appendingPathComponent("e.csv").path
        let r = try CLITests.run([
            "ensemble", "--inputs", dir.appendingPathComponent("x.npy").path, "--targets", dir.appendingPathComponent("y.npy").path,
            "--widths", "8,16", "--gamma0", "0.5,1", "--seeds", "6", "--steps", "10", "--eta0", "0.5",
            "--json-out", json, "--csv-out", csv, "--format", "json",
        ])
        #expect(r.code == 0, "\(r.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any])
        let cells = try #require(object["cells"] as? [[String: Any]])
        #expect(cells.count == 4)
        let first = try #require(cells.first?["initial"] as? [String: Any])
        for key in ["trace_mean", "trace_variance", "entropy_mean", "entropy_variance", "top_eigenvalues_mean",
                    "top_eigenvalues_variance", "kernel_mean", "kernel_variance", "prediction_variance", "signal_to_noise"] {
            #expect(first[key] != nil, "missing \(key)")
        }
        #expect((first["kernel_variance"] as? [[Double]])?.count == 6)
        #expect(cells.first?["learning_rate"] as? Double == 0.5 * 0.25 * 8)
        let rows = try String(contentsOfFile: csv, encoding: .utf8).split(separator: "\n")
        #expect(rows.count == 1 + 4 * 2)
        #expect(rows.first?.hasPrefix("width,gamma0,time,seeds") == true)
        #expect(!r.stdout.contains("nan"))
    }

    @Test func badOptionsFailWithOneLine() throws {
        let dir = try Self.data()
        let x = dir.appendingPathComponent("x.npy").path
        CLIHardeningTests.expectOneLineError(try CLITests.run(["ensemble", "--inputs", x, "--widths", "8,a"]), contains: ["--widths"])
        CLIHardeningTests.expectOneLineError(try CLITests.run(["ensemble", "--inputs", x, "--gamma0", "-1"]), contains: ["--gamma0"])
        CLIHardeningTests.expectOneLineError(try CLITests.run(["ensemble", "--inputs", x, "--steps", "5"]), contains: ["--targets"])
        CLIHardeningTests.expectOneLineError(try CLITests.run(["ensemble", "--inputs", x, "--seeds", "1"]), contains: ["--seeds"])
        CLIHardeningTests.expectOneLineError(
            try CLITests.run(["ensemble", "--inputs", x, "--targets", x, "--steps", "2"]), contains: ["expected 1 value(s) per row"])
        CLIHardeningTests.expectOneLineError(
            try CLITests.run(["ensemble", "--inputs", x, "--csv-out", x]), contains: ["refusing to overwrite an input"])
    }
}

import Foundation
import Testing
import NTKLinearAlgebra
@testable import NTKDatasets

/// Whether Debian's dataset-fashion-mnist package has installed the test split.
let fashionMNISTTestSplitInstalled: Bool = {
    let names = DebianDatasets.fashionMNISTFiles(split: .test)
    return [names.images, names.labels].allSatisfy {
        FileManager.default.fileExists(atPath: DebianDatasets.fashionMNISTDirectory.appendingPathComponent($0).path)
    }
}()

@Suite("DebianDatasets")
struct DebianDatasetsTests {
    let directory: URL
    init() throws { directory = try temporaryDirectory() }

    /// Copies the gzip fixtures into `directory` under the Debian file names of `split`.
    private func installFixture(split: DebianDatasets.Split) throws {
        let names = DebianDatasets.fashionMNISTFiles(split: split)
        try FileManager.default.copyItem(
            at: try gzipFixture(fixtureImagesName), to: directory.appendingPathComponent(names.images))
        try FileManager.default.copyItem(
            at: try gzipFixture(fixtureLabelsName), to: directory.appendingPathComponent(names.labels))
    }

    @Test func debianFileNames() {
        #expect(DebianDatasets.fashionMNISTDirectory.path == "/usr/share/datasets/fashion-mnist")
        #expect(DebianDatasets.fashionMNISTFiles(split: .train) == ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"))
        #expect(DebianDatasets.fashionMNISTFiles(split: .test) == ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"))
    }

    @Test(arguments: DebianDatasets.Split.allCases)
    func fashionMNISTFromDirectory(split: DebianDatasets.Split) throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        try installFixture(split: split)
        let d = try DebianDatasets.fashionMNIST(split: split, directory: directory, as: Float.self)
        #expect(d.name == "fashion-mnist" && d.count == fixtureCount && d.inputShape == [1, 28, 28])
        #expect(d.inputSize == 784 && d.outputSize == 10 && d.classCount == 10 && d.labels == fixtureLabels)
        #expect(d.targets.row(0) == (0..<10).map { $0 == 9 ? 1 : 0 })
        #expect(d.inputs[3, 28 * 12 + 20] == Float(fixturePixel(3, 12, 20)) / 255)
    }

    @Test func limitKeepsTheFirstExamples() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        try installFixture(split: .test)
        let all = try DebianDatasets.fashionMNIST(split: .test, directory: directory, as: Double.self)
        let two = try DebianDatasets.fashionMNIST(split: .test, limit: 2, directory: directory, as: Double.self)
        #expect(two.count == 2 && two.labels == [9, 0] && two.inputShape == [1, 28, 28])
        #expect(two.inputs.row(1) == all.inputs.row(1))
        let more = try DebianDatasets.fashionMNIST(split: .test, limit: 100, directory: directory, as: Double.self)
        #expect(more == all)
        for bad in [0, -3] {
            expectDatasetError("limit \(bad)", { () throws(DatasetError) in
                _ = try DebianDatasets.fashionMNIST(split: .test, limit: bad, directory: directory, as: Float.self)
            }, matches: { if case .invalidArgument("limit", "\(bad)", _) = $0 { true } else { false } })
        }
    }

    @Test func missingDirectoryNamesThePackage() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let absent = directory.appendingPathComponent("no-such-dir")
        do {
            _ = try DebianDatasets.fashionMNIST(split: .train, directory: absent, as: Float.self)
            Issue.record("expected an error for a missing directory")
        } catch {
            guard case .io(let file, _) = error else {
                Issue.record("expected .io, got \(error)")
                return
            }
            #expect(file == absent.appendingPathComponent("train-images-idx3-ubyte.gz").path)
            let message = error.description
            #expect(message.contains("dataset-fashion-mnist") && message.contains("apt-get install dataset-fashion-mnist"))
            #expect(message.contains(absent.path) && !message.contains("\n"))
        }
    }

    @Test func missingLabelFileNamesThePackage() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        try installFixture(split: .test)
        let labels = directory.appendingPathComponent("t10k-labels-idx1-ubyte.gz")
        try FileManager.default.removeItem(at: labels)
        expectDatasetError("labels", { () throws(DatasetError) in
            _ = try DebianDatasets.fashionMNIST(split: .test, directory: directory, as: Float.self)
        }, matches: { if case .io(labels.path, let m) = $0 { m.contains("dataset-fashion-mnist") } else { false } })
    }

    /// The real data, when Debian's dataset-fashion-mnist is installed (CI installs it);
    /// otherwise the test is skipped.
    @Test(.enabled(if: fashionMNISTTestSplitInstalled, "Debian's dataset-fashion-mnist is not installed"))
    func installedFashionMNIST() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let d = try DebianDatasets.fashionMNIST(split: .test, limit: 100, as: Float.self)
        #expect(d.count == 100 && d.inputShape == [1, 28, 28] && d.outputSize == 10)
        // The first ten test labels and the first image's pixel sum (Python's gzip module).
        #expect(Array(try #require(d.labels).prefix(10)) == [9, 2, 1, 1, 6, 1, 4, 6, 5, 7])
        let sum = d.inputs.row(0).reduce(0) { $0 + Double($1) * 255 }
        #expect(abs(sum - 33456) < 0.5)
        #expect(d.inputs.storage.allSatisfy { (0...1).contains($0) })
        #expect(Set(try #require(d.labels)).isSubset(of: Set(0..<10)))
    }
}

import Foundation
import Testing
import NTKLinearAlgebra
@testable import NTKDatasets
import NTKFormats

/// IDX bytes: 0x0000, type, rank, big-endian UInt32 dimensions, payload.
private func idxBytes(shape: [Int], payload: [UInt8], type: UInt8 = 0x08) -> [UInt8] {
    var bytes: [UInt8] = [0, 0, type, UInt8(shape.count)]
    for d in shape { bytes += (0..<4).map { UInt8(truncatingIfNeeded: d >> (8 * (3 - $0))) } }
    return bytes + payload
}

private func write(_ bytes: [UInt8], _ name: String, in directory: URL) throws -> URL {
    let url = directory.appendingPathComponent(name)
    try Data(bytes).write(to: url)
    return url
}

@Suite("DatasetLoaders")
struct DatasetLoadersTests {
    let directory: URL
    init() throws { directory = try temporaryDirectory() }

    /// 3 images of 2×2 with pixel values 10·i + j, labels 2, 0, 9.
    private func mnistLike() throws -> (images: URL, labels: URL) {
        let pixels = (0..<3).flatMap { i in (0..<4).map { UInt8(10 * i + $0) } }
        return (try write(idxBytes(shape: [3, 2, 2], payload: pixels), "images.idx", in: directory),
                try write(idxBytes(shape: [3], payload: [2, 0, 9]), "labels.idx", in: directory))
    }

    // MARK: IDX

    @Test func idxLoadsImagesAndLabels() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let (images, labels) = try mnistLike()
        let d = try DatasetLoaders.idx(images: images, labels: labels, name: "mini", as: Float.self)
        #expect(d.count == 3 && d.inputShape == [1, 2, 2] && d.inputSize == 4)
        #expect(d.labels == [2, 0, 9] && d.outputSize == 10 && d.targets[2, 9] == 1)
        for i in 0..<3 {
            for j in 0..<4 { #expect(abs(d.inputs[i, j] - Float(10 * i + j) / 255) <= Float.ulpOfOne) }
        }
    }

    @Test func idxBadMagic() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = try write([1, 0, 8, 1, 0, 0, 0, 1, 5], "bad.idx", in: directory)
        expectDatasetError("magic", { () throws(DatasetError) in _ = try DatasetLoaders.readIDX(url) },
                           matches: { if case .badMagic(url.path, _, "0x01000801") = $0 { true } else { false } })
    }

    @Test func idxUnsupportedType() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = try write(idxBytes(shape: [1], payload: [0, 0, 0, 0], type: 0x0D), "float.idx", in: directory)
        expectDatasetError("type", { () throws(DatasetError) in _ = try DatasetLoaders.readIDX(url) },
                           matches: { if case .malformed(url.path, _) = $0 { true } else { false } })
    }

    @Test func idxTruncatedHeader() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = try write(Array(idxBytes(shape: [3, 2, 2], payload: []).prefix(9)), "short.idx", in: directory)
        expectDatasetError("header", { () throws(DatasetError) in _ = try DatasetLoaders.readIDX(url) },
                           matches: { $0 == .truncated(file: url.path, expectedBytes: 16, actualBytes: 9) })
    }

    @Test func idxTruncatedData() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = try write(idxBytes(shape: [3, 2, 2], payload: [UInt8](repeating: 1, count: 11)), "cut.idx", in: directory)
        expectDatasetError("data", { () throws(DatasetError) in _ = try DatasetLoaders.readIDX(url) },
                           matches: { $0 == .truncated(file: url.path, expectedBytes: 28, actualBytes: 27) })
    }

    @Test func idxTrailingData() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = try write(idxBytes(shape: [2], payload: [1, 2, 3]), "long.idx", in: directory)
        expectDatasetError("trailing", { () throws(DatasetError) in _ = try DatasetLoaders.readIDX(url) },
                           matches: { $0 == .trailingData(file: url.path, expectedBytes: 10, actualBytes: 11) })
    }

    @Test func idxLabelCountMismatch() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let (images, _) = try mnistLike()
        let labels = try write(idxBytes(shape: [2], payload: [1, 2]), "two.idx", in: directory)
        expectDatasetError("count", { () throws(DatasetError) in
            _ = try DatasetLoaders.idx(images: images, labels: labels, name: "m", as: Float.self)
        }, matches: { if case .inconsistent("m", _) = $0 { true } else { false } })
    }

    @Test func idxLabelOutOfRange() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let (images, _) = try mnistLike()
        let labels = try write(idxBytes(shape: [3], payload: [1, 12, 2]), "big.idx", in: directory)
        expectDatasetError("label", { () throws(DatasetError) in
            _ = try DatasetLoaders.idx(images: images, labels: labels, as: Float.self)
        }, matches: { $0 == .labelOutOfRange(file: labels.path, index: 1, label: 12, classCount: 10) })
    }

    @Test func missingFileIsIOError() {
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("absent.idx")
        expectDatasetError("missing", { () throws(DatasetError) in _ = try DatasetLoaders.readIDX(url) },
                           matches: { if case .io(url.path, _) = $0 { true } else { false } })
    }

    // MARK: CIFAR-10

    /// A record with `label` and pixel j = (j + seed) mod 256.
    private func cifarRecord(label: UInt8, seed: Int) -> [UInt8] {
        [label] + (0..<3072).map { UInt8(($0 + seed) % 256) }
    }

    @Test func cifarLoadsRecordsAcrossFiles() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let a = try write(cifarRecord(label: 3, seed: 0) + cifarRecord(label: 7, seed: 5), "a.bin", in: directory)
        let b = try write(cifarRecord(label: 0, seed: 9), "b.bin", in: directory)
        let d = try DatasetLoaders.cifar10(batches: [a, b], as: Double.self)
        #expect(d.count == 3 && d.inputShape == [3, 32, 32] && d.labels == [3, 7, 0])
        // Red channel first: pixel 1024 is the first green value.
        #expect(abs(d.inputs[1, 1024] - Double((1024 + 5) % 256) / 255) <= Double.ulpOfOne)
        #expect(abs(d.inputs[2, 3071] - Double((3071 + 9) % 256) / 255) <= Double.ulpOfOne)
    }

    @Test func cifarTruncatedRecord() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = try write(cifarRecord(label: 1, seed: 0) + [1, 2, 3], "cut.bin", in: directory)
        expectDatasetError("truncated", { () throws(DatasetError) in
            _ = try DatasetLoaders.cifar10(batches: [url], as: Float.self)
        }, matches: { $0 == .truncated(file: url.path, expectedBytes: 2 * 3073, actualBytes: 3076) })
    }

    @Test func cifarEmptyFile() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = try write([], "empty.bin", in: directory)
        expectDatasetError("empty", { () throws(DatasetError) in
            _ = try DatasetLoaders.cifar10(batches: [url], as: Float.self)
        }, matches: { $0 == .truncated(file: url.path, expectedBytes: 3073, actualBytes: 0) })
    }

    @Test func cifarLabelOutOfRange() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = try write(cifarRecord(label: 2, seed: 0) + cifarRecord(label: 10, seed: 0), "bad.bin", in: directory)
        expectDatasetError("label", { () throws(DatasetError) in
            _ = try DatasetLoaders.cifar10(batches: [url], as: Float.self)
        }, matches: { $0 == .labelOutOfRange(file: url.path, index: 1, label: 10, classCount: 10) })
    }

    // MARK: .npy

    @Test func npyClassificationAndRegression() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let x = directory.appendingPathComponent("x.npy")
        let labels = directory.appendingPathComponent("y.npy")
        let targets = directory.appendingPathComponent("t.npy")
        try NPY.write(shape: [4, 2, 3], values: (0..<24).map { Float($0) }, to: x)
        try NPY.write(shape: [4], values: [1, 0, 2, 1] as [Double], to: labels)
        try NPY.write(shape: [4, 2], values: (0..<8).map { Double($0) / 2 }, to: targets)
        let c = try DatasetLoaders.npy(inputs: x, labels: labels, as: Double.self)
        #expect(c.count == 4 && c.inputShape == [2, 3] && c.classCount == 3 && c.labels == [1, 0, 2, 1])
        #expect(c.targets.row(2) == [0, 0, 1])
        #expect(abs(c.inputs[3, 5] - 23) <= 23 * Double.ulpOfOne)
        let r = try DatasetLoaders.npy(inputs: x, targets: targets, as: Float.self)
        #expect(r.labels == nil && r.outputSize == 2 && abs(r.targets[3, 1] - 3.5) <= Float.ulpOfOne)
        let wide = try DatasetLoaders.npy(inputs: x, labels: labels, classCount: 5, as: Float.self)
        #expect(wide.outputSize == 5)
    }

    @Test func npyNeedsLabelsOrTargets() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let x = directory.appendingPathComponent("x.npy")
        try NPY.write(shape: [2, 1], values: [1, 2] as [Float], to: x)
        expectDatasetError("neither", { () throws(DatasetError) in _ = try DatasetLoaders.npy(inputs: x, as: Float.self) },
                           matches: { if case .invalidArgument = $0 { true } else { false } })
    }

    @Test func npyLabelShapeMismatch() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let x = directory.appendingPathComponent("x.npy"), y = directory.appendingPathComponent("y.npy")
        try NPY.write(shape: [3, 1], values: [1, 2, 3] as [Float], to: x)
        try NPY.write(shape: [2], values: [0, 1] as [Float], to: y)
        expectDatasetError("shape", { () throws(DatasetError) in
            _ = try DatasetLoaders.npy(inputs: x, labels: y, name: "n", as: Float.self)
        }, matches: { if case .inconsistent("n", _) = $0 { true } else { false } })
    }

    @Test func npyNonIntegerLabel() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let x = directory.appendingPathComponent("x.npy"), y = directory.appendingPathComponent("y.npy")
        try NPY.write(shape: [2, 1], values: [1, 2] as [Float], to: x)
        try NPY.write(shape: [2], values: [0, 1.5] as [Float], to: y)
        expectDatasetError("label", { () throws(DatasetError) in
            _ = try DatasetLoaders.npy(inputs: x, labels: y, as: Float.self)
        }, matches: { if case .malformed(y.path, _) = $0 { true } else { false } })
    }

    @Test func npyNonFiniteInput() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let x = directory.appendingPathComponent("x.npy"), t = directory.appendingPathComponent("t.npy")
        try NPY.write(shape: [2, 1], values: [1, .infinity] as [Double], to: x)
        try NPY.write(shape: [2], values: [0, 1] as [Double], to: t)
        expectDatasetError("inf", { () throws(DatasetError) in
            _ = try DatasetLoaders.npy(inputs: x, targets: t, as: Double.self)
        }, matches: { $0 == .npy(.nonFinite(file: x.path, index: 1, value: .infinity)) })
    }
}

import Foundation
import Testing
@testable import NTKCompression
import NTKLinearAlgebra
@testable import NTKDatasets

/// The committed fixtures written by `Fixtures/make_idx_gz_fixtures.py`.
func gzipFixture(_ name: String) throws -> URL {
    try #require(Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures"))
}

let fixtureImagesName = "fashion-fixture-images-idx3-ubyte.gz"
let fixtureLabelsName = "fashion-fixture-labels-idx1-ubyte.gz"
/// What the generator script wrote: pixel (i, r, c) = (37 i + 7 r + 3 c) mod 256, 5 labels.
let fixtureCount = 5
let fixtureLabels = [9, 0, 3, 7, 1]
func fixturePixel(_ i: Int, _ r: Int, _ c: Int) -> UInt8 { UInt8((37 * i + 7 * r + 3 * c) % 256) }
/// Decompressed sizes: 16-byte header + 5·28·28 pixels; 8-byte header + 5 labels.
let fixtureImagesBytes = 16 + 5 * 28 * 28
let fixtureLabelsBytes = 8 + 5

/// Runs `body`, expecting it to throw a `GzipError` that `matches` accepts.
private func expectGzipError(
    _ what: String, _ body: () throws(GzipError) -> Void, matches: (GzipError) -> Bool,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    expectTypedError(what, body, matches: matches, oneLine: true, sourceLocation: sourceLocation)
}

@Suite("Gzip and gzip-compressed IDX")
struct GzipIDXTests {
    let directory: URL
    init() throws { directory = try temporaryDirectory() }

    private func fixtureData(_ name: String) throws -> Data { try Data(contentsOf: try gzipFixture(name)) }

    // MARK: Gzip.decompress

    @Test func decompressesFixtureToWhatTheScriptWrote() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let gz = try fixtureData(fixtureImagesName)
        #expect(Gzip.isGzip(gz) && gz.count < 1024)
        let raw = [UInt8](try Gzip.decompress(gz, maxOutputBytes: 1 << 20))
        #expect(raw.count == fixtureImagesBytes)
        #expect(Array(raw.prefix(16)) == [0, 0, 8, 3, 0, 0, 0, 5, 0, 0, 0, 28, 0, 0, 0, 28])
        #expect(raw[16 + 2 * 784 + 5 * 28 + 11] == fixturePixel(2, 5, 11))
        let labels = [UInt8](try Gzip.decompress(try fixtureData(fixtureLabelsName), maxOutputBytes: 100))
        #expect(labels == [0, 0, 8, 1, 0, 0, 0, 5] + fixtureLabels.map { UInt8($0) })
    }

    @Test func multiMemberGzipIsConcatenated() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let images = try fixtureData(fixtureImagesName), labels = try fixtureData(fixtureLabelsName)
        let both = try Gzip.decompress(images + labels + images, maxOutputBytes: 1 << 20)
        let one = try Gzip.decompress(images, maxOutputBytes: 1 << 20)
        let two = try Gzip.decompress(labels, maxOutputBytes: 1 << 20)
        #expect(both == one + two + one)
    }

    @Test func tinyChunksGiveTheSameBytes() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let images = try fixtureData(fixtureImagesName), labels = try fixtureData(fixtureLabelsName)
        let whole = try Gzip.decompress(images + labels, maxOutputBytes: 1 << 20)
        for (inputChunk, outputChunk) in [(1, 1), (7, 13), (64, 1000), (1 << 20, 1)] {
            let chunked = try Gzip.decompress(
                images + labels, maxOutputBytes: 1 << 20, inputChunk: inputChunk, outputChunk: outputChunk)
            #expect(chunked == whole, "chunks \(inputChunk), \(outputChunk)")
            expectGzipError("bound with chunks \(inputChunk), \(outputChunk)", { () throws(GzipError) in
                _ = try Gzip.decompress(
                    images, maxOutputBytes: fixtureImagesBytes - 1, inputChunk: inputChunk, outputChunk: outputChunk)
            }, matches: { $0 == .outputLimitExceeded(limit: fixtureImagesBytes - 1) })
            expectGzipError("truncated with chunks \(inputChunk), \(outputChunk)", { () throws(GzipError) in
                _ = try Gzip.decompress(images.dropLast(3), maxOutputBytes: 1 << 20, inputChunk: inputChunk, outputChunk: outputChunk)
            }, matches: { if case .truncated(images.count - 3, _) = $0 { true } else { false } })
        }
    }

    @Test func corruptDataIsTypedError() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let gz = [UInt8](try fixtureData(fixtureImagesName))
        // Compression method byte 8 (deflate) flipped to 7: a bad header.
        var method = gz
        method[2] ^= 0x0F
        expectGzipError("method", { () throws(GzipError) in _ = try Gzip.decompress(Data(method), maxOutputBytes: 1 << 20) },
                        matches: { if case .corrupt = $0 { true } else { false } })
        // A flipped CRC-32 byte in the trailer: the data inflate, the checksum does not match.
        var crc = gz
        crc[gz.count - 6] ^= 0xFF
        expectGzipError("crc", { () throws(GzipError) in _ = try Gzip.decompress(Data(crc), maxOutputBytes: 1 << 20) },
                        matches: { if case .corrupt(_, let reason) = $0 { reason.contains("check") } else { false } })
        // Bytes after the last member that do not start another stream.
        expectGzipError("trailing", { () throws(GzipError) in
            _ = try Gzip.decompress(Data(gz + [0x42, 0x42, 0x42]), maxOutputBytes: 1 << 20)
        }, matches: { if case .corrupt(let offset, _) = $0 { offset >= gz.count } else { false } })
        // Not compressed at all.
        expectGzipError("plain", { () throws(GzipError) in _ = try Gzip.decompress(Data("hello, world".utf8), maxOutputBytes: 100) },
                        matches: { if case .corrupt = $0 { true } else { false } })
    }

    @Test func truncatedStreamIsTypedError() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let gz = try fixtureData(fixtureImagesName)
        for cut in [10, gz.count / 2, gz.count - 1] {
            let short = gz.prefix(cut)
            expectGzipError("cut at \(cut)", { () throws(GzipError) in _ = try Gzip.decompress(short, maxOutputBytes: 1 << 20) },
                            matches: { if case .truncated(cut, _) = $0 { true } else { false } })
        }
        expectGzipError("empty", { () throws(GzipError) in _ = try Gzip.decompress(Data(), maxOutputBytes: 1) },
                        matches: { $0 == .truncated(inputBytes: 0, outputBytes: 0) })
    }

    @Test func outputBoundIsEnforced() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let gz = try fixtureData(fixtureImagesName)
        #expect(try Gzip.decompress(gz, maxOutputBytes: fixtureImagesBytes).count == fixtureImagesBytes)
        for limit in [0, 100, fixtureImagesBytes - 1] {
            expectGzipError("limit \(limit)", { () throws(GzipError) in _ = try Gzip.decompress(gz, maxOutputBytes: limit) },
                            matches: { $0 == .outputLimitExceeded(limit: limit) })
        }
        expectGzipError("negative", { () throws(GzipError) in _ = try Gzip.decompress(gz, maxOutputBytes: -1) },
                        matches: { if case .invalidArgument("maxOutputBytes", "-1", _) = $0 { true } else { false } })
    }

    // MARK: readIDX on .gz files

    @Test func readIDXInflatesGzipByMagicNotExtension() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        // Same bytes under a name without ".gz": detected by content.
        let renamed = directory.appendingPathComponent("images.idx")
        try FileManager.default.copyItem(at: try gzipFixture(fixtureImagesName), to: renamed)
        for url in [try gzipFixture(fixtureImagesName), renamed] {
            let (shape, values) = try DatasetLoaders.readIDX(url)
            #expect(shape == [5, 28, 28] && values.count == 5 * 784)
            #expect(values[4 * 784 + 27 * 28 + 27] == fixturePixel(4, 27, 27))
        }
    }

    @Test func plainIDXStillReadsAndMatchesGzip() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let raw = try Gzip.decompress(try fixtureData(fixtureImagesName), maxOutputBytes: 1 << 20)
        let plain = directory.appendingPathComponent("images-idx3-ubyte")
        try raw.write(to: plain)
        let a = try DatasetLoaders.readIDX(plain), b = try DatasetLoaders.readIDX(try gzipFixture(fixtureImagesName))
        #expect(a.shape == b.shape && a.values == b.values)
    }

    @Test func idxLoadsGzipFixture() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let d = try DatasetLoaders.idx(
            images: try gzipFixture(fixtureImagesName), labels: try gzipFixture(fixtureLabelsName),
            name: "fixture", as: Double.self)
        #expect(d.count == fixtureCount && d.inputShape == [1, 28, 28] && d.outputSize == 10)
        #expect(d.labels == fixtureLabels && d.targets[0, 9] == 1 && d.targets[3, 7] == 1)
        for i in 0..<fixtureCount {
            for r in 0..<28 {
                for c in 0..<28 {
                    #expect(d.inputs[i, 28 * r + c] == Double(fixturePixel(i, r, c)) / 255)
                }
            }
        }
    }

    @Test func readIDXGzipErrorsNameTheFile() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let gz = [UInt8](try fixtureData(fixtureImagesName))
        var flipped = gz
        flipped[gz.count - 6] ^= 0xFF
        let corrupt = directory.appendingPathComponent("corrupt.gz")
        try Data(flipped).write(to: corrupt)
        expectDatasetError("corrupt", { () throws(DatasetError) in _ = try DatasetLoaders.readIDX(corrupt) },
                           matches: { if case .malformed(corrupt.path, let r) = $0 { r.contains("corrupt") } else { false } })
        let truncated = directory.appendingPathComponent("truncated.gz")
        try Data(gz.prefix(gz.count / 2)).write(to: truncated)
        expectDatasetError("truncated", { () throws(DatasetError) in _ = try DatasetLoaders.readIDX(truncated) },
                           matches: { if case .malformed(truncated.path, let r) = $0 { r.contains("truncated") } else { false } })
        let url = try gzipFixture(fixtureImagesName)
        expectDatasetError("bound", { () throws(DatasetError) in
            _ = try DatasetLoaders.readIDX(url, maxDecompressedBytes: 1000)
        }, matches: { if case .malformed(url.path, let r) = $0 { r.contains("1000 bytes") } else { false } })
        expectDatasetError("negative bound", { () throws(DatasetError) in
            _ = try DatasetLoaders.readIDX(url, maxDecompressedBytes: -5)
        }, matches: { if case .invalidArgument("maxDecompressedBytes", "-5", _) = $0 { true } else { false } })
    }
}

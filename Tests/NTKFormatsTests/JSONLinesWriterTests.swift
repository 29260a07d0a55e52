import Foundation
import Testing
@testable import NTKFormats

/// `JSONLinesWriter`: one record per line, resumable files, and `replaceLast` on a file it
/// reopened (a resumed training run re-validating the record its previous process wrote last).
@Suite("JSON Lines writer")
struct JSONLinesWriterTests {
    static func temporaryFile() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("jsonl-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory.appendingPathComponent("records.jsonl")
    }

    static func steps(_ url: URL) throws -> [Int] {
        try JSONLinesWriter.read(url).map { $0["step"] as? Int ?? -1 }
    }

    @Test func replaceLastAfterReopeningReplacesTheFilesLastRecord() throws {
        let url = try Self.temporaryFile()
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        do {
            let writer = try JSONLinesWriter(url: url, truncate: true)
            for step in [0, 4, 8] { try writer.append(["step": .integer(step), "validated": .bool(step == 0)]) }
        }
        let reopened = try JSONLinesWriter(url: url)
        #expect(reopened.existingRecords == 3)
        try reopened.replaceLast(["step": .integer(8), "validated": .bool(true)])
        #expect(try Self.steps(url) == [0, 4, 8])
        let last = try #require(try JSONLinesWriter.read(url).last)
        #expect(last["validated"] as? Bool == true)
        // After an append, replaceLast replaces that appended record.
        try reopened.append(["step": .integer(12)])
        try reopened.replaceLast(["step": .integer(13)])
        #expect(try Self.steps(url) == [0, 4, 8, 13])
    }

    @Test func replaceLastOnATornOrEmptyFileAppends() throws {
        let url = try Self.temporaryFile()
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        // A torn last line (a record cut mid-write) is dropped on opening; the complete one stays last.
        try Data("{\"step\":0}\n{\"step\":4,\"tr".utf8).write(to: url)
        let writer = try JSONLinesWriter(url: url)
        #expect(writer.existingRecords == 1)
        try writer.replaceLast(["step": .integer(1)])
        #expect(try Self.steps(url) == [1])
        let empty = try Self.temporaryFile()
        defer { try? FileManager.default.removeItem(at: empty.deletingLastPathComponent()) }
        let fresh = try JSONLinesWriter(url: empty, truncate: true)
        try fresh.replaceLast(["step": .integer(2)])
        #expect(try Self.steps(empty) == [2])
    }
}

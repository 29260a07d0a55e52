import Foundation

/// Appends one JSON object per line to a file, each with a single `write(2)` so a process
/// killed at any moment leaves every complete record on disk (no user-space buffering).
///
/// Opening an existing file resumes it: records already there are kept, and a partial last
/// line (a record interrupted mid-write) is cut off so the file stays valid JSON Lines.
public final class JSONLinesWriter: @unchecked Sendable {
    public let url: URL
    private let handle: FileHandle
    /// Complete records in the file when it was opened.
    public let existingRecords: Int

    /// Opens (creating if needed) `url` for appending.
    /// - Parameter truncate: start a new file instead of resuming.
    public init(url: URL, truncate: Bool = false) throws {
        self.url = url
        let fm = FileManager.default
        try fm.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        if truncate || !fm.fileExists(atPath: url.path) {
            guard fm.createFile(atPath: url.path, contents: nil) else {
                throw JSONLinesError.unwritable(path: url.path)
            }
        }
        handle = try FileHandle(forUpdating: url)
        let data = try handle.readToEnd() ?? Data()
        var keep = data.count
        if let last = data.lastIndex(of: UInt8(ascii: "\n")) {
            keep = last + 1
        } else {
            keep = 0
        }
        if keep != data.count { try handle.truncate(atOffset: UInt64(keep)) }
        existingRecords = data[0..<keep].reduce(0) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
        // A resumed file's last record is the one `replaceLast` replaces until this writer appends.
        if keep > 0 {
            let previous = data[0..<(keep - 1)].lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0
            lastLineOffset = UInt64(previous)
        }
        try handle.seekToEnd()
    }

    deinit { try? handle.close() }

    /// Offset of the last line this writer appended (nil before its first append).
    private var lastLineOffset: UInt64?

    /// Writes one record (one line) and returns once the kernel has it.
    public func append(_ record: [String: JSONValue]) throws {
        lastLineOffset = try handle.offset()
        try handle.write(contentsOf: Data((JSONValue.object(record).encoded() + "\n").utf8))
    }

    /// Replaces the last record of the file — the last one this writer appended, or, before its
    /// first append, the last complete record the file held when it was opened (appends to an
    /// empty file): the file
    /// is cut before that line and the new line written, so one record per line stays the rule.
    public func replaceLast(_ record: [String: JSONValue]) throws {
        guard let offset = lastLineOffset else { return try append(record) }
        try handle.truncate(atOffset: offset)
        try handle.seekToEnd()
        try append(record)
    }

    /// Keeps only the complete records of `url` for which `keep` is true, rewriting the file
    /// atomically (temporary file, fsync, rename); a torn last line is dropped. Returns the kept records.
    @discardableResult
    public static func keepRecords(in url: URL, where keep: ([String: Any]) -> Bool) throws -> [[String: Any]] {
        guard FileManager.default.fileExists(atPath: url.path) else { return [] }
        let data = try Data(contentsOf: url)
        var kept: [[String: Any]] = []
        var out = Data()
        for line in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) {
            guard let object = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any] else { continue }
            guard keep(object) else { continue }
            kept.append(object)
            out.append(contentsOf: line)
            out.append(UInt8(ascii: "\n"))
        }
        if out != data { try AtomicFile.write(out, to: url) }
        return kept
    }

    /// Forces the records to stable storage (survives a machine crash, not only a process kill).
    public func synchronize() throws { try handle.synchronize() }

    /// Reads the complete records of a JSON Lines file.
    public static func read(_ url: URL) throws -> [[String: Any]] {
        let text = try String(contentsOf: url, encoding: .utf8)
        return try text.split(separator: "\n", omittingEmptySubsequences: true).map { line in
            guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw JSONLinesError.notAnObject(path: url.path)
            }
            return object
        }
    }
}

/// A JSON Lines file that cannot be created.
public enum JSONLinesError: Error, Equatable, Sendable, CustomStringConvertible {
    case unwritable(path: String)
    /// A line of the file is not a JSON object.
    case notAnObject(path: String)

    public var description: String {
        switch self {
        case let .unwritable(path): return "invalid output file: expected a writable path, got \(path)"
        case let .notAnObject(path): return "invalid record: expected a JSON object per line in \(path)"
        }
    }
}

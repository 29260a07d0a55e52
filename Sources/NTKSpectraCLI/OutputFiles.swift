import Foundation
import NTKLinearAlgebra

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Every file a command writes, in one place: each output is checked before any work (it must
/// not resolve — following symlinks — to one of the command's inputs, its directory must exist
/// and be writable, it must not be a directory), written to a temporary file in the same
/// directory, and renamed into place only when all outputs of the command were written
/// (`commit()`): a failure leaves no partial set behind and never touches an input.
struct OutputFiles {
    /// The command's input files: (option, path).
    let inputs: [(option: String, path: String)]
    private var staged: [(temporary: String, path: String, option: String)] = []

    init(inputs: [(option: String, path: String?)]) {
        self.inputs = inputs.compactMap { input in input.path.map { (input.option, $0) } }
    }

    /// The canonical path of `path`: `realpath` of the file when it exists, else of its
    /// directory joined with the name.
    static func resolved(_ path: String) -> String {
        if let r = realpath(path, nil) {
            defer { free(r) }
            return String(cString: r)
        }
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        if let r = realpath(directory, nil) {
            defer { free(r) }
            return String(cString: r) + "/" + url.lastPathComponent
        }
        return url.standardizedFileURL.path
    }

    /// Refuses an output that is an input, sits in a missing or unwritable directory, or is a directory.
    func check(_ path: String, option: String) throws {
        let target = Self.resolved(path)
        for input in inputs where Self.resolved(input.path) == target {
            throw CLIError.cannotWrite(
                path, option: option, "it is the \(input.option) file; refusing to overwrite an input (choose another path)")
        }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw CLIError.cannotWrite(path, option: option, "it is a directory")
        }
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) else {
            throw CLIError.cannotWrite(path, option: option, "directory \(directory) does not exist")
        }
        guard isDirectory.boolValue else { throw CLIError.cannotWrite(path, option: option, "\(directory) is not a directory") }
        guard access(directory, W_OK) == 0 else {
            throw CLIError.cannotWrite(path, option: option, "permission denied (directory \(directory) is not writable)")
        }
        if FileManager.default.fileExists(atPath: path), access(path, W_OK) != 0 {
            throw CLIError.cannotWrite(path, option: option, "permission denied")
        }
    }

    /// Writes `data` to a temporary file beside `path` (renamed into place by `commit()`).
    mutating func stage(_ data: Data, to path: String, option: String) throws {
        try check(path, option: option)
        let url = URL(fileURLWithPath: path)
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp").path
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard fd >= 0 else { throw CLIError.cannotWrite(path, option: option, Self.reason(errno)) }
        var failure = DurableWrite.writeAllAndSync(fd, data)
        if close(fd) != 0, failure == 0 { failure = errno }
        guard failure == 0 else {
            unlink(temporary)
            throw CLIError.cannotWrite(path, option: option, Self.reason(failure))
        }
        staged.append((temporary, path, option))
    }

    /// Renames every staged file into place; on a failure the rest are removed.
    mutating func commit() throws {
        defer { discard() }
        while !staged.isEmpty {
            let file = staged.removeFirst()
            if rename(file.temporary, file.path) != 0 {
                let reason = Self.reason(errno)
                unlink(file.temporary)
                throw CLIError.cannotWrite(file.path, option: file.option, reason)
            }
        }
    }

    /// Removes the staged temporary files (nothing is written).
    mutating func discard() {
        for file in staged { unlink(file.temporary) }
        staged.removeAll()
    }

    /// Creates an output directory (and its parents), or fails with one line in words
    /// ("cannot write --output 'x': …") instead of Foundation's error dump.
    static func createDirectory(_ url: URL, option: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw CLIError.cannotWrite(url.path, option: option, "it is a file, not a directory") }
            guard access(url.path, W_OK) == 0 else { throw CLIError.cannotWrite(url.path, option: option, "permission denied") }
            return
        }
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            // Name the nearest existing ancestor and why it cannot hold the directory.
            var ancestor = url.deletingLastPathComponent()
            while !FileManager.default.fileExists(atPath: ancestor.path, isDirectory: &isDirectory), ancestor.path != "/" {
                ancestor = ancestor.deletingLastPathComponent()
            }
            let why = !isDirectory.boolValue ? "\(ancestor.path) is not a directory"
                : access(ancestor.path, W_OK) != 0 ? "permission denied (\(ancestor.path) is not writable)"
                : "the directory cannot be created"
            throw CLIError.cannotWrite(url.path, option: option, why)
        }
    }

    static func reason(_ code: Int32) -> String {
        switch code {
        case EACCES, EPERM: return "permission denied"
        case EISDIR: return "it is a directory"
        case ENOENT: return "its directory does not exist"
        case ENOSPC: return "no space left on the device"
        case EROFS: return "the file system is read-only"
        default: return String(cString: strerror(code))
        }
    }
}

/// Refuses an input path that is missing, a directory or unreadable, in the user's terms.
func checkReadable(_ path: String, what: String, option: String) throws {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
        throw CLIError.missingFile(path, what)
    }
    guard !isDirectory.boolValue else { throw CLIError.invalidFile(path, "it is a directory, expected a \(what) file (\(option))") }
    guard access(path, R_OK) == 0 else { throw CLIError.invalidFile(path, "permission denied (\(option))") }
}

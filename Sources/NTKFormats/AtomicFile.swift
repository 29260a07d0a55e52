import Foundation
import NTKLinearAlgebra

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Whole-file writes that a crash cannot leave half-done: the data goes to a temporary file
/// beside the target, is synced, renamed over the target, and the directory is synced, so the
/// path holds either the previous file or the new one (checkpoints, rewritten JSON Lines).
public enum AtomicFile {
    /// Temp file, write, fsync, rename, fsync the directory.
    /// - Throws: `SafetensorsError.io` naming the path and the step that failed.
    public static func write(_ data: Data, to url: URL) throws {
        let directory = url.deletingLastPathComponent().path
        let temporary = directory + "/.\(url.lastPathComponent).\(getpid()).tmp"
        func failure(_ what: String) -> SafetensorsError {
            .io(path: url.path, message: "cannot write (\(what)): \(String(cString: strerror(errno)))")
        }
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw failure("create \(temporary)") }
        let written = DurableWrite.writeAllAndSync(fd, data)
        if written != 0 {
            errno = written
            let error = failure("write")
            close(fd)
            unlink(temporary)
            throw error
        }
        close(fd)
        guard rename(temporary, url.path) == 0 else {
            let error = failure("rename")
            unlink(temporary)
            throw error
        }
        let dfd = open(directory, O_RDONLY)
        if dfd >= 0 {
            _ = fsync(dfd)
            close(dfd)
        }
    }
}

import Foundation

/// Writing a file so that it is either complete on disk or absent: the shared low-level step
/// of every atomic output (checkpoints, the command-line tool's outputs).
public enum DurableWrite {
    /// Writes all of `data` to the open descriptor `fd` (retrying interrupted writes) and
    /// flushes it to disk. Returns 0, or the `errno` of the failing call.
    public static func writeAllAndSync(_ fd: Int32, _ data: Data) -> Int32 {
        var failure: Int32 = 0
        data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                #if canImport(Glibc)
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                #else
                let n = Darwin.write(fd, raw.baseAddress! + offset, raw.count - offset)
                #endif
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                offset += n
            }
        }
        if failure == 0, fsync(fd) != 0 { failure = errno }
        return failure
    }
}

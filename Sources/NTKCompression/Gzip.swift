import CZlib
import Foundation

/// Errors inflating gzip or zlib data. Every message is one line saying what went wrong and
/// where.
public enum GzipError: Error, Equatable, Sendable, CustomStringConvertible {
    /// An argument is out of range, e.g. `maxOutputBytes = -1`.
    case invalidArgument(name: String, value: String, expected: String)
    /// The data are not a valid gzip or zlib stream (bad header, bad block, bad checksum).
    /// `offset` is the input byte at which zlib stopped; `reason` is zlib's message.
    case corrupt(offset: Int, reason: String)
    /// The input ended before the end of the compressed stream.
    case truncated(inputBytes: Int, outputBytes: Int)
    /// Inflating would produce more than `limit` bytes (the bound against decompression
    /// bombs); decompression stopped at `limit + 1` bytes.
    case outputLimitExceeded(limit: Int)
    /// zlib failed for a reason other than the data (e.g. out of memory, version mismatch).
    case zlib(function: String, code: Int32, message: String)

    public var description: String {
        switch self {
        case let .invalidArgument(name, value, expected):
            return "invalid \(name) = \(value); expected \(expected)"
        case let .corrupt(offset, reason):
            return "corrupt gzip/zlib data at input byte \(offset): \(reason)"
        case let .truncated(inputBytes, outputBytes):
            return "truncated gzip/zlib stream: the input ended after \(inputBytes) bytes "
                + "(\(outputBytes) bytes decompressed) before the end of the compressed data"
        case let .outputLimitExceeded(limit):
            return "decompressed data exceed the limit of \(limit) bytes (maxOutputBytes); stopped inflating"
        case let .zlib(function, code, message):
            return "zlib \(function) failed (code \(code)): \(message)"
        }
    }
}

/// gzip (RFC 1952) and zlib (RFC 1950) decompression through zlib's `inflate`.
public enum Gzip {
    /// The two bytes every gzip member starts with.
    public static let magic: (UInt8, UInt8) = (0x1f, 0x8b)

    /// Input is handed to zlib in slices of at most this many bytes, output collected in
    /// buffers of this size.
    static let inputChunk = 1 << 20
    static let outputChunk = 1 << 16

    /// Whether `data` starts with the gzip magic bytes 0x1f 0x8b.
    public static func isGzip(_ data: Data) -> Bool {
        data.count >= 2 && data[data.startIndex] == magic.0 && data[data.startIndex + 1] == magic.1
    }

    /// Whether `bytes` start with the gzip magic bytes 0x1f 0x8b.
    public static func isGzip(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 2 && bytes[0] == magic.0 && bytes[1] == magic.1
    }

    /// Inflates a gzip or zlib stream (detected from its header: zlib's windowBits 15 + 32).
    /// Concatenated gzip members (as `cat a.gz b.gz` or `pigz` produce) are inflated one after
    /// the other into one output, as `gunzip` does; bytes after the last member that do not
    /// start another stream are an error, not silently ignored.
    ///
    /// - Parameters:
    ///   - data: the compressed bytes.
    ///   - maxOutputBytes: the largest decompressed size accepted (≥ 0). Inflating stops as
    ///     soon as it is exceeded, so memory stays bounded whatever the input claims.
    /// - Throws: `GzipError.corrupt` for invalid data, `.truncated` when the input ends
    ///   inside a stream (including empty input), `.outputLimitExceeded` past
    ///   `maxOutputBytes`, `.invalidArgument` for a negative bound.
    /// - Complexity: O(input + output) time; O(output) memory plus zlib's ≈ 40 KB state.
    public static func decompress(_ data: Data, maxOutputBytes: Int) throws(GzipError) -> Data {
        try decompress(data, maxOutputBytes: maxOutputBytes, inputChunk: inputChunk, outputChunk: outputChunk)
    }

    /// `decompress` with explicit chunk sizes (≥ 1), so that tests can exercise chunk
    /// boundaries on small inputs.
    static func decompress(
        _ data: Data, maxOutputBytes: Int, inputChunk: Int, outputChunk: Int
    ) throws(GzipError) -> Data {
        guard inputChunk >= 1, outputChunk >= 1 else {
            throw .invalidArgument(name: "chunk sizes", value: "\(inputChunk), \(outputChunk)", expected: "≥ 1")
        }
        guard maxOutputBytes >= 0 else {
            throw .invalidArgument(name: "maxOutputBytes", value: "\(maxOutputBytes)", expected: "≥ 0")
        }
        var stream = z_stream()
        let initStatus = inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard initStatus == Z_OK else {
            throw .zlib(function: "inflateInit2", code: initStatus, message: message(of: stream, status: initStatus))
        }
        defer { inflateEnd(&stream) }

        let outputBuffer = UnsafeMutablePointer<Bytef>.allocate(capacity: outputChunk)
        defer { outputBuffer.deallocate() }

        let result: Result<Data, GzipError> = data.withUnsafeBytes { raw in
            do throws(GzipError) {
                return .success(
                    try inflateAll(
                        &stream, input: raw, inputChunk: inputChunk, output: outputBuffer,
                        outputChunk: outputChunk, maxOutputBytes: maxOutputBytes))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// The inflate loop over an initialized `stream`; see `decompress`.
    private static func inflateAll(
        _ stream: inout z_stream, input raw: UnsafeRawBufferPointer, inputChunk: Int,
        output: UnsafeMutablePointer<Bytef>, outputChunk: Int, maxOutputBytes: Int
    ) throws(GzipError) -> Data {
        let total = raw.count
        let base = raw.baseAddress?.assumingMemoryBound(to: Bytef.self)
        var fed = 0  // input bytes handed to zlib so far
        var produced = 0
        var result = Data()
        /// Input bytes zlib has consumed.
        func consumed(_ stream: z_stream) -> Int { fed - Int(stream.avail_in) }

        while true {
            if stream.avail_in == 0, fed < total, let base {
                let n = min(inputChunk, total - fed)
                stream.next_in = UnsafeMutablePointer(mutating: base + fed)
                stream.avail_in = try zSize(n)
                fed += n
            }
            // Room for at most one byte past the bound, so that exceeding it is detected
            // without ever holding more than maxOutputBytes + 1 bytes.
            let allowed = maxOutputBytes - produced
            let room = allowed >= outputChunk ? outputChunk : allowed + 1
            stream.next_out = output
            stream.avail_out = try zSize(room)
            let status = inflate(&stream, Z_NO_FLUSH)
            let got = room - Int(stream.avail_out)
            stream.next_out = nil
            produced += got
            guard produced <= maxOutputBytes else { throw .outputLimitExceeded(limit: maxOutputBytes) }
            result.append(output, count: got)

            switch status {
            case Z_OK:
                continue
            case Z_STREAM_END:
                if stream.avail_in == 0, fed == total { return result }
                // Another member follows (multi-member gzip): start over on the rest.
                let resetStatus = inflateReset(&stream)
                guard resetStatus == Z_OK else {
                    throw .zlib(function: "inflateReset", code: resetStatus, message: message(of: stream, status: resetStatus))
                }
            case Z_BUF_ERROR:
                // No progress possible: with output room left, zlib needs more input.
                if stream.avail_in == 0, fed == total {
                    throw .truncated(inputBytes: total, outputBytes: produced)
                }
                throw .zlib(function: "inflate", code: status, message: "no progress with input and output available")
            case Z_DATA_ERROR:
                throw .corrupt(offset: consumed(stream), reason: message(of: stream, status: status))
            case Z_NEED_DICT:
                throw .corrupt(offset: consumed(stream), reason: "the stream needs a preset dictionary")
            default:
                throw .zlib(function: "inflate", code: status, message: message(of: stream, status: status))
            }
        }
    }

    /// `n` as zlib's `uInt`, or an error if it does not fit (never truncated).
    private static func zSize(_ n: Int) throws(GzipError) -> uInt {
        guard let size = uInt(exactly: n) else {
            throw .invalidArgument(name: "zlib buffer size", value: "\(n)", expected: "0...\(uInt.max)")
        }
        return size
    }

    /// zlib's message for the last error on `stream`, or a generic one from the status code.
    private static func message(of stream: z_stream, status: Int32) -> String {
        if let msg = stream.msg { return String(cString: msg) }
        switch status {
        case Z_MEM_ERROR: return "out of memory"
        case Z_VERSION_ERROR: return "incompatible zlib version"
        case Z_STREAM_ERROR: return "inconsistent stream state"
        case Z_DATA_ERROR: return "invalid compressed data"
        default: return "status \(status)"
        }
    }
}

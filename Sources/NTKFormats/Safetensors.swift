import Foundation
import NTKLinearAlgebra

/// A safetensors file (https://github.com/huggingface/safetensors): an 8-byte little-endian
/// header length N, N bytes of JSON header `{name: {"dtype", "shape", "data_offsets":
/// [begin, end]}, "__metadata__": {…}}`, then the raw little-endian tensor data, offsets
/// relative to the end of the header.
///
/// Reading validates everything before any tensor is used: the length prefix, the header
/// bounds, the JSON, each entry's dtype/shape/offsets, and that every tensor's byte range lies
/// inside the data section and matches its shape. F32 and F64 tensors convert to either
/// `Scalar`; other dtypes are listed but refused when read.
public struct Safetensors: Sendable {
    /// Element types this reader converts.
    public enum DType: String, Sendable, Hashable, CaseIterable {
        case f32 = "F32"
        case f64 = "F64"
        public var size: Int { self == .f32 ? 4 : 8 }
    }

    /// One header entry.
    public struct Entry: Sendable, Hashable {
        public var dtype: String
        public var shape: [Int]
        /// Byte range within the data section.
        public var begin: Int
        public var end: Int
    }

    public private(set) var entries: [String: Entry]
    public private(set) var metadata: [String: String]
    let bytes: Data
    let dataStart: Int

    /// The longest header accepted (the reference implementation's limit, 100 MB).
    public static let maximumHeaderLength = 100_000_000

    /// Bytes per element of the safetensors dtypes (only F32 and F64 are converted).
    static let dtypeSizes: [String: Int] = [
        "BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "U16": 2, "I16": 2, "F16": 2, "BF16": 2,
        "U32": 4, "I32": 4, "F32": 4, "U64": 8, "I64": 8, "F64": 8,
    ]

    /// Parses and validates a file's bytes: the header length is at most
    /// `maximumHeaderLength` and the file size; the header is strict JSON (no duplicate tensor
    /// names, bounded nesting); each entry has exactly dtype, shape and data_offsets, with
    /// integer shapes and offsets; the tensors, in offset order, cover the data section exactly
    /// (no gaps, overlaps or trailing bytes) and each byte span equals its shape × dtype size
    /// (overflow-checked).
    public init(data: Data) throws(SafetensorsError) {
        let bytes = Data(data)  // re-based to index 0
        guard bytes.count >= 8 else { throw .truncated(what: "header length prefix", expected: 8, got: bytes.count) }
        let length = bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard length <= UInt64(bytes.count - 8) else { throw .headerOutOfBounds(headerLength: length, available: bytes.count - 8) }
        guard length <= UInt64(Self.maximumHeaderLength) else {
            throw .corruptHeader("header length \(length) bytes exceeds the limit of \(Self.maximumHeaderLength) bytes")
        }
        let headerEnd = 8 + Int(length)
        let json: StrictJSON.Value
        do {
            json = try StrictJSON.parse(bytes[8..<headerEnd])
        } catch {
            if error.message.hasPrefix("not valid JSON") { throw .corruptHeader("the \(length)-byte header is not valid JSON") }
            throw .corruptHeader("the \(length)-byte header, at \(error.path): \(error.message)")
        }
        guard case let .object(header) = json else {
            throw .corruptHeader("got \(json.kindDescription), expected an object of tensor entries")
        }
        let dataSize = bytes.count - headerEnd
        var entries: [String: Entry] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in header {
            if name == "__metadata__" {
                guard case let .object(m) = value else {
                    throw .corruptHeader("__metadata__ is \(value.kindDescription), expected an object of strings")
                }
                for (k, v) in m {
                    guard case let .string(s) = v else {
                        throw .corruptHeader("__metadata__ value for \"\(k)\" is \(v.kindDescription), expected a string")
                    }
                    metadata[k] = s
                }
                continue
            }
            guard case let .object(fields) = value else {
                throw .invalidEntry(tensor: name, message: "entry is \(value.kindDescription), expected an object with dtype, shape, data_offsets")
            }
            let known = ["data_offsets", "dtype", "shape"]
            for (key, _) in fields where !known.contains(key) {
                var message = "unknown field \"\(key)\""
                if let guess = StrictJSON.suggestion(for: key, among: known) { message += "; did you mean \"\(guess)\"?" }
                throw .invalidEntry(tensor: name, message: message + " (expected dtype, shape, data_offsets)")
            }
            guard case let .string(dtype)? = value["dtype"] else {
                throw .invalidEntry(tensor: name, message: "missing or non-string \"dtype\"")
            }
            guard let elementSize = Self.dtypeSizes[dtype] else {
                throw .invalidEntry(
                    tensor: name, message: "unknown dtype \"\(dtype)\" (expected one of \(Self.dtypeSizes.keys.sorted().joined(separator: ", ")))")
            }
            let shape = try Self.integers(value["shape"], tensor: name, field: "shape", what: "an array of non-negative integers")
            let offsets = try Self.integers(value["data_offsets"], tensor: name, field: "data_offsets", what: "[begin, end]")
            guard offsets.count == 2 else {
                throw .invalidEntry(tensor: name, message: "\"data_offsets\" must be [begin, end]")
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin <= end, end <= dataSize else {
                throw .dataOutOfBounds(tensor: name, begin: begin, end: end, dataSize: dataSize)
            }
            guard let count = SizeLimit.product(shape), case let (span, overflow) = count.multipliedReportingOverflow(by: elementSize),
                !overflow
            else {
                throw .invalidEntry(tensor: name, message: "shape \(shape) × \(elementSize) bytes overflows the integer range")
            }
            guard end - begin == span else { throw .dataOutOfBounds(tensor: name, begin: begin, end: end, dataSize: dataSize) }
            entries[name] = Entry(dtype: dtype, shape: shape, begin: begin, end: end)
        }
        // In offset order the tensors must tile the data section exactly.
        var position = 0
        var previous: String? = nil
        for (name, entry) in entries.sorted(by: { ($0.value.begin, $0.value.end, $0.key) < ($1.value.begin, $1.value.end, $1.key) }) {
            guard entry.begin == position else {
                let after = previous.map { "the previous tensor \"\($0)\" ends at byte \(position)" } ?? "the data section starts at byte 0"
                throw .invalidEntry(
                    tensor: name,
                    message: "data starts at byte \(entry.begin), but \(after) (\(entry.begin < position ? "overlap" : "gap"); "
                        + "tensors must tile the data section in order)")
            }
            position = entry.end
            previous = name
        }
        guard position == dataSize else {
            throw .corruptHeader(
                "the tensors cover \(position) bytes of the \(dataSize)-byte data section (\(dataSize - position) trailing bytes)")
        }
        self.entries = entries
        self.metadata = metadata
        self.bytes = bytes
        self.dataStart = headerEnd
    }

    /// Reads and parses a file.
    public init(contentsOf url: URL) throws(SafetensorsError) {
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw .io(path: url.path, message: "cannot read: \(error.localizedDescription)") }
        try self.init(data: data)
    }

    static func integers(_ value: StrictJSON.Value?, tensor: String, field: String, what: String) throws(SafetensorsError) -> [Int] {
        guard case let .array(items)? = value else {
            throw .invalidEntry(tensor: tensor, message: "\"\(field)\" is \(value?.kindDescription ?? "missing"), expected \(what)")
        }
        var result: [Int] = []
        for (i, item) in items.enumerated() {
            switch StrictJSON.integer(item, in: 0...Int.max) {
            case let .success(n): result.append(n)
            case let .failure(e): throw .invalidEntry(tensor: tensor, message: "\(field)[\(i)]: \(e.message)")
            }
        }
        return result
    }

    /// The values of tensor `name` (row-major), converted to `Scalar`.
    /// - Throws: `missingTensor`, `unsupportedDType`, `shapeMismatch` (if `shape` is given),
    ///   `nonFinite` (if `requireFinite`).
    public func values<Scalar: BLASScalar>(
        _ name: String, as _: Scalar.Type = Scalar.self, shape expected: [Int]? = nil, requireFinite: Bool = true
    ) throws(SafetensorsError) -> [Scalar] {
        guard let entry = entries[name] else { throw .missingTensor(name: name, expectedShape: expected ?? []) }
        if let expected, expected != entry.shape { throw .shapeMismatch(name: name, expected: expected, got: entry.shape) }
        guard let dtype = DType(rawValue: entry.dtype) else { throw .unsupportedDType(name: name, dtype: entry.dtype) }
        let count = (entry.end - entry.begin) / dtype.size
        var out = [Scalar](repeating: 0, count: count)
        let start = dataStart + entry.begin
        bytes.withUnsafeBytes { raw in
            for i in 0..<count {
                switch dtype {
                case .f32:
                    let bits = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: start + 4 * i, as: UInt32.self))
                    out[i] = Scalar(Float(bitPattern: bits))
                case .f64:
                    let bits = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: start + 8 * i, as: UInt64.self))
                    out[i] = Scalar(Double(bitPattern: bits))
                }
            }
        }
        if requireFinite, let bad = out.firstIndex(where: { !$0.isFinite }) {
            // A finite F64 value beyond the Float range is an overflow of the precision, not a NaN.
            if dtype == .f64 {
                let source = bytes.withUnsafeBytes {
                    Double(bitPattern: UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: start + 8 * bad, as: UInt64.self)))
                }
                if source.isFinite {
                    throw .overflowsPrecision(name: name, index: bad, value: source, precision: Scalar.precisionName)
                }
            }
            throw .nonFinite(name: name)
        }
        return out
    }

    /// Serializes tensors (name, shape, row-major values) in `dtype`, names sorted, the header
    /// padded with spaces to a multiple of 8 bytes (as the reference implementation does).
    public static func encode<Scalar: BLASScalar>(
        _ tensors: [(name: String, shape: [Int], values: [Scalar])], dtype: DType, metadata: [String: String] = [:]
    ) throws -> Data {
        try encode(raw: tensors.map { t in
            var bytes = Data(capacity: t.values.count * dtype.size)
            for v in t.values {
                switch dtype {
                case .f32: withUnsafeBytes(of: Float(v).bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
                case .f64: withUnsafeBytes(of: Double(v).bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
                }
            }
            return (t.name, dtype.rawValue, t.shape, bytes)
        }, metadata: metadata)
    }

    /// Serializes tensors already in their little-endian bytes, each with its own dtype (e.g.
    /// F64 parameters beside an I64 index tensor); names sorted, header padded to 8 bytes.
    public static func encode(raw tensors: [(name: String, dtype: String, shape: [Int], bytes: Data)], metadata: [String: String] = [:]) throws -> Data {
        let sorted = tensors.sorted { $0.name < $1.name }
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        for t in sorted {
            header[t.name] = ["dtype": t.dtype, "shape": t.shape, "data_offsets": [offset, offset + t.bytes.count]] as [String: Any]
            offset += t.bytes.count
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }
        var out = Data(capacity: 8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(json)
        for t in sorted { out.append(t.bytes) }
        return out
    }

    /// The values of an I64 tensor `name` (row-major).
    /// - Throws: `missingTensor`, `unsupportedDType` (not I64), `shapeMismatch` (if `shape` is given).
    public func integerValues(_ name: String, shape expected: [Int]? = nil) throws(SafetensorsError) -> [Int] {
        guard let entry = entries[name] else { throw .missingTensor(name: name, expectedShape: expected ?? []) }
        if let expected, expected != entry.shape { throw .shapeMismatch(name: name, expected: expected, got: entry.shape) }
        guard entry.dtype == "I64" else { throw .unsupportedDType(name: name, dtype: entry.dtype) }
        let count = (entry.end - entry.begin) / 8
        let start = dataStart + entry.begin
        return bytes.withUnsafeBytes { raw in
            (0..<count).map { Int(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: start + 8 * $0, as: Int64.self))) }
        }
    }
}

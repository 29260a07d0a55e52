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

    /// Parses and validates a file's bytes.
    public init(data: Data) throws(SafetensorsError) {
        let bytes = Data(data)  // re-based to index 0
        guard bytes.count >= 8 else { throw .truncated(what: "header length prefix", expected: 8, got: bytes.count) }
        let length = bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard length <= UInt64(bytes.count - 8) else { throw .headerOutOfBounds(headerLength: length, available: bytes.count - 8) }
        let headerEnd = 8 + Int(length)
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: bytes[8..<headerEnd])
        } catch {
            throw .corruptHeader("the \(length)-byte header is not valid JSON")
        }
        guard let header = json as? [String: Any] else { throw .corruptHeader("the header is not a JSON object") }
        let dataSize = bytes.count - headerEnd
        var entries: [String: Entry] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in header {
            if name == "__metadata__" {
                guard let m = value as? [String: Any] else { throw .corruptHeader("__metadata__ is not an object") }
                for (k, v) in m {
                    guard let s = v as? String else { throw .corruptHeader("__metadata__ value for \"\(k)\" is not a string") }
                    metadata[k] = s
                }
                continue
            }
            guard let object = value as? [String: Any] else { throw .invalidEntry(tensor: name, message: "entry is not an object") }
            guard let dtype = object["dtype"] as? String else { throw .invalidEntry(tensor: name, message: "missing or non-string \"dtype\"") }
            guard let shape = Self.integers(object["shape"]), shape.allSatisfy({ $0 >= 0 }) else {
                throw .invalidEntry(tensor: name, message: "\"shape\" must be an array of non-negative integers")
            }
            guard let offsets = Self.integers(object["data_offsets"]), offsets.count == 2 else {
                throw .invalidEntry(tensor: name, message: "\"data_offsets\" must be [begin, end]")
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, begin <= end, end <= dataSize else {
                throw .dataOutOfBounds(tensor: name, begin: begin, end: end, dataSize: dataSize)
            }
            if let known = DType(rawValue: dtype) {
                var count = 1
                for d in shape {
                    let (product, overflow) = count.multipliedReportingOverflow(by: d)
                    guard !overflow else { throw .invalidEntry(tensor: name, message: "shape \(shape) overflows") }
                    count = product
                }
                guard end - begin == count * known.size else {
                    throw .dataOutOfBounds(tensor: name, begin: begin, end: end, dataSize: dataSize)
                }
            }
            entries[name] = Entry(dtype: dtype, shape: shape, begin: begin, end: end)
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

    static func integers(_ value: Any?) -> [Int]? {
        guard let array = value as? [Any] else { return nil }
        var result: [Int] = []
        for element in array {
            guard let number = element as? NSNumber, let int = Int(exactly: number.doubleValue) else { return nil }
            result.append(int)
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
        if requireFinite, !out.allSatisfy({ $0.isFinite }) { throw .nonFinite(name: name) }
        return out
    }

    /// Serializes tensors (name, shape, row-major values) in `dtype`, names sorted, the header
    /// padded with spaces to a multiple of 8 bytes (as the reference implementation does).
    public static func encode<Scalar: BLASScalar>(
        _ tensors: [(name: String, shape: [Int], values: [Scalar])], dtype: DType, metadata: [String: String] = [:]
    ) throws -> Data {
        let sorted = tensors.sorted { $0.name < $1.name }
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        for t in sorted {
            let bytes = t.values.count * dtype.size
            header[t.name] = ["dtype": dtype.rawValue, "shape": t.shape, "data_offsets": [offset, offset + bytes]] as [String: Any]
            offset += bytes
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }
        var out = Data(capacity: 8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(json)
        for t in sorted {
            for v in t.values {
                switch dtype {
                case .f32: withUnsafeBytes(of: Float(v).bitPattern.littleEndian) { out.append(contentsOf: $0) }
                case .f64: withUnsafeBytes(of: Double(v).bitPattern.littleEndian) { out.append(contentsOf: $0) }
                }
            }
        }
        return out
    }
}

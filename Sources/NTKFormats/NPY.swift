import NTKLinearAlgebra
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reading and writing NumPy `.npy` files (format versions 1.0, 2.0 and 3.0).
///
/// Layout (NumPy Enhancement Proposal 1, "A simple file format for NumPy arrays"): the magic
/// bytes `\x93NUMPY`, a major and a minor version byte, the header length (little-endian
/// UInt16 for 1.0, UInt32 for 2.0/3.0), then the header — a Python dictionary literal with
/// the keys `descr`, `fortran_order` and `shape`, Latin-1 (1.0/2.0) or UTF-8 (3.0), padded
/// with spaces and a newline so that the data starts at a multiple of 64 bytes — and finally
/// the raw elements.
///
/// Supported: C order; dtypes `'<f4'`, `'<f8'` (read and written), `'<i8'`, `'<i4'`, `'|u1'`
/// / `'<u1'` (read, widened to Double). Anything else is a typed `NPYError`: big-endian or
/// structured dtypes, Fortran order, truncated or over-long data, malformed headers.
///
/// ```swift
/// try NPY.write(shape: [2, 3], values: [1, 2, 3, 4, 5, 6] as [Float], to: url)
/// let x: Matrix<Double> = try NPY.read(url).matrix()
/// ```
public enum NPY {
    /// The six magic bytes every `.npy` file starts with.
    static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]

    /// The longest header accepted: 1 MiB (NumPy writes ~128 bytes; its own reader refuses more
    /// than 10 000 unless told otherwise). A longer length field is a corrupt file.
    public static let maximumHeaderLength = 1 << 20

    /// The product of `shape`, or `nil` if a dimension is negative or the product overflows.
    static func elementCount(_ shape: [Int]) -> Int? {
        var count = 1
        for d in shape {
            guard d >= 0 else { return nil }
            let (p, overflow) = count.multipliedReportingOverflow(by: d)
            if overflow { return nil }
            count = p
        }
        return count
    }

    // MARK: Reading

    /// Reads the `.npy` file at `url`.
    ///
    /// - Parameter requireFinite: refuse NaN and infinities (`NPYError.nonFinite` names the
    ///   first offending element).
    /// - Complexity: O(file size).
    public static func read(_ url: URL, requireFinite: Bool = false) throws(NPYError) -> NPYArray {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw .io(file: url.path, message: "cannot read the file (\(error.localizedDescription))")
        }
        return try read(data: data, source: url.path, requireFinite: requireFinite)
    }

    /// Parses the bytes of a `.npy` file; `source` names it in error messages.
    /// - Complexity: O(data.count).
    public static func read(data: Data, source: String = "<data>", requireFinite: Bool = false)
        throws(NPYError) -> NPYArray
    {
        let bytes = [UInt8](data)
        guard bytes.count >= 8, Array(bytes[0..<6]) == magic else {
            throw .badMagic(file: source)
        }
        let major = Int(bytes[6]), minor = Int(bytes[7])
        guard minor == 0, (1...3).contains(major) else {
            throw .unsupportedVersion(file: source, major: major, minor: minor)
        }
        let lengthFieldSize = major == 1 ? 2 : 4
        let headerStart = 8 + lengthFieldSize
        guard bytes.count >= headerStart else {
            throw .truncated(file: source, expectedBytes: headerStart, actualBytes: bytes.count)
        }
        var headerLength = 0
        for k in 0..<lengthFieldSize { headerLength |= Int(bytes[8 + k]) << (8 * k) }
        guard headerLength <= maximumHeaderLength else {
            throw .malformedHeader(
                file: source, reason: "header length \(headerLength) bytes exceeds the limit of \(maximumHeaderLength) bytes")
        }
        let dataStart = headerStart + headerLength
        guard bytes.count >= dataStart else {
            throw .truncated(file: source, expectedBytes: dataStart, actualBytes: bytes.count)
        }
        let headerBytes = bytes[headerStart..<dataStart]
        let text: String
        if major == 3 {
            guard let utf8 = String(validating: headerBytes, as: UTF8.self) else {
                throw .malformedHeader(file: source, reason: "version 3.0 header is not valid UTF-8")
            }
            text = utf8
        } else {
            var latin1 = String.UnicodeScalarView()
            for b in headerBytes { latin1.append(Unicode.Scalar(b)) }
            text = String(latin1)
        }
        let header = try parseHeader(text, file: source)
        guard let dtype = NPYType(descr: header.descr) else {
            throw .unsupportedDType(file: source, descr: "'\(header.descr)'")
        }
        guard !header.fortranOrder else { throw .fortranOrder(file: source) }
        guard let count = elementCount(header.shape),
            case let (byteCount, overflow) = count.multipliedReportingOverflow(by: dtype.itemSize),
            !overflow
        else {
            throw .malformedHeader(file: source, reason: "shape \(header.shape) is too large")
        }
        let available = bytes.count - dataStart
        guard available >= byteCount else {
            throw .truncated(file: source, expectedBytes: dataStart + byteCount, actualBytes: bytes.count)
        }
        guard available == byteCount else {
            throw .trailingData(file: source, expectedBytes: byteCount, actualBytes: available)
        }
        let values = try bytes.withUnsafeBufferPointer { (buffer) throws(NPYError) -> [Double] in
            try decode(UnsafeRawBufferPointer(buffer), from: dataStart, count: count, dtype: dtype, source: source,
                       requireFinite: requireFinite)
        }
        return try NPYArray(shape: header.shape, values: values, dtype: dtype, source: source)
    }

    private static func decode(
        _ raw: UnsafeRawBufferPointer, from start: Int, count: Int, dtype: NPYType, source: String,
        requireFinite: Bool
    ) throws(NPYError) -> [Double] {
        var values = [Double](repeating: 0, count: count)
        let size = dtype.itemSize
        for i in 0..<count {
            let offset = start + i * size
            let v: Double
            switch dtype {
            case .float32:
                v = Double(Float(bitPattern: raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self).littleEndian))
            case .float64:
                v = Double(bitPattern: raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self).littleEndian)
            case .int32:
                v = Double(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: Int32.self)))
            case .int64:
                let n = Int64(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: Int64.self))
                guard let exact = Double(exactly: n) else {
                    throw .notRepresentable(file: source, index: i, value: "\(n)", type: "float64")
                }
                v = exact
            case .uint8:
                v = Double(raw[offset])
            }
            if requireFinite && !v.isFinite { throw .nonFinite(file: source, index: i, value: v) }
            values[i] = v
        }
        return values
    }

    // MARK: Writing

    /// The bytes of a `.npy` file (version 1.0, or 2.0 if the header needs more than 65535
    /// bytes) holding `values` in C order with the given shape, as `'<f4'` for Float and
    /// `'<f8'` for Double.
    /// - Complexity: O(values.count).
    public static func encode<Scalar: BLASScalar>(
        shape: [Int], values: [Scalar], source: String = "<data>"
    ) throws(NPYError) -> Data {
        guard let count = elementCount(shape), count == values.count else {
            throw .shapeMismatch(file: source, shape: shape, count: values.count)
        }
        let descr: String
        if Scalar.self == Float.self {
            descr = NPYType.float32.rawValue
        } else if Scalar.self == Double.self {
            descr = NPYType.float64.rawValue
        } else {
            throw .unsupportedDType(file: source, descr: Scalar.precisionName)
        }
        var prefixLength = 10
        var header = headerText(descr: descr, shape: shape, prefixLength: prefixLength)
        var major: UInt8 = 1
        if header.utf8.count > Int(UInt16.max) {
            major = 2
            prefixLength = 12
            header = headerText(descr: descr, shape: shape, prefixLength: prefixLength)
        }
        let headerLength = header.utf8.count
        let itemSize = MemoryLayout<Scalar>.size
        var bytes = [UInt8](repeating: 0, count: prefixLength + headerLength + count * itemSize)
        bytes.replaceSubrange(0..<6, with: magic)
        bytes[6] = major
        bytes[7] = 0
        for k in 0..<(prefixLength - 8) { bytes[8 + k] = UInt8(truncatingIfNeeded: headerLength >> (8 * k)) }
        bytes.replaceSubrange(prefixLength..<(prefixLength + headerLength), with: Array(header.utf8))
        let dataStart = prefixLength + headerLength
        bytes.withUnsafeMutableBytes { raw in
            for (i, v) in values.enumerated() {
                let offset = dataStart + i * itemSize
                if itemSize == 4 {
                    raw.storeBytes(of: Float(v).bitPattern.littleEndian, toByteOffset: offset, as: UInt32.self)
                } else {
                    raw.storeBytes(of: Double(v).bitPattern.littleEndian, toByteOffset: offset, as: UInt64.self)
                }
            }
        }
        return Data(bytes)
    }

    /// Writes `values` (C order) with the given shape to `url`, atomically: the bytes go to a
    /// temporary file in the same directory, which is then renamed over `url`, so a reader
    /// never sees a half-written file and a failure leaves any previous file intact.
    /// - Complexity: O(values.count).
    public static func write<Scalar: BLASScalar>(shape: [Int], values: [Scalar], to url: URL)
        throws(NPYError)
    {
        let data = try encode(shape: shape, values: values, source: url.path)
        try writeAtomically(data, to: url)
    }

    /// Writes a matrix as a 2-d array of shape `[rows, columns]`, atomically.
    public static func write<Scalar: BLASScalar>(_ matrix: Matrix<Scalar>, to url: URL) throws(NPYError) {
        try write(shape: [matrix.rows, matrix.columns], values: matrix.storage, to: url)
    }

    /// Writes `data` to a temporary sibling of `url`, then renames it over `url`.
    static func writeAtomically(_ data: Data, to url: URL) throws(NPYError) {
        let directory = url.deletingLastPathComponent()
        let temporary = directory.appendingPathComponent(
            ".\(url.lastPathComponent).\(UUID().uuidString).tmp")
        do {
            try data.write(to: temporary)
        } catch {
            throw .io(file: url.path, message: "cannot write \(temporary.path) (\(error.localizedDescription))")
        }
        if rename(temporary.path, url.path) != 0 {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: temporary)
            throw .io(file: url.path, message: "cannot rename \(temporary.path) into place (\(reason))")
        }
    }
}

import NTKLinearAlgebra
/// Errors reading or writing NumPy `.npy` files. Every case names the file (or the in-memory
/// source given to `NPY.read(data:source:)`) and says what was expected.
public enum NPYError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file does not start with the magic string `\x93NUMPY`.
    case badMagic(file: String)
    /// The format version is not 1.0, 2.0 or 3.0.
    case unsupportedVersion(file: String, major: Int, minor: Int)
    /// The `descr` entry names a dtype this reader does not handle.
    case unsupportedDType(file: String, descr: String)
    /// The array is stored in Fortran (column-major) order; only C order is supported.
    case fortranOrder(file: String)
    /// The file holds fewer bytes than its header (or the shape) requires.
    case truncated(file: String, expectedBytes: Int, actualBytes: Int)
    /// Bytes remain after the array data: the shape in the header does not match the file.
    case trailingData(file: String, expectedBytes: Int, actualBytes: Int)
    /// The header dictionary is not the Python literal NumPy writes.
    case malformedHeader(file: String, reason: String)
    /// A NaN or infinity was found where finite values were required.
    case nonFinite(file: String, index: Int, value: Double)
    /// A value cannot be represented exactly in the requested type (an integer beyond 2⁵³
    /// read as Double, or a finite Double beyond the Float range).
    case notRepresentable(file: String, index: Int, value: String, type: String)
    /// The values passed to a writer do not match the shape.
    case shapeMismatch(file: String, shape: [Int], count: Int)
    /// The operating system refused to read, write or rename the file.
    case io(file: String, message: String)

    public var description: String {
        switch self {
        case let .badMagic(file):
            return "\(file): not a .npy file (expected the magic bytes \\x93NUMPY at the start)"
        case let .unsupportedVersion(file, major, minor):
            return "\(file): .npy format version \(major).\(minor) is not supported (expected 1.0, 2.0 or 3.0)"
        case let .unsupportedDType(file, descr):
            return "\(file): dtype \(descr) is not supported (expected one of "
                + NPYType.allCases.map { "'\($0.rawValue)'" }.joined(separator: ", ") + ", '<u1')"
        case let .fortranOrder(file):
            return "\(file): array is stored in Fortran order (expected fortran_order False, C order)"
        case let .truncated(file, expected, actual):
            return "\(file): truncated: expected \(expected) bytes, found \(actual)"
        case let .trailingData(file, expected, actual):
            return "\(file): \(actual - expected) unexpected bytes after the array data (expected \(expected) bytes of data, found \(actual))"
        case let .malformedHeader(file, reason):
            return "\(file): malformed .npy header: \(reason)"
        case let .nonFinite(file, index, value):
            return "\(file): element \(index) is \(value) (expected finite values)"
        case let .notRepresentable(file, index, value, type):
            return "\(file): element \(index) = \(value) is not exactly representable as \(type)"
        case let .shapeMismatch(file, shape, count):
            let product = NPY.elementCount(shape).map { "\($0)" } ?? "more than \(Int.max)"
            return "\(file): \(count) values do not fill shape \(shape) (expected \(product) values)"
        case let .io(file, message):
            return "\(file): \(message)"
        }
    }
}

import NTKLinearAlgebra
import NTKFormats

/// Errors building, transforming or loading data sets. Every case names the offending thing
/// (a file, an argument, an index) and says what was expected.
public enum DatasetError: Error, Equatable, Sendable, CustomStringConvertible {
    /// An argument is out of range, e.g. `trainFraction = 1.5` or `count = 0`.
    case invalidArgument(name: String, value: String, expected: String)
    /// Parts of a data set disagree in size, e.g. 10 inputs but 9 labels.
    case inconsistent(dataset: String, reason: String)
    /// An example or node index is outside `0..<count`.
    case indexOutOfRange(dataset: String, index: Int, count: Int)
    /// A file does not start with the expected magic number / header.
    case badMagic(file: String, expected: String, found: String)
    /// A file holds fewer bytes than its header promises.
    case truncated(file: String, expectedBytes: Int, actualBytes: Int)
    /// A file holds more bytes than its header promises.
    case trailingData(file: String, expectedBytes: Int, actualBytes: Int)
    /// A file's content is not in the expected format.
    case malformed(file: String, reason: String)
    /// A label is outside `0..<classCount`.
    case labelOutOfRange(file: String, index: Int, label: Int, classCount: Int)
    /// A `.npy` file could not be read.
    case npy(NPYError)
    /// The operating system refused to read a file.
    case io(file: String, message: String)

    public var description: String {
        switch self {
        case let .invalidArgument(name, value, expected):
            return "invalid \(name) = \(value); expected \(expected)"
        case let .inconsistent(dataset, reason):
            return "data set \(dataset): \(reason)"
        case let .indexOutOfRange(dataset, index, count):
            return "data set \(dataset): index \(index) is out of range (expected 0..<\(count))"
        case let .badMagic(file, expected, found):
            return "\(file): bad magic number \(found) (expected \(expected))"
        case let .truncated(file, expected, actual):
            return "\(file): truncated: expected \(expected) bytes, found \(actual)"
        case let .trailingData(file, expected, actual):
            return "\(file): \(actual - expected) unexpected bytes after the data (expected \(expected) bytes, found \(actual))"
        case let .malformed(file, reason):
            return "\(file): \(reason)"
        case let .labelOutOfRange(file, index, label, classCount):
            return "\(file): label \(label) of example \(index) is out of range (expected 0..<\(classCount))"
        case let .npy(error):
            return error.description
        case let .io(file, message):
            return "\(file): \(message)"
        }
    }
}

/// Errors reading or writing safetensors files; each names the tensor (or the file part) at
/// fault and what was expected.
public enum SafetensorsError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file ends before the 8-byte header length or is shorter than required.
    case truncated(what: String, expected: Int, got: Int)
    /// The header length points past the end of the file.
    case headerOutOfBounds(headerLength: UInt64, available: Int)
    /// The header is not a JSON object of tensor entries.
    case corruptHeader(String)
    /// A tensor entry is malformed (missing/invalid dtype, shape or data_offsets).
    case invalidEntry(tensor: String, message: String)
    /// A tensor's data_offsets fall outside the data section or do not match its shape.
    case dataOutOfBounds(tensor: String, begin: Int, end: Int, dataSize: Int)
    /// A tensor the network needs is not in the file.
    case missingTensor(name: String, expectedShape: [Int])
    /// A tensor has the wrong shape.
    case shapeMismatch(name: String, expected: [Int], got: [Int])
    /// A tensor has a dtype other than F32/F64.
    case unsupportedDType(name: String, dtype: String)
    /// A tensor contains NaN or infinite values.
    case nonFinite(name: String)
    /// A finite value does not fit the network's precision (an F64 value beyond the float32 range).
    case overflowsPrecision(name: String, index: Int, value: Double, precision: String)
    /// A tensor's values are refused by the layer that holds it (e.g. a negative BatchNorm
    /// running variance).
    case invalidValue(name: String, message: String)
    /// The file holds a tensor the network does not have (strict loading).
    case unexpectedTensor(name: String)
    /// Reading or writing the file failed.
    case io(path: String, message: String)

    public var description: String {
        switch self {
        case let .truncated(what, expected, got):
            return "safetensors: truncated \(what): expected at least \(expected) bytes, got \(got)"
        case let .headerOutOfBounds(length, available):
            return "safetensors: header length \(length) exceeds the \(available) bytes after the length prefix"
        case let .corruptHeader(message):
            return "safetensors: corrupt header: \(message)"
        case let .invalidEntry(tensor, message):
            return "safetensors: tensor \"\(tensor)\": \(message)"
        case let .dataOutOfBounds(tensor, begin, end, dataSize):
            return "safetensors: tensor \"\(tensor)\": data_offsets [\(begin), \(end)) invalid for a data section of \(dataSize) bytes and its shape/dtype"
        case let .missingTensor(name, shape):
            return "safetensors: missing tensor \"\(name)\" (expected shape \(shape))"
        case let .shapeMismatch(name, expected, got):
            return "safetensors: tensor \"\(name)\" has shape \(got), expected \(expected)"
        case let .unsupportedDType(name, dtype):
            return "safetensors: tensor \"\(name)\" has dtype \(dtype), expected F32 or F64"
        case let .nonFinite(name):
            return "safetensors: tensor \"\(name)\" contains NaN or infinite values; expected finite values"
        case let .overflowsPrecision(name, index, value, precision):
            return "safetensors: tensor \"\(name)\" element \(index) = \(value) overflows \(precision) "
                + "(largest finite \(Float.greatestFiniteMagnitude)); use double precision (--precision double)"
        case let .invalidValue(name, message):
            return "safetensors: tensor \"\(name)\": \(message)"
        case let .unexpectedTensor(name):
            return "safetensors: unexpected tensor \"\(name)\" (not a parameter of the network; load with strict: false to ignore)"
        case let .io(path, message):
            return "safetensors: \(path): \(message)"
        }
    }
}

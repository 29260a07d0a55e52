import NTKLinearAlgebra

/// Errors raised when building or running a network: every case names the offending thing
/// and what was expected.
public enum NetworkError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A layer's configuration or input shape is invalid (`layer` is a path such as "3" or
    /// "2.layers.1", `field` the PyTorch argument name).
    case invalidLayer(layer: String, field: String, message: String)
    /// A buffer or argument has the wrong size.
    case sizeMismatch(name: String, got: Int, expected: String)
    /// A cache or workspace is too small for the requested batch/block.
    case capacityExceeded(name: String, requested: Int, capacity: Int)
    /// A value that must be finite is NaN or infinite.
    case nonFinite(name: String)
    /// A model spec could not be decoded (`path` such as "layers[2].in_features").
    case invalidSpec(path: String, message: String)
    /// A size from a spec, file or option overflows the integer range or exceeds the memory
    /// limit (named quantity, value and limit).
    case tooLarge(SizeLimitError)
    /// A BLAS/LAPACK call was refused.
    case linearAlgebra(LinearAlgebraError)

    public var description: String {
        switch self {
        case let .invalidLayer(layer, field, message):
            return "layer \(layer), field \(field): \(message)"
        case let .sizeMismatch(name, got, expected):
            return "\(name) has size \(got), expected \(expected)"
        case let .capacityExceeded(name, requested, capacity):
            return "\(name): requested \(requested) exceeds the preallocated capacity \(capacity)"
        case let .nonFinite(name):
            return "\(name) contains NaN or infinite values; expected finite values"
        case let .invalidSpec(path, message):
            return "model spec, \(path): \(message)"
        case let .tooLarge(error):
            return error.description
        case let .linearAlgebra(error):
            return error.description
        }
    }
}

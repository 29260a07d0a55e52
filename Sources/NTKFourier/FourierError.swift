/// Errors from the FFTW wrappers.
public enum FourierError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A transform length that FFTW's `int` interface cannot take, or that is not allowed.
    case invalidLength(Int, expected: String)
    /// The input and output buffers do not have the transform's length.
    case bufferSize(name: String, count: Int, expected: Int)
    /// FFTW returned no plan.
    case planningFailed(String)

    public var description: String {
        switch self {
        case let .invalidLength(n, expected): return "transform length \(n) is invalid; expected \(expected)"
        case let .bufferSize(name, count, expected): return "buffer \(name) has \(count) elements, expected \(expected)"
        case let .planningFailed(what): return "FFTW could not plan \(what)"
        }
    }
}

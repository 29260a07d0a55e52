/// Errors of the structured exact path.
public enum StructuredNTKError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A parameterized layer the structured exact kernel has no Gram rule for:
    /// (top-level layer index, its type, what is supported).
    case unsupportedLayer(index: Int, type: String, expected: String)

    public var description: String {
        switch self {
        case let .unsupportedLayer(index, type, expected):
            return "unsupported layer \(index) (\(type)) for the structured exact NTK: expected \(expected); use ExactNTK instead"
        }
    }
}

/// Errors of NTKEstimation: bad configurations, shapes and non-finite operator output.
/// Every message names the offending thing and what was expected.
public enum EstimationError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A configuration value is out of range.
    case invalidConfiguration(name: String, value: String, expected: String)
    /// A vector, block or matrix has the wrong length / number of columns.
    case dimensionMismatch(what: String, got: Int, expected: Int)
    /// An operator (or input) produced NaN or infinity.
    case nonFinite(what: String)
    /// The operator has dimension 0 (nothing to estimate).
    case emptyOperator

    public var description: String {
        switch self {
        case let .invalidConfiguration(name, value, expected):
            return "configuration \(name) = \(value) is invalid; expected \(expected)"
        case let .dimensionMismatch(what, got, expected):
            return "\(what) has dimension \(got), expected \(expected)"
        case let .nonFinite(what):
            return "non-finite value (NaN or infinity) in \(what)"
        case .emptyOperator:
            return "operator has dimension 0; expected a positive dimension"
        }
    }
}

/// Throws `invalidConfiguration` unless `condition` holds.
func require(_ condition: Bool, _ name: String, _ value: some CustomStringConvertible, _ expected: String) throws {
    if !condition {
        throw EstimationError.invalidConfiguration(name: name, value: value.description, expected: expected)
    }
}

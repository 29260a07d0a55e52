/// Errors of the NTK layer: bad shapes, options and non-finite values, each naming what was
/// wrong and what was expected.
public enum NTKError: Error, Equatable, Sendable, CustomStringConvertible {
    case shapeMismatch(String)
    /// An option had an invalid value: (option name, what was expected).
    case invalidOption(String, String)
    case nonFinite(String)
    /// The exact path would need more memory than allowed: (what, bytes needed, budget).
    case tooLarge(String, needed: Int, budget: Int)

    public var description: String {
        switch self {
        case let .shapeMismatch(m): return "shape mismatch: \(m)"
        case let .invalidOption(name, expected): return "invalid \(name): expected \(expected)"
        case let .nonFinite(m): return "non-finite value: \(m)"
        case let .tooLarge(what, needed, budget):
            return "\(what) needs \(RoutePlanner.bytesDescription(needed)) (\(needed == .max ? "overflow" : "\(needed)") bytes), more than the memory budget of \(RoutePlanner.bytesDescription(budget)) (--memory-budget)"
        }
    }
}

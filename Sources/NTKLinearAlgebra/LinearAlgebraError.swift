/// Errors raised at the C boundary of NTKSpectra: sizes that do not fit the C integer type
/// of BLAS/LAPACK, and LAPACK `info` codes.
public enum LinearAlgebraError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A size or leading dimension does not fit the 32-bit integer type of the BLAS/LAPACK
    /// interface. Nothing is truncated: the call is refused.
    case sizeOverflow(name: String, value: Int)
    /// A size was negative or otherwise invalid for the routine.
    case invalidSize(name: String, value: Int, expected: String)
    /// LAPACK reported `info < 0`: argument number `argument` had an illegal value.
    case illegalArgument(routine: String, argument: Int)
    /// LAPACK reported `info > 0`: the algorithm failed to converge.
    case noConvergence(routine: String, info: Int)
    /// Shapes of the operands do not agree.
    case shapeMismatch(String)
    /// A value that must be finite was NaN or infinite.
    case nonFinite(String)

    public var description: String {
        switch self {
        case let .sizeOverflow(name, value):
            return "size \(name) = \(value) exceeds the BLAS/LAPACK integer limit \(Int32.max)"
        case let .invalidSize(name, value, expected):
            return "size \(name) = \(value) is invalid; expected \(expected)"
        case let .illegalArgument(routine, argument):
            return "LAPACK \(routine): argument \(argument) had an illegal value"
        case let .noConvergence(routine, info):
            return "LAPACK \(routine) failed to converge (info = \(info))"
        case let .shapeMismatch(message):
            return "shape mismatch: \(message)"
        case let .nonFinite(message):
            return "non-finite value: \(message)"
        }
    }
}

/// Converts a size to the 32-bit C integer type of Debian's LP64 OpenBLAS/LAPACKE.
///
/// A negative size or one larger than `Int32.max` is an error, never a truncation.
@inlinable
public func cInt(_ value: Int, _ name: @autoclosure () -> String) throws(LinearAlgebraError) -> Int32 {
    guard value >= 0 else {
        throw .invalidSize(name: name(), value: value, expected: "a non-negative size")
    }
    guard let converted = Int32(exactly: value) else {
        throw .sizeOverflow(name: name(), value: value)
    }
    return converted
}

/// Maps a LAPACK `info` code to a typed error.
@usableFromInline
func checkInfo(_ info: Int32, routine: String) throws(LinearAlgebraError) {
    if info < 0 { throw .illegalArgument(routine: routine, argument: Int(-info)) }
    if info > 0 { throw .noConvergence(routine: routine, info: Int(info)) }
}

import Foundation

/// A small JSON value for command output: stable key order, and non-finite numbers written
/// as `null` (never `NaN`).
public enum JSONValue: Sendable, Equatable {
    case number(Double)
    case integer(Int)
    case string(String)
    case bool(Bool)
    case array([JSONValue])
    case object([String: JSONValue])
    case null

    public func encoded() -> String {
        switch self {
        case let .number(x):
            guard x.isFinite else { return "null" }
            if x == x.rounded(), abs(x) < 1e15 { return String(format: "%.1f", x) }
            return "\(x)"
        case let .integer(i): return String(i)
        case let .string(s): return Self.quote(s)
        case let .bool(b): return b ? "true" : "false"
        case let .array(a): return "[" + a.map { $0.encoded() }.joined(separator: ", ") + "]"
        case let .object(o):
            return "{" + o.keys.sorted().map { Self.quote($0) + ": " + o[$0]!.encoded() }.joined(separator: ", ") + "}"
        case .null: return "null"
        }
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }
}

extension JSONValue: ExpressibleByFloatLiteral, ExpressibleByIntegerLiteral, ExpressibleByStringLiteral,
    ExpressibleByBooleanLiteral
{
    public init(floatLiteral value: Double) { self = .number(value) }
    public init(integerLiteral value: Int) { self = .integer(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}

extension JSONValue {
    /// The value as a Double (numbers and integers), else nil.
    public var doubleValue: Double? {
        switch self {
        case let .number(x): return x
        case let .integer(i): return Double(i)
        default: return nil
        }
    }

    /// The value as an Int (integers only), else nil.
    public var intValue: Int? {
        if case let .integer(i) = self { return i }
        return nil
    }

    /// The value as a String, else nil.
    public var stringValue: String? {
        if case let .string(s) = self { return s }
        return nil
    }

    /// The value as a Bool, else nil.
    public var boolValue: Bool? {
        if case let .bool(b) = self { return b }
        return nil
    }
}

import Foundation
import NTKEstimation
import NTKNetworks
import NTKSpectra
import NTKFormats

/// What a command reports: one JSON object (keys sorted, non-finite numbers as null) or, for
/// `--format table`, a titled two-column table of the same fields. Every command's report is
/// built here, from the sections below, so the public field names (an interface: added to,
/// never renamed) live in one place — beside the library's record schema
/// (`CollectiveVariables.fields` and `comparisonFields`, shared with the monitor's records),
/// which the estimate sections take whole.
public struct CommandReport: Sendable, Equatable {
    /// The table's title.
    public var title: String
    public var fields: [String: JSONValue]
    /// Text printed instead of the two-column table (a report that is not a flat record).
    public var tableOverride: String?

    public init(title: String, fields: [String: JSONValue] = [:], tableOverride: String? = nil) {
        self.title = title
        self.fields = fields
        self.tableOverride = tableOverride
    }

    /// Adds a section's fields; a name already present keeps its value.
    public mutating func add(_ section: [String: JSONValue]) {
        fields.merge(section) { old, _ in old }
    }

    /// Adds a section's fields; a name already present takes the section's value.
    public mutating func update(_ section: [String: JSONValue]) {
        fields.merge(section) { _, new in new }
    }

    public subscript(name: String) -> JSONValue? {
        get { fields[name] }
        set { fields[name] = newValue }
    }

    /// The JSON line.
    public var json: String { JSONValue.object(fields).encoded() }

    /// The table: the title, then one line per field, names sorted.
    public var table: String { tableOverride ?? tableText(title: title, fields) }

    public func rendered(_ format: OutputFormat) -> String {
        switch format {
        case .json: return json
        case .table: return table
        }
    }
}

/// A two-column table on stdout, keys sorted.
public func printTable(title: String, _ fields: [String: JSONValue]) {
    Console.current.print(tableText(title: title, fields))
}

/// The text `printTable` prints (without the final newline).
public func tableText(title: String, _ fields: [String: JSONValue]) -> String {
    var lines = [title]
    let width = fields.keys.map(\.count).max() ?? 0
    for key in fields.keys.sorted() {
        let value: String
        switch fields[key]! {
        case let .number(x): value = x.isFinite ? String(format: "%.10g", x) : "—"
        case let .string(s): value = s
        default: value = fields[key]!.encoded()
        }
        lines.append("  " + key.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + value)
    }
    return lines.joined(separator: "\n")
}

/// One JSON object on stdout, keys sorted, no NaN (non-finite values are encoded as null).
func printJSON(_ object: [String: JSONValue]) {
    Console.current.print(JSONValue.object(object).encoded())
}

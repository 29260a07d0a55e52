import Foundation
import NTKSpectra

/// One claim of a paper and our verdict, computed from the records (never typed in):
/// `holds` is nil for a claim this reproduction does not measure.
struct Claim {
    var id: String
    var statement: String
    var holds: Bool?
    var evidence: String

    var json: JSONValue {
        .object(["id": .string(id), "statement": .string(statement), "holds": holds.map { .bool($0) } ?? .null,
                 "evidence": .string(evidence)])
    }
}

/// One training run of a reproduction, summarized from its records.
struct RunSummary {
    var name: String
    var architecture: String
    var depth: Int
    var width: Int
    var activation: String
    var optimizer: String
    var parameters: Int
    var kernelDimension: Int
    var route: String
    var entropyStart: Double, entropyEnd: Double, entropyMin: Double
    var traceStart: Double, traceEnd: Double
    var lossStart: Double, lossEnd: Double
    var records: String

    var json: JSONValue {
        .object([
            "name": .string(name), "architecture": .string(architecture), "depth": .integer(depth),
            "width": .integer(width), "activation": .string(activation), "optimizer": .string(optimizer),
            "parameters": .integer(parameters), "kernel_dimension": .integer(kernelDimension), "route": .string(route),
            "entropy_start": .number(entropyStart), "entropy_end": .number(entropyEnd), "entropy_min": .number(entropyMin),
            "trace_start": .number(traceStart), "trace_end": .number(traceEnd),
            "loss_start": .number(lossStart), "loss_end": .number(lossEnd), "records": .string(records),
        ])
    }
}

/// `summary.json` of a reproduction.
struct PaperSummary {
    var paper: String
    var command: String
    var seconds: Double
    var quick: Bool
    var claims: [Claim]
    var runs: [RunSummary]
    /// Named sub-runs of a reproduction (`{"name", "command", "seconds"}`), when it has several.
    var parts: [JSONValue] = []

    /// Pretty-printed with sorted keys (stable diffs of committed results).
    func write(to url: URL) throws {
        var fields: [String: JSONValue] = [
            "paper": .string(paper), "command": .string(command), "seconds": .number(seconds), "quick": .bool(quick),
            "claims": .array(claims.map(\.json)), "runs": .array(runs.map(\.json)),
        ]
        if !parts.isEmpty { fields["parts"] = .array(parts) }
        let value: JSONValue = .object(fields)
        let object = try JSONSerialization.jsonObject(with: Data(value.encoded().utf8))
        var data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        data.append(UInt8(ascii: "\n"))
        try data.write(to: url, options: .atomic)
    }
}

/// Numbers in evidence strings.
func fmt(_ x: Double, _ digits: Int = 4) -> String { String(format: "%.\(digits)g", x) }
func signed(_ x: Double, _ digits: Int = 3) -> String { (x >= 0 ? "+" : "") + String(format: "%.\(digits)g", x) }

/// A JSON value read by `JSONSerialization` (records read back from a `.jsonl` file).
func jsonValue(_ x: Any) -> JSONValue {
    if let s = x as? String { return .string(s) }
    if let a = x as? [Any] { return .array(a.map(jsonValue)) }
    if let o = x as? [String: Any] { return .object(o.mapValues(jsonValue)) }
    if let n = x as? NSNumber {
        switch String(cString: n.objCType) {
        case "c", "B": return .bool(n.boolValue)
        case "d", "f": return .number(n.doubleValue)
        default: return .integer(n.intValue)
        }
    }
    return .null
}

/// The records of a JSON Lines file.
func readRecords(_ url: URL) throws -> [[String: JSONValue]] {
    try JSONLinesWriter.read(url).map { $0.mapValues(jsonValue) }
}

/// A strict, iterative JSON reader (RFC 8259) for the files this package reads: model specs and
/// safetensors headers. Unlike `JSONSerialization` it refuses duplicate keys (naming the key's
/// path, e.g. `layers[2].out_features`), bounds the nesting depth without recursion (a deeply
/// nested file cannot overflow the stack), and keeps numbers as their literal text so that the
/// reader of a field decides whether it is an integer in range or a finite float.
public enum StrictJSON {
    /// A parsed JSON value; object members keep their order.
    public indirect enum Value: Sendable, Equatable {
        case object([(key: String, value: Value)])
        case array([Value])
        case string(String)
        /// The number's literal text (e.g. "12", "-1.5e3").
        case number(String)
        case bool(Bool)
        case null

        public static func == (a: Value, b: Value) -> Bool {
            switch (a, b) {
            case let (.object(x), .object(y)):
                return x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
            case let (.array(x), .array(y)): return x == y
            case let (.string(x), .string(y)): return x == y
            case let (.number(x), .number(y)): return x == y
            case let (.bool(x), .bool(y)): return x == y
            case (.null, .null): return true
            default: return false
            }
        }

        /// The member `key` of an object.
        public subscript(key: String) -> Value? {
            guard case let .object(members) = self else { return nil }
            return members.first { $0.key == key }?.value
        }

        /// What the value is, in a message's words ("an object", "the string \"x\"", "the number 2.5").
        public var kindDescription: String {
            switch self {
            case .object: return "an object"
            case .array: return "an array"
            case let .string(s): return "the string \"\(s.count > 40 ? String(s.prefix(40)) + "…" : s)\""
            case let .number(n): return "the number \(n)"
            case let .bool(b): return "\(b)"
            case .null: return "null"
            }
        }
    }

    /// Why a text was refused: `path` names where ("layers[2].out_features", "(root)").
    public struct Error: Swift.Error, Equatable, Sendable, CustomStringConvertible {
        public var path: String
        public var message: String
        public var description: String { "\(path): \(message)" }
    }

    /// Deepest nesting of arrays and objects accepted.
    public static let maximumDepth = 64

    /// "layers[2].out_features" from path components (a key or an index).
    static func pathString(_ components: [PathComponent]) -> String {
        var out = ""
        // A deeply nested path is shown by its first levels.
        let shown = components.count > 12 ? Array(components.prefix(8)) : components
        for c in shown {
            switch c {
            case let .index(i): out += "[\(i)]"
            case let .key(k): out += (out.isEmpty ? "" : ".") + k
            }
        }
        if shown.count < components.count { out += "…(\(components.count) levels)" }
        return out.isEmpty ? "(root)" : out
    }

    enum PathComponent { case key(String), index(Int) }

    /// Parses `bytes` (UTF-8). Iterative; nesting deeper than `maximumDepth` is an error.
    /// - Complexity: O(bytes.count).
    public static func parse<Bytes: Collection>(_ bytes: Bytes, maximumDepth: Int = maximumDepth) throws(Error) -> Value
    where Bytes.Element == UInt8 {
        var parser = Parser(bytes: Array(bytes), maximumDepth: maximumDepth)
        return try parser.parseDocument()
    }

    private struct Parser {
        let bytes: [UInt8]
        let maximumDepth: Int
        var position = 0

        /// An open container: its members so far and, for objects, the pending key.
        enum Frame {
            case object(members: [(key: String, value: Value)], keys: Set<String>, pendingKey: String?)
            case array([Value])
        }
        var stack: [Frame] = []

        init(bytes: [UInt8], maximumDepth: Int) {
            self.bytes = bytes
            self.maximumDepth = maximumDepth
        }

        var path: [PathComponent] {
            stack.map { frame -> PathComponent in
                switch frame {
                case let .object(_, _, key): return .key(key ?? "")
                case let .array(items): return .index(items.count)
                }
            }
        }

        func fail(_ message: String, atPath: Bool = true) -> Error {
            var line = 1, column = 1
            for b in bytes[0..<min(position, bytes.count)] {
                if b == 0x0A { line += 1; column = 1 } else if b & 0xC0 != 0x80 { column += 1 }
            }
            var components = path
            // Inside an object between members the last component names no key yet.
            if case .key("")? = components.last { components.removeLast() }
            let where_ = atPath ? StrictJSON.pathString(components) : "(root)"
            return Error(path: where_, message: "not valid JSON: \(message) at line \(line), column \(column)")
        }

        mutating func skipSpace() {
            while position < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[position]) { position += 1 }
        }

        mutating func parseDocument() throws(Error) -> Value {
            let value = try parseValueIteratively()
            skipSpace()
            guard position == bytes.count else { throw fail("unexpected text after the end of the document") }
            return value
        }

        /// Parses one value; containers are kept on `stack`, never on the call stack.
        mutating func parseValueIteratively() throws(Error) -> Value {
            while true {
                skipSpace()
                guard position < bytes.count else { throw fail("unexpected end of the text") }
                var completed: Value
                switch bytes[position] {
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    guard stack.count < maximumDepth else {
                        throw Error(path: StrictJSON.pathString(path),
                                    message: "nesting is deeper than \(maximumDepth) levels of arrays and objects")
                    }
                    let isObject = bytes[position] == UInt8(ascii: "{")
                    position += 1
                    skipSpace()
                    if position < bytes.count, bytes[position] == UInt8(ascii: isObject ? "}" : "]") {
                        position += 1
                        completed = isObject ? .object([]) : .array([])
                    } else {
                        if isObject {
                            stack.append(.object(members: [], keys: [], pendingKey: nil))
                            try readKey()
                        } else {
                            stack.append(.array([]))
                        }
                        continue
                    }
                case UInt8(ascii: "\""): completed = .string(try parseString())
                case UInt8(ascii: "t"): try expectWord("true"); completed = .bool(true)
                case UInt8(ascii: "f"): try expectWord("false"); completed = .bool(false)
                case UInt8(ascii: "n"): try expectWord("null"); completed = .null
                case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): completed = .number(try parseNumber())
                default:
                    throw fail("unexpected character '\(Character(Unicode.Scalar(bytes[position])))'")
                }
                // Attach `completed` to the open containers, closing those that end here.
                while true {
                    guard let top = stack.popLast() else { return completed }
                    skipSpace()
                    switch top {
                    case var .array(items):
                        items.append(completed)
                        guard position < bytes.count else {
                            stack.append(.array(items))
                            throw fail("unterminated array")
                        }
                        if bytes[position] == UInt8(ascii: ",") {
                            position += 1
                            stack.append(.array(items))
                        } else if bytes[position] == UInt8(ascii: "]") {
                            position += 1
                            completed = .array(items)
                            continue
                        } else {
                            stack.append(.array(items))
                            throw fail("expected ',' or ']'")
                        }
                    case .object(var members, let keys, let key?):
                        members.append((key, completed))
                        guard position < bytes.count else {
                            stack.append(.object(members: members, keys: keys, pendingKey: key))
                            throw fail("unterminated object")
                        }
                        if bytes[position] == UInt8(ascii: ",") {
                            position += 1
                            stack.append(.object(members: members, keys: keys, pendingKey: nil))
                            try readKey()
                        } else if bytes[position] == UInt8(ascii: "}") {
                            position += 1
                            completed = .object(members)
                            continue
                        } else {
                            stack.append(.object(members: members, keys: keys, pendingKey: key))
                            throw fail("expected ',' or '}'")
                        }
                    case .object(_, _, nil):
                        throw fail("internal: a value without a key")
                    }
                    break
                }
            }
        }

        /// Reads `"key" :` into the open object on top of the stack; a repeated key is an error.
        mutating func readKey() throws(Error) {
            skipSpace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else { throw fail("expected a string key") }
            let key = try parseString()
            guard case .object(let members, var keys, _) = stack.removeLast() else { throw fail("internal: no object") }
            guard !keys.contains(key) else {
                stack.append(.object(members: members, keys: keys, pendingKey: key))
                throw Error(path: StrictJSON.pathString(path), message: "duplicate key \"\(key)\" (each key may appear once)")
            }
            keys.insert(key)
            stack.append(.object(members: members, keys: keys, pendingKey: key))
            skipSpace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else { throw fail("expected ':' after the key") }
            position += 1
        }

        mutating func expectWord(_ word: String) throws(Error) {
            let w = Array(word.utf8)
            guard position + w.count <= bytes.count, Array(bytes[position..<(position + w.count)]) == w else {
                throw fail("unexpected character '\(Character(Unicode.Scalar(bytes[position])))'")
            }
            position += w.count
        }

        mutating func parseNumber() throws(Error) -> String {
            let start = position
            func digits() -> Int {
                let s = position
                while position < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position]) { position += 1 }
                return position - s
            }
            if bytes[position] == UInt8(ascii: "-") { position += 1 }
            let intStart = position
            guard digits() > 0 else { throw fail("expected digits in a number") }
            if bytes[intStart] == UInt8(ascii: "0"), position - intStart > 1 { throw fail("a number has a leading zero") }
            if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
                position += 1
                guard digits() > 0 else { throw fail("expected digits after the decimal point") }
            }
            if position < bytes.count, bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E") {
                position += 1
                if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") { position += 1 }
                guard digits() > 0 else { throw fail("expected digits in the exponent") }
            }
            return String(decoding: bytes[start..<position], as: UTF8.self)
        }

        mutating func parseString() throws(Error) -> String {
            position += 1  // opening quote
            var out: [UInt8] = []
            while true {
                guard position < bytes.count else { throw fail("unterminated string") }
                let b = bytes[position]
                position += 1
                switch b {
                case UInt8(ascii: "\""):
                    guard let s = String(validating: out, as: UTF8.self) else { throw fail("a string is not valid UTF-8") }
                    return s
                case UInt8(ascii: "\\"):
                    guard position < bytes.count else { throw fail("unterminated string") }
                    let e = bytes[position]
                    position += 1
                    switch e {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "u"):
                        var code = try hex4()
                        if (0xD800..<0xDC00).contains(code) {
                            guard position + 1 < bytes.count, bytes[position] == UInt8(ascii: "\\"),
                                bytes[position + 1] == UInt8(ascii: "u")
                            else { throw fail("unpaired surrogate in a \\u escape") }
                            position += 2
                            let low = try hex4()
                            guard (0xDC00..<0xE000).contains(low) else { throw fail("unpaired surrogate in a \\u escape") }
                            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        } else if (0xDC00..<0xE000).contains(code) {
                            throw fail("unpaired surrogate in a \\u escape")
                        }
                        out.append(contentsOf: Array(String(Character(Unicode.Scalar(code)!)).utf8))
                    default: throw fail("invalid escape '\\\(Character(Unicode.Scalar(e)))'")
                    }
                case 0..<0x20: throw fail("control character in a string")
                default: out.append(b)
                }
            }
        }

        mutating func hex4() throws(Error) -> UInt32 {
            guard position + 4 <= bytes.count else { throw fail("truncated \\u escape") }
            var v: UInt32 = 0
            for b in bytes[position..<(position + 4)] {
                let d: UInt8
                switch b {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): d = b - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): d = b - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): d = b - UInt8(ascii: "A") + 10
                default: throw fail("invalid \\u escape")
                }
                v = v << 4 | UInt32(d)
            }
            position += 4
            return v
        }
    }

    // MARK: Reading fields

    /// The integer a number literal holds, or a message saying why it is not one in `range`.
    public static func integer(_ value: Value, in range: ClosedRange<Int> = Int.min...Int.max) -> Result<Int, Error> {
        func failure(_ m: String) -> Result<Int, Error> { .failure(Error(path: "", message: m)) }
        let expected = range == Int.min...Int.max ? "an integer"
            : range.upperBound == Int.max ? "an integer of at least \(range.lowerBound)"
            : "an integer from \(range.lowerBound) to \(range.upperBound)"
        guard case let .number(text) = value else { return failure("got \(value.kindDescription), expected \(expected)") }
        if let n = Int(text) {
            return range.contains(n) ? .success(n) : failure("got \(text), expected \(expected)")
        }
        // Fractions and exponents: an integer only if exact (e.g. 1e3), never rounded.
        if let d = Double(text), d.isFinite, d == d.rounded(), let n = Int(exactly: d), range.contains(n) {
            return .success(n)
        }
        if let d = Double(text), d.isFinite, d != d.rounded() {
            return failure("got \(text), which is not a whole number; expected \(expected)")
        }
        return failure("got \(text), which is outside the 64-bit integer range; expected \(expected)")
    }

    /// The finite Double a number literal holds, or a message.
    public static func double(_ value: Value) -> Result<Double, Error> {
        guard case let .number(text) = value else {
            return .failure(Error(path: "", message: "got \(value.kindDescription), expected a number"))
        }
        guard let d = Double(text), d.isFinite else {
            return .failure(Error(path: "", message: "got \(text), which overflows a 64-bit float; expected a finite number"))
        }
        return .success(d)
    }

    // MARK: Suggestions

    /// The candidate closest to `word` by edit distance, when close enough to be a likely typo.
    public static func suggestion(for word: String, among candidates: [String]) -> String? {
        let scored = candidates.map { ($0, editDistance(word.lowercased(), $0.lowercased())) }
        guard let best = scored.min(by: { $0.1 < $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }) else { return nil }
        return best.1 <= max(2, word.count / 3) ? best.0 : nil
    }

    /// Levenshtein distance.
    /// - Complexity: O(|a|·|b|).
    public static func editDistance(_ a: String, _ b: String) -> Int {
        let x = Array(a), y = Array(b)
        if x.isEmpty { return y.count }
        var previous = Array(0...y.count), current = previous
        for i in 1...x.count {
            current[0] = i
            for j in stride(from: 1, through: y.count, by: 1) {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[y.count]
    }
}

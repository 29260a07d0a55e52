import NTKLinearAlgebra
extension NPY {
    /// The three entries of a `.npy` header dictionary.
    struct Header: Equatable {
        var descr: String
        var fortranOrder: Bool
        var shape: [Int]
    }

    /// A value of the tiny Python-literal subset NumPy writes in headers.
    enum Literal: Equatable {
        case string(String)
        case bool(Bool)
        case integer(Int)
        case none
        case tuple([Literal])
        case list([Literal])
        case dict([String: Literal])
    }

    /// Parses a header such as `{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }`
    /// (followed by space padding and a newline), as NumPy's `safe_eval` would, restricted to
    /// strings, booleans, integers, `None`, tuples, lists and dictionaries.
    /// - Complexity: O(header length).
    static func parseHeader(_ text: String, file: String) throws(NPYError) -> Header {
        var parser = LiteralParser(characters: Array(text.unicodeScalars), file: file)
        let literal = try parser.parseValue()
        try parser.expectEnd()
        guard case let .dict(entries) = literal else {
            throw .malformedHeader(file: file, reason: "expected a dictionary, found \(text.prefix(40))")
        }
        let expectedKeys: Set<String> = ["descr", "fortran_order", "shape"]
        guard Set(entries.keys) == expectedKeys else {
            throw .malformedHeader(
                file: file,
                reason: "expected exactly the keys descr, fortran_order, shape; found "
                    + entries.keys.sorted().joined(separator: ", "))
        }
        let descr: String
        switch entries["descr"] {
        case let .string(s)?: descr = s
        case .list?: throw .unsupportedDType(file: file, descr: "structured dtype")
        default: throw .malformedHeader(file: file, reason: "descr must be a string")
        }
        guard case let .bool(fortran)? = entries["fortran_order"] else {
            throw .malformedHeader(file: file, reason: "fortran_order must be True or False")
        }
        guard case let .tuple(dims)? = entries["shape"] else {
            throw .malformedHeader(file: file, reason: "shape must be a tuple of integers")
        }
        var shape: [Int] = []
        for d in dims {
            guard case let .integer(n) = d, n >= 0 else {
                throw .malformedHeader(
                    file: file, reason: "shape must be a tuple of non-negative integers")
            }
            shape.append(n)
        }
        return Header(descr: descr, fortranOrder: fortran, shape: shape)
    }

    /// The header text for a C-order array, padded with spaces and ended by a newline so
    /// that magic + version + length field + header is a multiple of 64 bytes.
    static func headerText(descr: String, shape: [Int], prefixLength: Int) -> String {
        let dims: String
        switch shape.count {
        case 0: dims = "()"
        case 1: dims = "(\(shape[0]),)"
        default: dims = "(" + shape.map(String.init).joined(separator: ", ") + ")"
        }
        let dict = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(dims), }"
        let unpadded = prefixLength + dict.utf8.count + 1
        let padding = (64 - unpadded % 64) % 64
        return dict + String(repeating: " ", count: padding) + "\n"
    }
}

/// Recursive-descent parser of the Python literal subset used by `.npy` headers.
private struct LiteralParser {
    let characters: [Unicode.Scalar]
    let file: String
    var position = 0

    init(characters: [Unicode.Scalar], file: String) {
        self.characters = characters
        self.file = file
    }

    private func fail(_ reason: String) -> NPYError {
        .malformedHeader(file: file, reason: "\(reason) at character \(position)")
    }

    private mutating func skipSpace() {
        while position < characters.count,
            characters[position] == " " || characters[position] == "\n"
                || characters[position] == "\t" || characters[position] == "\r"
        {
            position += 1
        }
    }

    private mutating func peek() -> Unicode.Scalar? {
        skipSpace()
        return position < characters.count ? characters[position] : nil
    }

    private mutating func expect(_ c: Unicode.Scalar) throws(NPYError) {
        guard peek() == c else { throw fail("expected '\(c)'") }
        position += 1
    }

    mutating func expectEnd() throws(NPYError) {
        if peek() != nil { throw fail("unexpected text after the dictionary") }
    }

    /// Deepest nesting of tuples, lists and dictionaries accepted (NumPy writes depth 2).
    static let maximumDepth = 16
    /// Current nesting; the recursion below never goes deeper than `maximumDepth`.
    var depth = 0

    mutating func parseValue() throws(NPYError) -> NPY.Literal {
        guard let c = peek() else { throw fail("unexpected end of header") }
        if c == "(" || c == "[" || c == "{" {
            guard depth < Self.maximumDepth else {
                throw fail("nesting deeper than \(Self.maximumDepth) levels (a .npy header is a flat dictionary)")
            }
            depth += 1
        }
        defer { if c == "(" || c == "[" || c == "{" { depth -= 1 } }
        switch c {
        case "'", "\"": return .string(try parseString())
        case "(":
            position += 1
            return .tuple(try parseSequence(closing: ")"))
        case "[":
            position += 1
            return .list(try parseSequence(closing: "]"))
        case "{": return try parseDict()
        case "-", "0"..."9": return .integer(try parseInteger())
        default:
            for (word, value) in [("True", NPY.Literal.bool(true)), ("False", .bool(false)), ("None", .none)]
            where matches(word) {
                position += word.unicodeScalars.count
                return value
            }
            throw fail("unexpected character '\(c)'")
        }
    }

    private func matches(_ word: String) -> Bool {
        let w = Array(word.unicodeScalars)
        guard position + w.count <= characters.count,
            Array(characters[position..<(position + w.count)]) == w
        else { return false }
        // The word must not continue as an identifier (e.g. `Trueish`).
        if position + w.count < characters.count {
            let next = characters[position + w.count]
            if next.properties.isAlphabetic || next == "_" || ("0"..."9").contains(next) {
                return false
            }
        }
        return true
    }

    private mutating func parseString() throws(NPYError) -> String {
        let quote = characters[position]
        position += 1
        var scalars = String.UnicodeScalarView()
        while position < characters.count, characters[position] != quote {
            if characters[position] == "\\" { throw fail("escape sequences are not supported") }
            scalars.append(characters[position])
            position += 1
        }
        guard position < characters.count else { throw fail("unterminated string") }
        position += 1
        return String(scalars)
    }

    private mutating func parseInteger() throws(NPYError) -> Int {
        var negative = false
        if characters[position] == "-" {
            negative = true
            position += 1
        }
        var value = 0
        var digits = 0
        while position < characters.count, ("0"..."9").contains(characters[position]) {
            let d = Int(characters[position].value) - 48
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(d)
            guard !o1, !o2 else { throw fail("integer too large") }
            value = s
            digits += 1
            position += 1
        }
        guard digits > 0 else { throw fail("expected digits") }
        // Python 2 wrote long integers with an `L` suffix, e.g. `(3L, 4L)`.
        if position < characters.count, characters[position] == "L" { position += 1 }
        return negative ? -value : value
    }

    private mutating func parseSequence(closing: Unicode.Scalar) throws(NPYError) -> [NPY.Literal] {
        var items: [NPY.Literal] = []
        while true {
            if peek() == closing {
                position += 1
                return items
            }
            items.append(try parseValue())
            guard let c = peek() else { throw fail("unterminated sequence") }
            if c == "," {
                position += 1
            } else if c != closing {
                throw fail("expected ',' or '\(closing)'")
            }
        }
    }

    private mutating func parseDict() throws(NPYError) -> NPY.Literal {
        try expect("{")
        var entries: [String: NPY.Literal] = [:]
        while true {
            if peek() == "}" {
                position += 1
                return .dict(entries)
            }
            guard let c = peek(), c == "'" || c == "\"" else { throw fail("expected a string key") }
            let key = try parseString()
            try expect(":")
            guard entries[key] == nil else { throw fail("duplicate key '\(key)'") }
            entries[key] = try parseValue()
            guard let next = peek() else { throw fail("unterminated dictionary") }
            if next == "," {
                position += 1
            } else if next != "}" {
                throw fail("expected ',' or '}'")
            }
        }
    }
}

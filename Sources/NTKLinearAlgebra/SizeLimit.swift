import Foundation

/// A size that comes from a spec, a file header or an option and that would overflow the
/// integer range or exceed the memory of the machine if it were allocated. The message names
/// the quantity, its value and the limit.
public struct SizeLimitError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What the size counts, in the user's terms ("parameters of the model", "--block × kernel dimension").
    public var quantity: String
    /// The size (e.g. "18000000000 float32 values (67.06 GiB)", or "more than 9223372036854775807").
    public var value: String
    /// The limit it exceeds (e.g. "the physical memory, 7.75 GiB").
    public var limit: String

    public init(quantity: String, value: String, limit: String) {
        self.quantity = quantity
        self.value = value
        self.limit = limit
    }

    public var description: String { "\(quantity) is \(value), more than \(limit)" }
}

/// Overflow-safe size arithmetic and the memory check every allocation sized by input runs
/// before allocating.
public enum SizeLimit {
    /// The most bytes one allocation sized by input may take: the physical memory.
    public static var memoryBytes: Int { Int(clamping: ProcessInfo.processInfo.physicalMemory) }

    /// The product of `factors`, or `nil` if one is negative or the product overflows `Int`.
    @inlinable
    public static func product(_ factors: [Int]) -> Int? {
        var result = 1
        for f in factors {
            guard f >= 0 else { return nil }
            let (p, overflow) = result.multipliedReportingOverflow(by: f)
            if overflow { return nil }
            result = p
        }
        return result
    }

    /// The sum of `terms`, or `nil` if one is negative or the sum overflows `Int`.
    @inlinable
    public static func sum(_ terms: [Int]) -> Int? {
        var result = 0
        for t in terms {
            guard t >= 0 else { return nil }
            let (s, overflow) = result.addingReportingOverflow(t)
            if overflow { return nil }
            result = s
        }
        return result
    }

    /// The product of `factors`, checked against `limit` (an element count).
    /// - Throws: `SizeLimitError` naming `quantity`, the product (written as the factors when it
    ///   overflows) and `limit`.
    public static func product(_ factors: [Int], _ quantity: @autoclosure () -> String, limit: Int = Int.max)
        throws(SizeLimitError) -> Int
    {
        guard let p = product(factors), p <= limit else {
            let shown = factors.map(String.init).joined(separator: " × ")
            let value = product(factors).map { factors.count > 1 ? "\(shown) = \($0)" : "\($0)" }
                ?? "\(shown), which overflows the 64-bit integer range"
            throw SizeLimitError(quantity: quantity(), value: value, limit: limit == .max ? "\(Int.max)" : "the limit \(limit)")
        }
        return p
    }

    /// Checks that `count` elements of `bytesPerElement` bytes (a count that overflowed is
    /// `nil`) fit `limitBytes` (by default the physical memory) before they are allocated.
    /// - Throws: `SizeLimitError` naming `quantity`, the count and bytes, and the limit.
    public static func checkAllocation(
        _ quantity: @autoclosure () -> String, count: Int?, bytesPerElement: Int, elementName: String = "values",
        limitBytes: Int = memoryBytes, limitName: String = "the physical memory"
    ) throws(SizeLimitError) {
        guard let count else {
            throw SizeLimitError(quantity: quantity(), value: "more than \(Int.max) \(elementName)",
                                 limit: "\(limitName) (\(bytesDescription(limitBytes)))")
        }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: bytesPerElement)
        guard !overflow, bytes <= limitBytes else {
            throw SizeLimitError(
                quantity: quantity(), value: "\(count) \(elementName) (\(overflow ? "more than 8 EiB" : bytesDescription(bytes)))",
                limit: "\(limitName) (\(bytesDescription(limitBytes)))")
        }
    }

    /// "1.25 GiB", "312.0 MiB", "20.0 KiB", "512 B" (never "0 MiB").
    public static func bytesDescription(_ bytes: Int) -> String {
        if bytes == .max { return "more than 8 EiB" }
        let b = Double(bytes)
        if b >= Double(1 << 30) { return String(format: "%.2f GiB", b / Double(1 << 30)) }
        if b >= Double(1 << 20) { return String(format: "%.1f MiB", b / Double(1 << 20)) }
        if b >= 1024 { return String(format: "%.1f KiB", b / 1024) }
        return "\(bytes) B"
    }
}

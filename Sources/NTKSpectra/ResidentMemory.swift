import Foundation

/// The process's resident memory as Linux reports it in `/proc/self/status`.
public enum ResidentMemory {
    /// Peak resident set size (`VmHWM`) in bytes, or nil where `/proc` is not available.
    public static func peakBytes() -> Int? { field("VmHWM:") }
    /// Current resident set size (`VmRSS`) in bytes, or nil.
    public static func currentBytes() -> Int? { field("VmRSS:") }

    static func field(_ name: String) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(name) {
            let parts = line.dropFirst(name.count).split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let value = parts.first.flatMap({ Int($0) }) else { return nil }
            return parts.count > 1 && parts[1] == "kB" ? value * 1024 : value
        }
        return nil
    }
}

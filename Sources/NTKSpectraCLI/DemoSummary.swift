import Foundation
import NTKSpectra
import NTKFormats

/// What one demo network produced: its monitor records and training figures.
struct DemoSummary {
    var name: String
    var hidden: [Int]
    var parameterCount: Int
    var records: [[String: JSONValue]]
    var testAccuracy: Double
    var trainingSeconds: Double
    var monitorSeconds: Double
    /// Wall-clock seconds of training with the monitor attached, and whether records ran on
    /// the monitor's own thread.
    var wallSeconds: Double = 0
    var asynchronous = false

    var overhead: Double { trainingSeconds > 0 ? monitorSeconds / trainingSeconds : 0 }

    /// A record's own cost: the monitor's seconds less the time its exact validation added.
    func recordSeconds(_ r: [String: JSONValue]) -> Double {
        (r["monitor_seconds"]?.doubleValue ?? 0) - (r["validation_seconds"]?.doubleValue ?? 0)
    }

    var recordSecondsMedian: Double {
        let sorted = records.map(recordSeconds).sorted()
        guard !sorted.isEmpty else { return 0 }
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }

    func series(_ key: String) -> [(x: Double, y: Double)] {
        // One point per step (a final validation record replaces an earlier one at the same step).
        var byStep: [Int: Double] = [:]
        for r in records {
            guard let step = r["step"]?.intValue, let y = r[key]?.doubleValue else { continue }
            byStep[step] = y
        }
        return byStep.keys.sorted().map { (Double($0), byStep[$0]!) }
    }

    /// The compact table the demo prints.
    static func table(_ summaries: [DemoSummary]) -> String {
        var lines: [String] = []
        let header = ["network", "P", "test acc", "step", "route", "entropy (est ± se)", "exact", "err", "in CI",
                      "trace", "exact trace", "matvecs", "s/record"]
        var rows: [[String]] = []
        for s in summaries {
            let validated = s.records.filter { $0["validated"]?.boolValue == true && $0["exact_entropy"] != nil }
            for r in validated {
                func num(_ k: String) -> Double { r[k]?.doubleValue ?? .nan }
                // A dense-route record is the exact spectrum itself: nothing to compare.
                let exact = r["entropy_exact"]?.boolValue ?? false
                rows.append([
                    s.name, "\(s.parameterCount)", String(format: "%.1f%%", 100 * s.testAccuracy),
                    "\(r["step"]?.intValue ?? 0)", r["route"]?.stringValue ?? "",
                    String(format: "%.4f ± %.4f", num("entropy"), num("entropy_stderr")),
                    String(format: "%.4f", num("exact_entropy")),
                    exact ? "exact" : String(format: "%.2f%%", 100 * num("entropy_relative_error")),
                    exact ? "—" : (r["exact_in_interval"]?.boolValue ?? false) ? "yes" : "no",
                    String(format: "%.5g", num("trace")), String(format: "%.5g", num("exact_trace")),
                    "\(r["matvecs"]?.intValue ?? 0)", String(format: "%.3f", s.recordSeconds(r)),
                ])
            }
        }
        let widths = header.indices.map { c in max(header[c].count, rows.map { $0[c].count }.max() ?? 0) }
        func format(_ row: [String]) -> String {
            row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ")
        }
        lines.append(format(header))
        lines.append(widths.map { String(repeating: "─", count: $0) }.joined(separator: "  "))
        lines += rows.map(format)
        lines.append("")
        for s in summaries {
            let entropies = s.series("entropy")
            let traces = s.series("trace")
            lines.append(s.name + ": " + String(
                format: "%d records; entropy %.3f → %.3f, trace %.4g → %.4g; training %.1f s, monitor %.1f s (overhead %.0f%% of training time)",
                s.records.count, entropies.first?.y ?? .nan, entropies.last?.y ?? .nan,
                traces.first?.y ?? .nan, traces.last?.y ?? .nan, s.trainingSeconds, s.monitorSeconds, 100 * s.overhead))
            let routes = Dictionary(grouping: s.records.compactMap { $0["route"]?.stringValue }, by: { $0 })
                .map { "\($0.key) \($0.value.count)" }.sorted().joined(separator: ", ")
            let validation = s.records.reduce(0) { $0 + ($1["validation_seconds"]?.doubleValue ?? 0) }
            lines.append("  " + String(
                format: "per record: median %.3f s, max %.3f s", s.recordSecondsMedian,
                s.records.map(s.recordSeconds).max() ?? 0)
                + " (routes: \(routes)); " + String(format: "exact validation %.2f s in all; wall %.1f s%@", validation,
                                                          s.wallSeconds, ""))
            let estimated = s.records.filter { ($0["route"]?.stringValue ?? "") != "dense" }
            let warm = estimated.filter { $0["warm_started"]?.boolValue == true && $0["warm_fell_back"]?.boolValue != true }
            let cold = estimated.filter { $0["warm_started"]?.boolValue != true || $0["warm_fell_back"]?.boolValue == true }
            // Only when warm start ran (it is off by default): "0 of 24 warm-started" would read as a failure.
            if estimated.contains(where: { $0["warm_started"]?.boolValue == true }) {
                func medianMatvecs(_ rs: [[String: JSONValue]]) -> String {
                    let m = rs.compactMap { $0["matvecs"]?.intValue }.sorted()
                    return m.isEmpty ? "—" : "\(m[m.count / 2])"
                }
                lines.append("  warm start: \(warm.count) of \(estimated.count) estimated records warm-started "
                    + "(median matvecs \(medianMatvecs(warm)) warm, \(medianMatvecs(cold)) cold or fallen back)")
            }
            if s.asynchronous {
                lines.append("  " + String(format: "asynchronous: records ran beside training; wall %.1f s for %.1f s of training and %.1f s of monitor work",
                                          s.wallSeconds, s.trainingSeconds, s.monitorSeconds))
            }
        }
        return lines.joined(separator: "\n")
    }
}

/// The demo's figure: entropy, trace, effective rank and loss against step for every network.
struct DemoFigure {
    var summaries: [DemoSummary]

    func figure() -> SVGFigure {
        func series(_ key: String) -> [LinePlot.Series] {
            summaries.map { LinePlot.Series(name: "\($0.name) (P = \($0.parameterCount))", points: $0.series(key)) }
        }
        var entropy = series("entropy")
        // The estimates' 95% intervals as bands (zero width where a record is exact).
        for (i, s) in summaries.enumerated() {
            let lows = s.series("entropy_lower"), highs = s.series("entropy_upper")
            entropy[i].band = zip(lows, highs).map { (x: $0.x, low: $0.y, high: $1.y) }
        }
        for (i, s) in summaries.enumerated() {
            let exact = s.series("exact_entropy")
            if !exact.isEmpty {
                entropy.append(.init(name: "\(s.name) exact (dense)", points: exact, color: LinePlot.palette[i % 8],
                                     line: false, hollow: true))
            }
        }
        return SVGFigure(plots: [
            LinePlot(title: "NTK spectral entropy (95% interval shaded)", xLabel: "optimizer step", yLabel: "entropy S (nats)",
                     series: entropy),
            LinePlot(title: "NTK trace", xLabel: "optimizer step", yLabel: "tr K", yScale: .logarithmic,
                     series: series("trace")),
            LinePlot(title: "Effective rank exp(S)", xLabel: "optimizer step", yLabel: "exp(S)",
                     yScale: .logarithmic, series: series("effective_rank")),
            LinePlot(title: "Training loss (batch)", xLabel: "optimizer step", yLabel: "loss",
                     yScale: .logarithmic, series: series("loss")),
        ], columns: 2)
    }
}

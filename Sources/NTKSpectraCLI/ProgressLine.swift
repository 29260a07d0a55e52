import Foundation
import NTKEstimation
import Synchronization

/// Progress of a long estimate on stderr: nothing for the first `delay` seconds, then a live
/// line rewritten in place on a terminal (at most every 0.2 s), or a plain line every
/// `plainInterval` seconds otherwise. Route, phase, probes, matvecs, the entropy's current
/// relative half-width against its target, elapsed time and an ETA. stdout is never touched.
final class ProgressLine: Sendable {
    struct State {
        var lastPrint = -Double.infinity
        var printedLive = false
        /// Where the complement probes began: the last report before them.
        var beforeComplement: (applications: Int, seconds: Double) = (0, 0)
        var complementStart: (applications: Int, seconds: Double)? = nil
    }

    let command: String
    let delay: Double
    let plainInterval: Double
    let minimumProbes: Int
    let live: Bool
    /// The console of the command that made the line (progress may be reported from other threads).
    let console: Console
    private let state = Mutex(State())

    init(command: String, minimumProbes: Int, delay: Double = 2, plainInterval: Double = 5,
         live: Bool? = nil, console: Console = .current) {
        self.command = command
        self.minimumProbes = minimumProbes
        self.delay = delay
        self.plainInterval = plainInterval
        self.console = console
        self.live = live ?? console.errIsTerminal
    }

    var handler: EstimationProgressHandler { { [self] progress in self.update(progress) } }

    /// The line for one report (without terminal control characters).
    func line(_ p: EstimationProgress, complementStart: (applications: Int, seconds: Double)?) -> String {
        var parts = ["\(command):"]
        if let route = p.context { parts.append("route \(route),") }
        parts.append(p.phase.rawValue)
        if p.applications > 0 { parts.append("· \(p.applications) matvecs") }
        if p.probes > 0 { parts.append("· \(p.probes) probes") }
        if let entropy = p.entropy, let width = p.relativeHalfWidth, width.isFinite {
            var text = String(format: "· entropy %.5g ± %.2f%%", entropy, 100 * width)
            if let target = p.target { text += String(format: " (target %.2g%%)", 100 * target) }
            parts.append(text)
        }
        parts.append(String(format: "· %.1f s", p.seconds))
        if let start = complementStart,
           let left = p.secondsLeft(minimumProbes: minimumProbes, complementStart: start) {
            parts.append(String(format: "· ETA %.0f s", left.rounded(.up)))
        }
        return parts.joined(separator: " ")
    }

    func update(_ p: EstimationProgress) {
        let text: String? = state.withLock { s in
            if p.phase == .complement {
                if s.complementStart == nil { s.complementStart = s.beforeComplement }
            } else {
                s.beforeComplement = (p.applications, p.seconds)
            }
            guard p.seconds >= delay else { return nil }
            let interval = live ? 0.2 : plainInterval
            guard p.seconds - s.lastPrint >= interval else { return nil }
            s.lastPrint = p.seconds
            let body = line(p, complementStart: s.complementStart)
            if live {
                s.printedLive = true
                return "\r\u{1B}[K" + body
            }
            return body + "\n"
        }
        if let text { console.err(text) }
    }

    /// Ends a live line with a newline (call once the estimate is done).
    func finish() {
        let printed = state.withLock { $0.printedLive }
        if printed { console.err("\n") }
    }
}

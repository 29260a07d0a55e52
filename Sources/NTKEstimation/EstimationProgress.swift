/// Where a long estimate stands, reported to an optional observer (e.g. a progress line on
/// stderr): the phase, the operator applications and probes so far, and the entropy's current
/// relative half-width against its target.
public struct EstimationProgress: Sendable {
    public enum Phase: String, Sendable {
        case kernel = "forming kernel"
        case eigensolver = "eigensolver"
        case pilot = "deflation pilot"
        case complement = "probes"
    }

    public var phase: Phase
    public var applications: Int
    public var probes: Int
    public var entropy: Double?
    /// Relative half-width of the entropy interval now, and the target (rtol).
    public var relativeHalfWidth: Double?
    public var target: Double?
    /// Seconds since the estimate began.
    public var seconds: Double
    /// What the caller adds (e.g. the route).
    public var context: String? = nil

    public init(phase: Phase, applications: Int = 0, probes: Int = 0, entropy: Double? = nil,
                relativeHalfWidth: Double? = nil, target: Double? = nil, seconds: Double) {
        self.phase = phase
        self.applications = applications
        self.probes = probes
        self.entropy = entropy
        self.relativeHalfWidth = relativeHalfWidth
        self.target = target
        self.seconds = seconds
    }

    /// Seconds left, extrapolated: probes until the half-width reaches the target (it shrinks
    /// as 1/√probes, at least `minimumProbes` in all) at the mean cost per probe so far; nil
    /// before two complement probes.
    public func secondsLeft(minimumProbes: Int, complementStart: (applications: Int, seconds: Double)) -> Double? {
        guard phase == .complement, probes >= 2, let width = relativeHalfWidth, let target, target > 0,
              width.isFinite, seconds > complementStart.seconds else { return nil }
        let needed = max(Double(minimumProbes), Double(probes) * (width / target) * (width / target))
        let perProbe = (seconds - complementStart.seconds) / Double(probes)
        return max(0, needed - Double(probes)) * perProbe
    }
}

/// An observer of `EstimationProgress` (called on the estimating thread).
public typealias EstimationProgressHandler = @Sendable (EstimationProgress) -> Void

import NTKLinearAlgebra

/// The state of a `Trainer` run handed to a `TrainingCallback`.
///
/// `network` is the live network at this point of the run (its parameters after `step`
/// updates); it shares storage with the trainer's copy (copy-on-write), so reading it costs
/// nothing, and a callback that keeps it pays one copy at the next update.
public struct TrainingContext<Scalar: BLASScalar>: Sendable {
    /// Which boundary this is.
    public enum Event: Sendable, Hashable {
        case trainingBegin, stepEnd, epochEnd, trainingEnd
    }

    public var event: Event
    /// Optimizer steps completed so far (0 at `trainingBegin`).
    public var step: Int
    /// Zero-based epoch of the step (for `epochEnd`: the epoch just completed).
    public var epoch: Int
    /// Steps per full epoch (⌈n / batch size⌉, or ⌊n / batch size⌋ when dropping the last batch).
    public var stepsPerEpoch: Int
    /// Loss of the last batch (before its update); nil before the first step.
    public var batchLoss: Double?
    /// Mean loss over the examples of the current epoch seen so far (the whole epoch at
    /// `epochEnd`); nil before the first step of an epoch.
    public var epochLoss: Double?
    /// The network with its current parameters.
    public var network: Network<Scalar>
    /// Wall-clock seconds spent training so far, excluding callbacks.
    public var trainingSeconds: Double
    /// Wall-clock seconds spent inside callbacks so far.
    public var callbackSeconds: Double

    /// The current flat parameter vector θ.
    public var parameters: [Scalar] { network.parameters }
}

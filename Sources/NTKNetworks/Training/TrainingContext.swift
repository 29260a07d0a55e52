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

    /// Steps of the whole run as configured (epochs × steps per epoch; a stop request ends it earlier).
    public var totalSteps: Int = 0
    /// Builds the run's checkpoint at this point (nil outside a `Trainer` run).
    var checkpointProvider: CheckpointProvider<Scalar>? = nil

    /// The current flat parameter vector θ.
    public var parameters: [Scalar] { network.parameters }

    /// The run's `TrainingCheckpoint` at this point (resuming from it continues exactly as
    /// this run goes on); nil outside a `Trainer` run. Call it only during the callback, on the
    /// training thread: it reads the trainer's live state. O(P + n) copies.
    public func checkpoint() -> TrainingCheckpoint<Scalar>? {
        checkpointProvider?.make(network.parameters)
    }
}

/// The trainer's closure building a checkpoint from its live state; used only synchronously
/// during a callback on the training thread.
final class CheckpointProvider<Scalar: BLASScalar>: @unchecked Sendable {
    let make: ([Scalar]) -> TrainingCheckpoint<Scalar>
    init(_ make: @escaping ([Scalar]) -> TrainingCheckpoint<Scalar>) { self.make = make }
}

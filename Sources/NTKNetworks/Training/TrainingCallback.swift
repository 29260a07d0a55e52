import NTKLinearAlgebra

/// An observer of a `Trainer` run, called synchronously at its boundaries, that may stop it.
///
/// Class-bound so that it can keep state between calls (a loss history, a JSON Lines file, the
/// fixed probes of a spectral monitor). Every method has a default that does nothing and
/// returns `.continue`; implement only the ones you need. Time spent in callbacks is measured
/// and reported separately from training time (`TrainingReport.callbackSeconds`), so a
/// monitor's overhead is its fraction of the training time.
///
/// Order of calls in one run: `trainingDidBegin` (step 0, before any update), then after every
/// optimizer step `stepDidEnd`, after the last step of every completed epoch `epochDidEnd`, and
/// finally `trainingDidEnd` (also after a stop request; not after an error). When a callback
/// returns `.stop`, the remaining callbacks of the same event still run, then training ends
/// without further steps.
public protocol TrainingCallback<Scalar>: AnyObject {
    associatedtype Scalar: BLASScalar

    /// Before the first step; the context holds the initial parameters (step 0).
    func trainingDidBegin(_ context: TrainingContext<Scalar>) throws -> TrainingDecision
    /// After each optimizer step; the context holds the updated parameters and the loss of the
    /// batch that produced the step (evaluated before the update).
    func stepDidEnd(_ context: TrainingContext<Scalar>) throws -> TrainingDecision
    /// After the last step of each completed epoch; `context.epochLoss` is the epoch's mean loss.
    func epochDidEnd(_ context: TrainingContext<Scalar>) throws -> TrainingDecision
    /// Once at the end of a run that did not throw.
    func trainingDidEnd(_ context: TrainingContext<Scalar>) throws
}

extension TrainingCallback {
    public func trainingDidBegin(_ context: TrainingContext<Scalar>) throws -> TrainingDecision { .continue }
    public func stepDidEnd(_ context: TrainingContext<Scalar>) throws -> TrainingDecision { .continue }
    public func epochDidEnd(_ context: TrainingContext<Scalar>) throws -> TrainingDecision { .continue }
    public func trainingDidEnd(_ context: TrainingContext<Scalar>) throws {}
}

/// What a callback asks the trainer to do next.
public enum TrainingDecision: Sendable, Hashable {
    case `continue`
    case stop
}

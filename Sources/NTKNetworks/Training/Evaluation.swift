/// The result of `Trainer.evaluate`: mean loss and, for classification targets, accuracy on a
/// (held-out) data set, with what it cost.
public struct Evaluation: Sendable, Hashable {
    /// Mean loss over all examples, in the loss's own convention (`Loss`).
    public var loss: Double
    /// Fraction of examples whose output argmax equals the target argmax (first index on
    /// ties), or nil when the targets are not classification targets (see `Trainer.evaluate`).
    public var accuracy: Double?
    /// Examples evaluated.
    public var examples: Int
    /// Forward passes (batches) run.
    public var forwardPasses: Int
    /// Wall-clock seconds.
    public var seconds: Double

    public init(loss: Double, accuracy: Double?, examples: Int, forwardPasses: Int, seconds: Double) {
        self.loss = loss
        self.accuracy = accuracy
        self.examples = examples
        self.forwardPasses = forwardPasses
        self.seconds = seconds
    }
}

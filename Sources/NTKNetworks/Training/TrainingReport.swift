import NTKLinearAlgebra

/// The outcome of `Trainer.train`: what ran, the loss history, and what it cost.
public struct TrainingReport<Algorithm: Optimizer>: Sendable {
    /// Optimizer steps taken.
    public var steps: Int
    /// Epochs run to completion.
    public var epochsCompleted: Int
    /// Examples processed (Σ batch sizes over all steps).
    public var examplesSeen: Int
    /// Mean training loss of each completed epoch (over its batches, weighted by batch size,
    /// each evaluated before its own update).
    public var epochLosses: [Double]
    /// Loss of each step's batch, evaluated before its update (one entry per step).
    public var stepLosses: [Double]
    /// Loss of the last batch, nil if no step ran.
    public var lastBatchLoss: Double?
    /// Whether a callback requested the stop before all epochs ran.
    public var stoppedEarly: Bool
    /// The optimizer with its final state (step count, moment buffers), to resume training.
    public var optimizer: Algorithm
    /// Wall-clock seconds of training (forward, loss, backward, update, batching), excluding callbacks.
    public var trainingSeconds: Double
    /// Wall-clock seconds spent inside callbacks.
    public var callbackSeconds: Double

    /// Callback time as a fraction of training time (0 when no training time was measured).
    public var callbackOverhead: Double { trainingSeconds > 0 ? callbackSeconds / trainingSeconds : 0 }
}

/// Errors raised by losses, optimizers and the `Trainer`: every case names the offending
/// thing and what was expected.
public enum TrainingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// An array or matrix has the wrong shape or size.
    case shapeMismatch(name: String, got: String, expected: String)
    /// A configuration option is out of range.
    case invalidOption(name: String, value: String, expected: String)
    /// Data that must be finite (inputs, targets, gradients) contains NaN or ±∞.
    case nonFinite(name: String)
    /// A target value is not valid for the loss (e.g. a negative class probability).
    case invalidTarget(loss: String, row: Int, column: Int, value: Double, expected: String)
    /// The loss became NaN or infinite during training.
    case diverged(step: Int, loss: Double)
    /// The parameters became NaN or infinite at the update of `step`.
    case nonFiniteParameters(step: Int)
    /// The loss grew past `Trainer.maxLossGrowth` times the first batch's loss.
    case lossGrowth(step: Int, loss: Double, firstLoss: Double, factor: Double)

    public var description: String {
        switch self {
        case let .shapeMismatch(name, got, expected):
            return "\(name) has shape \(got), expected \(expected)"
        case let .invalidOption(name, value, expected):
            return "option \(name) = \(value) is invalid, expected \(expected)"
        case let .nonFinite(name):
            return "\(name) contains NaN or infinite values; expected finite values"
        case let .invalidTarget(loss, row, column, value, expected):
            return "\(loss): target [\(row), \(column)] = \(value) is invalid, expected \(expected)"
        case let .diverged(step, loss):
            return "training diverged at step \(step): the batch loss is \(loss), expected a finite value"
        case let .nonFiniteParameters(step):
            return "training diverged at step \(step): the parameters are not finite after the update"
        case let .lossGrowth(step, loss, firstLoss, factor):
            return "training diverged at step \(step): the batch loss \(loss) exceeds \(factor) × the first batch loss \(firstLoss)"
        }
    }
}

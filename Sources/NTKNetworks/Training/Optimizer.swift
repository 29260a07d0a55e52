import NTKLinearAlgebra

/// A first-order optimizer: a value holding its hyper-parameters and its state (momentum
/// buffers, step count), updating a flat parameter vector θ ∈ R^P in place from a gradient
/// g = ∂L/∂θ of the same layout.
///
/// State buffers are allocated on the first step (P elements each) and reused afterwards, so
/// every later step allocates nothing. Hyper-parameters are `Double` (as PyTorch's Python
/// floats) and converted to `Scalar` once per step; the update itself runs in `Scalar`, like
/// PyTorch's in-place tensor updates.
public protocol Optimizer<Scalar>: Sendable {
    associatedtype Scalar: BLASScalar

    /// The step size η (settable, e.g. for a schedule).
    var learningRate: Double { get set }
    /// Number of steps taken since creation or the last `reset()`.
    var stepCount: Int { get }

    /// Checks the hyper-parameters.
    /// - Throws: `TrainingError.invalidOption` naming the option and its valid range.
    func validate() throws

    /// θ ← update(θ, g) in place.
    /// - Throws: `TrainingError.shapeMismatch` if the gradient and parameter counts differ or
    ///   change between steps, `.nonFinite` for a NaN/∞ gradient, `.invalidOption` for bad
    ///   hyper-parameters. θ is unchanged when it throws.
    /// - Complexity: O(P), allocation-free after the first step.
    mutating func step(parameters: inout [Scalar], gradient: [Scalar]) throws

    /// Forgets the state (buffers and step count); hyper-parameters are kept.
    mutating func reset()

    /// The state a later `restoreState(_:)` needs to continue bit for bit as if never stopped
    /// (buffers and counters, not hyper-parameters), e.g. for a training checkpoint.
    func exportState() -> OptimizerState<Scalar>

    /// Replaces the state (buffers and counters) by an exported one; hyper-parameters are kept.
    /// - Throws: `TrainingError.invalidOption` for an unknown or missing buffer or counter, or
    ///   buffers of different sizes; the optimizer is unchanged when it throws.
    mutating func restoreState(_ state: OptimizerState<Scalar>) throws
}

/// An optimizer's state as named buffers and counters (see `Optimizer.exportState()`).
public struct OptimizerState<Scalar: BLASScalar>: Sendable, Equatable {
    /// Named P-element buffers (e.g. SGD's "momentum_buffer", Adam's "first_moment").
    public var arrays: [String: [Scalar]]
    /// Named counters (e.g. "step").
    public var counters: [String: Int]

    public init(arrays: [String: [Scalar]] = [:], counters: [String: Int] = [:]) {
        self.arrays = arrays
        self.counters = counters
    }

    /// Checks that the state holds exactly `arrays` (each of one common size) and `counters`,
    /// for `optimizer`'s error messages.
    func check(optimizer: String, arrays expected: Set<String>, counters expectedCounters: Set<String>) throws {
        for name in Set(arrays.keys).symmetricDifference(expected).sorted() {
            throw TrainingError.invalidOption(
                name: "\(optimizer) state", value: arrays[name] == nil ? "no buffer \(name)" : "a buffer \(name)",
                expected: expected.isEmpty ? "no buffers" : "the buffers \(expected.sorted().joined(separator: ", "))")
        }
        for name in Set(counters.keys).symmetricDifference(expectedCounters).sorted() {
            throw TrainingError.invalidOption(
                name: "\(optimizer) state", value: counters[name] == nil ? "no counter \(name)" : "a counter \(name)",
                expected: "the counters \(expectedCounters.sorted().joined(separator: ", "))")
        }
        if Set(arrays.values.map(\.count)).count > 1 {
            throw TrainingError.shapeMismatch(
                name: "\(optimizer) state", got: "buffers of sizes \(arrays.mapValues(\.count))", expected: "one common size")
        }
        if let step = counters["step"], step < 0 {
            throw TrainingError.invalidOption(name: "\(optimizer) state step", value: "\(step)", expected: "a count ≥ 0")
        }
    }
}

extension Optimizer {
    /// Common argument checks of `step`: sizes agree with each other and with the state
    /// (`stateCount`, 0 before the first step), and the gradient is finite.
    func checkStep(parameters: [Scalar], gradient: [Scalar], stateCount: Int) throws {
        guard gradient.count == parameters.count else {
            throw TrainingError.shapeMismatch(
                name: "gradient", got: "\(gradient.count) elements", expected: "the parameter count \(parameters.count)")
        }
        guard stateCount == 0 || stateCount == parameters.count else {
            throw TrainingError.shapeMismatch(
                name: "parameters", got: "\(parameters.count) elements",
                expected: "\(stateCount) elements, the size of the optimizer state (call reset() for a new network)")
        }
        // An index loop, not `allSatisfy`: unspecialized generic iteration allocates per element.
        let finite = gradient.withUnsafeBufferPointer { g in
            var finite = true
            for i in 0..<g.count where !g[i].isFinite { finite = false }
            return finite
        }
        guard finite else { throw TrainingError.nonFinite(name: "gradient") }
    }

    /// Throws unless `value` is finite and `valid`.
    static func check(_ name: String, _ value: Double, _ valid: Bool, expected: String) throws {
        guard value.isFinite, valid else {
            throw TrainingError.invalidOption(name: name, value: "\(value)", expected: expected)
        }
    }
}

import NTKLinearAlgebra

/// A training loss on network outputs f ∈ R^{b×k} and targets y ∈ R^{b×k} (row-major, one
/// example per row), returning its value and the output cotangent ∂L/∂f ∈ R^{b×k}, which is
/// fed to `Network.vjp` with block s = 1 to obtain the parameter gradient ∂L/∂θ = J_θᵀ ∂L/∂f.
///
/// Conventions (b = batch size, k = outputs per example):
/// - `.meanSquaredError(reduction: .halfSquaredNorm)` (the default):
///   L = (1/b) Σᵢ ½‖fᵢ − yᵢ‖², ∂L/∂f = (f − y)/b. Half the squared norm per example, averaged
///   over the batch: the convention of NTK theory, under which gradient flow on the full data set
///   reads ḟ = −(η/n) K (f − y) (Jacot, Gabriel & Hongler 2018, arXiv:1806.07572).
/// - `.meanSquaredError(reduction: .mean)`: L = (1/(b·k)) Σᵢ,c (f_ic − y_ic)²,
///   ∂L/∂f = 2(f − y)/(b·k): PyTorch's `nn.MSELoss()` (reduction "mean" over all elements).
/// - `.softmaxCrossEntropy`: L = −(1/b) Σᵢ Σ_c y_ic log softmax(fᵢ)_c with one-hot or probability
///   targets (PyTorch's `nn.CrossEntropyLoss()` with class-probability targets),
///   ∂L/∂f_ic = (softmax(fᵢ)_c · Σ_c' y_ic' − y_ic)/b, which is (p − y)/b for rows summing to 1.
///   log-softmax is evaluated as f_c − m − log Σ exp(f_c' − m) with m = max_c f_c (log-sum-exp),
///   so no exponential overflows.
/// - `.groupedSoftmaxCrossEntropy(classes: C)`: the k outputs of an example are k/C consecutive
///   groups of C logits (the nodes of a graph given as one example, as `Network.gcnNodeModel`
///   outputs them; or tokens), each with its own softmax; a group whose targets are all zero is
///   unlabeled and contributes nothing (the training mask of semi-supervised node
///   classification). L = −(1/G) Σ_{labeled groups g} Σ_c y_gc log softmax(f_g)_c with G the
///   number of labeled groups in the batch (PyTorch's `cross_entropy` on the [nodes, C] logits
///   of the masked nodes, mean reduction), ∂L/∂f_gc = (softmax(f_g)_c · Σ_c' y_gc' − y_gc)/G.
///
/// Values and reductions are accumulated in Double; the cotangent is written in `Scalar`.
///
/// - Complexity: O(b·k) time, no allocation (pointer form).
public enum Loss: Sendable, Hashable, CustomStringConvertible {
    case meanSquaredError(reduction: SquaredErrorReduction = .halfSquaredNorm)
    case softmaxCrossEntropy
    case groupedSoftmaxCrossEntropy(classes: Int)

    /// How squared errors are reduced over a batch (see `Loss`).
    public enum SquaredErrorReduction: String, Sendable, Hashable, CaseIterable {
        /// (1/b) Σᵢ ½‖fᵢ − yᵢ‖².
        case halfSquaredNorm
        /// (1/(b·k)) Σᵢ,c (f_ic − y_ic)², PyTorch `MSELoss(reduction="mean")`.
        case mean
    }

    public var description: String {
        switch self {
        case let .meanSquaredError(reduction): return "mean squared error (\(reduction.rawValue))"
        case .softmaxCrossEntropy: return "softmax cross-entropy"
        case let .groupedSoftmaxCrossEntropy(classes): return "softmax cross-entropy per group of \(classes) outputs"
        }
    }

    /// Whether the loss treats outputs as class logits (so accuracy is meaningful).
    public var isClassification: Bool {
        switch self {
        case .softmaxCrossEntropy, .groupedSoftmaxCrossEntropy: return true
        case .meanSquaredError: return false
        }
    }

    /// The outputs per softmax group: C for `.groupedSoftmaxCrossEntropy(classes: C)`, nil otherwise.
    public var groupSize: Int? {
        if case let .groupedSoftmaxCrossEntropy(classes) = self { return classes }
        return nil
    }

    /// Loss value for `batch` examples of `outputCount` outputs; if `cotangent` is given, also
    /// writes ∂L/∂f into it (overwritten, [batch, outputCount]). Allocation-free.
    ///
    /// - Throws: `TrainingError.shapeMismatch` if a buffer is not batch × outputCount,
    ///   `.nonFinite` if outputs or targets contain NaN/∞, `.invalidTarget` for a negative
    ///   cross-entropy target.
    public func evaluate<Scalar: BLASScalar>(
        outputs: UnsafeBufferPointer<Scalar>, targets: UnsafeBufferPointer<Scalar>, batch b: Int, outputCount k: Int,
        cotangent: UnsafeMutableBufferPointer<Scalar>?
    ) throws -> Double {
        guard b > 0, k > 0 else {
            throw TrainingError.shapeMismatch(name: "loss batch", got: "[\(b), \(k)]", expected: "a positive batch and output count")
        }
        let count = b * k
        guard outputs.count == count else {
            throw TrainingError.shapeMismatch(name: "loss outputs", got: "\(outputs.count) elements", expected: "[\(b), \(k)] = \(count) elements")
        }
        guard targets.count == count else {
            throw TrainingError.shapeMismatch(name: "loss targets", got: "\(targets.count) elements", expected: "[\(b), \(k)] = \(count) elements")
        }
        if let cotangent, cotangent.count < count {
            throw TrainingError.shapeMismatch(name: "loss cotangent", got: "\(cotangent.count) elements", expected: "at least [\(b), \(k)] = \(count) elements")
        }
        for i in 0..<count where !outputs[i].isFinite { throw TrainingError.nonFinite(name: "loss outputs (row \(i / k))") }
        try validate(targets: targets, batch: b, outputCount: k)

        switch self {
        case let .groupedSoftmaxCrossEntropy(classes):
            guard classes >= 2, k % classes == 0 else {
                throw TrainingError.shapeMismatch(
                    name: "grouped cross-entropy outputs", got: "\(k) outputs per example",
                    expected: "a multiple of classes = \(classes) ≥ 2")
            }
            let groups = count / classes
            var labeled = 0
            for g in 0..<groups {
                var mass = 0.0
                for c in 0..<classes { mass += Double(targets[g * classes + c]) }
                if mass > 0 { labeled += 1 }
            }
            let inverse = 1 / Double(max(labeled, 1))
            var total = 0.0
            for g in 0..<groups {
                let row = g * classes
                var targetMass = 0.0
                for c in 0..<classes { targetMass += Double(targets[row + c]) }
                guard targetMass > 0 else {
                    if let cotangent { for c in 0..<classes { cotangent[row + c] = 0 } }
                    continue
                }
                var m = outputs[row]
                for c in 1..<classes { m = max(m, outputs[row + c]) }
                var sum = 0.0
                for c in 0..<classes { sum += Double(Scalar.exp(outputs[row + c] - m)) }
                let logSum = Double.log(sum)
                for c in 0..<classes {
                    let y = Double(targets[row + c])
                    if y != 0 { total += y * (Double(m) - Double(outputs[row + c]) + logSum) }
                    if let cotangent {
                        let p = Double(Scalar.exp(outputs[row + c] - m)) / sum
                        cotangent[row + c] = Scalar((p * targetMass - y) * inverse)
                    }
                }
            }
            return total * inverse

        case let .meanSquaredError(reduction):
            // L = c·Σ (f − y)², ∂L/∂f = 2c (f − y).
            let c = reduction == .mean ? 1 / Double(count) : 1 / (2 * Double(b))
            let g = Scalar(2 * c)
            var total = 0.0
            for i in 0..<count {
                let r = outputs[i] - targets[i]
                total += Double(r) * Double(r)
                if let cotangent { cotangent[i] = g * r }
            }
            return c * total

        case .softmaxCrossEntropy:
            let inverseBatch = 1 / Double(b)
            var total = 0.0
            for i in 0..<b {
                let row = i * k
                var m = outputs[row]
                for c in 1..<k { m = max(m, outputs[row + c]) }
                // Σ exp(f_c − m) ≥ 1 (the maximum contributes 1): the log is finite.
                var sum = 0.0
                var targetMass = 0.0
                for c in 0..<k {
                    let e = Scalar.exp(outputs[row + c] - m)
                    if let cotangent { cotangent[row + c] = e }
                    sum += Double(e)
                    targetMass += Double(targets[row + c])
                }
                let logSum = Double.log(sum)
                for c in 0..<k {
                    let y = Double(targets[row + c])
                    // −y·log p_c = y·(m + log Σ − f_c).
                    if y != 0 { total += y * (Double(m) - Double(outputs[row + c]) + logSum) }
                    if let cotangent {
                        let p = Double(cotangent[row + c]) / sum
                        cotangent[row + c] = Scalar((p * targetMass - y) * inverseBatch)
                    }
                }
            }
            return total * inverseBatch
        }
    }

    /// Value and cotangent ∂L/∂f for outputs and targets of the same shape [b, k].
    public func evaluate<Scalar: BLASScalar>(
        outputs: Matrix<Scalar>, targets: Matrix<Scalar>
    ) throws -> (value: Double, cotangent: Matrix<Scalar>) {
        try checkShapes(outputs: outputs, targets: targets)
        var cotangent = Matrix<Scalar>(rows: outputs.rows, columns: outputs.columns)
        let value = try outputs.storage.withUnsafeBufferPointer { f in
            try targets.storage.withUnsafeBufferPointer { y in
                try cotangent.storage.withUnsafeMutableBufferPointer { g in
                    try evaluate(outputs: f, targets: y, batch: outputs.rows, outputCount: outputs.columns, cotangent: g)
                }
            }
        }
        return (value, cotangent)
    }

    /// The loss value alone for outputs and targets of the same shape [b, k].
    public func value<Scalar: BLASScalar>(outputs: Matrix<Scalar>, targets: Matrix<Scalar>) throws -> Double {
        try checkShapes(outputs: outputs, targets: targets)
        return try outputs.storage.withUnsafeBufferPointer { f in
            try targets.storage.withUnsafeBufferPointer { y in
                try evaluate(outputs: f, targets: y, batch: outputs.rows, outputCount: outputs.columns, cotangent: nil)
            }
        }
    }

    /// Checks that targets are finite and, for cross-entropy, non-negative (class probabilities
    /// or one-hot rows; rows need not sum to 1, as in PyTorch).
    ///
    /// - Throws: `TrainingError.nonFinite` or `.invalidTarget` naming the first bad entry.
    public func validate<Scalar: BLASScalar>(targets: UnsafeBufferPointer<Scalar>, batch b: Int, outputCount k: Int) throws {
        for index in 0..<min(targets.count, b * k) {
            let y = targets[index]
            guard y.isFinite else { throw TrainingError.nonFinite(name: "loss targets (row \(index / k))") }
            if isClassification, y < 0 {
                throw TrainingError.invalidTarget(
                    loss: description, row: index / k, column: index % k, value: Double(y),
                    expected: "a non-negative class probability (one-hot or probability rows)")
            }
        }
    }

    func checkShapes<Scalar: BLASScalar>(outputs: Matrix<Scalar>, targets: Matrix<Scalar>) throws {
        guard outputs.rows == targets.rows, outputs.columns == targets.columns else {
            throw TrainingError.shapeMismatch(
                name: "targets", got: "[\(targets.rows), \(targets.columns)]",
                expected: "the outputs' shape [\(outputs.rows), \(outputs.columns)]")
        }
    }
}

import Foundation
import NTKLinearAlgebra
import Testing

@testable import NTKNetworks

/// Losses, optimizers and the trainer.
///
/// Finite-difference tolerances (Double, central differences with step h): the truncation error
/// is h²·|L'''|/6 and the round-off error about ε·|L|/h. With h = 1e-5 and |L|, |L'''| = O(1)
/// (logits and residuals of order one) both are below 2e-10, so 1e-7·max(1, |g|) leaves more than
/// two orders of magnitude of margin and still catches any wrong factor or sign.
@Suite struct TrainingTests {
    init() throws { try BLASThreads.set(1) }

    static let epsilon = Double.ulpOfOne

    // MARK: Data

    static func gaussian(rows: Int, columns: Int, scale: Double = 1, seed: UInt64) -> Matrix<Double> {
        var rng = SeededGenerator(seed: seed)
        let values = [Double].gaussian(count: rows * columns, using: &rng).map { $0 * scale }
        return Matrix(rows: rows, columns: columns) { i, j in values[i * columns + j] }
    }

    /// Rows of non-negative class probabilities summing to 1 (a softmax of Gaussians).
    static func probabilities(rows: Int, columns: Int, seed: UInt64) -> Matrix<Double> {
        let logits = gaussian(rows: rows, columns: columns, seed: seed)
        var p = logits
        for i in 0..<rows {
            let e = (0..<columns).map { Double.exp(logits[i, $0]) }
            let sum = e.reduce(0, +)
            for c in 0..<columns { p[i, c] = e[c] / sum }
        }
        return p
    }

    static func oneHot(_ labels: [Int], classes: Int) -> Matrix<Double> {
        Matrix(rows: labels.count, columns: classes) { i, c in labels[i] == c ? 1 : 0 }
    }

    /// Two Gaussian blobs in R²: class 0 around (−2, −2), class 1 around (2, 2), σ = 0.7, so the
    /// classes are separated by 5.7/0.7 ≈ 8 standard deviations (Bayes error ≈ 2e-5 per point).
    static func blobs(count: Int, seed: UInt64) -> (inputs: Matrix<Double>, targets: Matrix<Double>) {
        var rng = SeededGenerator(seed: seed)
        let noise = [Double].gaussian(count: 2 * count, using: &rng)
        let labels = (0..<count).map { $0 % 2 }
        let inputs = Matrix<Double>(rows: count, columns: 2) { i, j in
            (labels[i] == 0 ? -2 : 2) + 0.7 * noise[2 * i + j]
        }
        return (inputs, oneHot(labels, classes: 2))
    }

    static func maxAbs(_ a: [Double], _ b: [Double]) -> Double {
        zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }

    // MARK: Losses vs finite differences

    static let losses: [Loss] = [
        .meanSquaredError(), .meanSquaredError(reduction: .mean), .softmaxCrossEntropy,
    ]

    @Test(arguments: losses)
    func lossCotangentMatchesFiniteDifferencesInOutputs(loss: Loss) throws {
        let b = 3, k = 4, h = 1e-5
        let f = Self.gaussian(rows: b, columns: k, scale: 2, seed: 11)
        let targetSets = loss.isClassification
            ? [
                Self.oneHot([2, 0, 3], classes: k), Self.probabilities(rows: b, columns: k, seed: 12),
                // Rows not summing to 1 (PyTorch accepts them): exercises the Σ_c y_c factor.
                Matrix(rows: b, columns: k) { i, c in abs(Self.gaussian(rows: b, columns: k, seed: 14)[i, c]) },
            ]
            : [Self.gaussian(rows: b, columns: k, seed: 13)]
        for y in targetSets {
            let (value, cotangent) = try loss.evaluate(outputs: f, targets: y)
            #expect(value.isFinite)
            for index in 0..<(b * k) {
                var plus = f, minus = f
                plus.storage[index] += h
                minus.storage[index] -= h
                let fd = (try loss.value(outputs: plus, targets: y) - loss.value(outputs: minus, targets: y)) / (2 * h)
                let g = cotangent.storage[index]
                #expect(abs(fd - g) <= 1e-7 * max(1, abs(g)), "\(loss) ∂L/∂f[\(index)]: FD \(fd) vs \(g)")
            }
        }
    }

    @Test func lossValuesFollowTheDocumentedConventions() throws {
        let f = try Matrix<Double>(rows: 2, columns: 2, storage: [1, 2, 3, 5])
        let y = try Matrix<Double>(rows: 2, columns: 2, storage: [0, 0, 3, 3])
        // Residuals (1, 2; 0, 2): Σr² = 9. Half-norm per example averaged: 9/(2·2); PyTorch mean: 9/4.
        let half = try Loss.meanSquaredError().value(outputs: f, targets: y)
        let mean = try Loss.meanSquaredError(reduction: .mean).value(outputs: f, targets: y)
        #expect(abs(half - 2.25) <= 4 * Self.epsilon * 2.25)
        #expect(abs(mean - 2.25) <= 4 * Self.epsilon * 2.25)
        let f3 = try Matrix<Double>(rows: 1, columns: 3, storage: [1, 2, 3])
        let halfK3 = try Loss.meanSquaredError().value(outputs: f3, targets: Matrix(rows: 1, columns: 3))
        let meanK3 = try Loss.meanSquaredError(reduction: .mean).value(outputs: f3, targets: Matrix(rows: 1, columns: 3))
        #expect(abs(halfK3 - 7) <= 4 * Self.epsilon * 7)  // ½·14
        #expect(abs(meanK3 - 14.0 / 3) <= 4 * Self.epsilon * 5)  // 14/3
        // Cross-entropy of uniform logits against a one-hot row is log k.
        let ce = try Loss.softmaxCrossEntropy.value(outputs: Matrix<Double>(rows: 1, columns: 3), targets: Self.oneHot([1], classes: 3))
        #expect(abs(ce - Double.log(3)) <= 8 * Self.epsilon)
    }

    @Test func crossEntropyIsStableForHugeLogits() throws {
        let y = Self.probabilities(rows: 2, columns: 3, seed: 5)
        let f = try Matrix<Double>(rows: 2, columns: 3, storage: [3, -1, 0.5, 2, 2.5, -4])
        let shift = 800.0  // exp(800) overflows Double: a naive softmax returns NaN here.
        var shifted = f
        for i in shifted.storage.indices { shifted.storage[i] += shift }
        let (base, g0) = try Loss.softmaxCrossEntropy.evaluate(outputs: f, targets: y)
        let (moved, g1) = try Loss.softmaxCrossEntropy.evaluate(outputs: shifted, targets: y)
        // Softmax is shift invariant; the shift only rounds each logit by ≤ ε·shift, which moves
        // the loss by ≤ 2·ε·shift per unit of target mass (2 rows) and p by as much.
        #expect(abs(base - moved) <= 8 * Self.epsilon * shift)
        #expect(Self.maxAbs(g0.storage, g1.storage) <= 8 * Self.epsilon * shift)
    }

    @Test(arguments: losses)
    func lossGradientThroughNetworkMatchesFiniteDifferences(loss: Loss) throws {
        let k = 3, b = 4
        var network: Network<Double> = try .mlp(inputSize: 2, hiddenSizes: [5], outputSize: k, activation: .tanh, seed: 3)
        let x = Self.gaussian(rows: b, columns: 2, seed: 21)
        let y = loss.isClassification ? Self.probabilities(rows: b, columns: k, seed: 22) : Self.gaussian(rows: b, columns: k, seed: 22)
        let (value, gradient) = try loss.gradient(of: network, inputs: x, targets: y)
        #expect(abs(value - (try loss.value(outputs: network.forward(x), targets: y))) <= 4 * Self.epsilon * max(1, value))
        let theta = network.parameters
        let h = 1e-5
        func lossAt(_ p: [Double]) throws -> Double {
            network.parameters = p
            return try loss.value(outputs: network.forward(x), targets: y)
        }
        // Every coordinate (P = 2·5 + 5 + 5·3 + 3 = 33).
        for i in 0..<theta.count {
            var plus = theta, minus = theta
            plus[i] += h
            minus[i] -= h
            let fd = (try lossAt(plus) - lossAt(minus)) / (2 * h)
            #expect(abs(fd - gradient[i]) <= 1e-7 * max(1, abs(gradient[i])), "\(loss) ∂L/∂θ[\(i)]: FD \(fd) vs \(gradient[i])")
        }
        // A random direction.
        var rng = SeededGenerator(seed: 23)
        let v = [Double].gaussian(count: theta.count, using: &rng)
        let fd = (try lossAt(zip(theta, v).map { $0 + h * $1 }) - lossAt(zip(theta, v).map { $0 - h * $1 })) / (2 * h)
        let directional = zip(gradient, v).reduce(0) { $0 + $1.0 * $1.1 }
        #expect(abs(fd - directional) <= 1e-7 * max(1, abs(directional)))
    }

    // MARK: Optimizers against hand computations

    static let theta0: [Double] = [1, -2]
    static let gradients: [[Double]] = [[0.5, 1], [-1, 2]]

    @Test func sgdMomentumWithWeightDecayTwoSteps() throws {
        var sgd = SGD<Double>(learningRate: 0.1, momentum: 0.9, weightDecay: 0.01)
        var theta = Self.theta0
        try sgd.step(parameters: &theta, gradient: Self.gradients[0])
        // g' = g₁ + 0.01·θ₀ = (0.51, 0.98); b₁ = g'; θ₁ = θ₀ − 0.1·b₁ = (0.949, −2.098).
        #expect(Self.maxAbs(theta, [0.949, -2.098]) <= 8 * Self.epsilon * 2)
        try sgd.step(parameters: &theta, gradient: Self.gradients[1])
        // g' = g₂ + 0.01·θ₁ = (−0.99051, 1.97902); b₂ = 0.9·b₁ + g' = (−0.53151, 2.86102);
        // θ₂ = θ₁ − 0.1·b₂ = (1.002151, −2.384102).
        #expect(Self.maxAbs(theta, [1.002151, -2.384102]) <= 16 * Self.epsilon * 3)
        #expect(Self.maxAbs(sgd.momentumBuffer, [-0.53151, 2.86102]) <= 16 * Self.epsilon * 3)
        #expect(sgd.stepCount == 2)
    }

    @Test func sgdNesterovAndDampeningFollowPyTorch() throws {
        let lr = 0.05, mu = 0.8
        // Nesterov: b₁ = g₁, θ₁ = θ₀ − η(g₁ + μ b₁); b₂ = μ b₁ + g₂, θ₂ = θ₁ − η(g₂ + μ b₂).
        var nesterov = SGD<Double>(learningRate: lr, momentum: mu, nesterov: true)
        var theta = Self.theta0
        for g in Self.gradients { try nesterov.step(parameters: &theta, gradient: g) }
        var expected = Self.theta0
        for i in 0..<2 {
            let g1 = Self.gradients[0][i], g2 = Self.gradients[1][i]
            let b1 = g1, b2 = mu * b1 + g2
            expected[i] -= lr * (g1 + mu * b1)
            expected[i] -= lr * (g2 + mu * b2)
        }
        #expect(Self.maxAbs(theta, expected) <= 16 * Self.epsilon * 3)
        // Dampening τ: the first step uses b₁ = g₁ undamped, then b₂ = μ b₁ + (1 − τ) g₂.
        var damped = SGD<Double>(learningRate: lr, momentum: mu, dampening: 0.5)
        theta = Self.theta0
        for g in Self.gradients { try damped.step(parameters: &theta, gradient: g) }
        for i in 0..<2 {
            let b1 = Self.gradients[0][i], b2 = mu * b1 + 0.5 * Self.gradients[1][i]
            expected[i] = Self.theta0[i] - lr * b1 - lr * b2
        }
        #expect(Self.maxAbs(theta, expected) <= 16 * Self.epsilon * 3)
    }

    @Test func adamTwoSteps() throws {
        var adam = Adam<Double>(learningRate: 0.1)
        var theta = Self.theta0
        try adam.step(parameters: &theta, gradient: Self.gradients[0])
        // m = 0.1·g₁, v = 0.001·g₁²; m̂ = g₁, v̂ = g₁²: θ₁ = θ₀ − 0.1·g₁/(|g₁| + 1e-8)
        // = (0.900000002, −2.099999999).
        #expect(Self.maxAbs(theta, [0.900000002, -2.099999999]) <= 16 * Self.epsilon * 3)
        try adam.step(parameters: &theta, gradient: Self.gradients[1])
        // m = 0.9·m + 0.1·g₂ = (−0.055, 0.29), v = 0.999·v + 0.001·g₂² = (0.00124975, 0.004999);
        // m̂ = m/0.19 = (−0.289473684…, 1.526315789…), v̂ = v/0.001999 = (0.625187…, 2.500750…);
        // θ₂ = θ₁ − 0.1·m̂/(√v̂ + 1e-8) = (0.93661035424…, −2.19651820097…).
        #expect(Self.maxAbs(adam.firstMoment, [-0.055, 0.29]) <= 8 * Self.epsilon)
        #expect(Self.maxAbs(adam.secondMoment, [0.00124975, 0.004999]) <= 8 * Self.epsilon * 0.005)
        // The update divides by 1 − β₂ᵗ ≈ 0.002, which amplifies the O(ε) rounding of v by ~500.
        #expect(Self.maxAbs(theta, [0.9366103542405654, -2.1965182009718336]) <= 1000 * Self.epsilon * 3)
    }

    @Test func adamWeightDecayL2VersusDecoupled() throws {
        let lr = 0.1, wd = 0.2, b1 = 0.9, b2 = 0.999, eps = 1e-8
        for decoupled in [false, true] {
            var adam = Adam<Double>(learningRate: lr, weightDecay: wd, decoupledWeightDecay: decoupled)
            var theta = Self.theta0
            for g in Self.gradients { try adam.step(parameters: &theta, gradient: g) }
            var expected = Self.theta0
            for i in 0..<2 {
                var m = 0.0, v = 0.0, p = Self.theta0[i]
                for (t, gradient) in Self.gradients.enumerated() {
                    var g = gradient[i]
                    if decoupled { p *= 1 - lr * wd } else { g += wd * p }
                    m = b1 * m + (1 - b1) * g
                    v = b2 * v + (1 - b2) * g * g
                    let power = Double(t + 1)
                    let mHat = m / (1 - Double.pow(b1, power)), vHat = v / (1 - Double.pow(b2, power))
                    p -= lr * mHat / (vHat.squareRoot() + eps)
                }
                expected[i] = p
            }
            #expect(Self.maxAbs(theta, expected) <= 1000 * Self.epsilon * 3, "decoupled: \(decoupled)")
        }
    }

    @Test func optimizersRejectBadOptionsAndGradients() throws {
        var theta = Self.theta0
        var bad = SGD<Double>(learningRate: -1)
        #expect(throws: TrainingError.self) { try bad.step(parameters: &theta, gradient: [0, 0]) }
        #expect(theta == Self.theta0)
        do {
            try SGD<Double>(learningRate: 0.1, nesterov: true).validate()
            Issue.record("Nesterov without momentum must throw")
        } catch let error as TrainingError {
            #expect(error.description.contains("nesterov"))
        }
        #expect(throws: TrainingError.self) { try Adam<Double>(beta1: 1).validate() }
        #expect(throws: TrainingError.self) { try Adam<Double>(epsilon: .nan).validate() }
        var adam = Adam<Double>()
        #expect(throws: TrainingError.self) { try adam.step(parameters: &theta, gradient: [1, 2, 3]) }
        #expect(throws: TrainingError.self) { try adam.step(parameters: &theta, gradient: [1, .infinity]) }
        try adam.step(parameters: &theta, gradient: [1, 1])
        var longer = [1.0, 2, 3]
        #expect(throws: TrainingError.self) { try adam.step(parameters: &longer, gradient: [1, 1, 1]) }
        adam.reset()
        try adam.step(parameters: &longer, gradient: [1, 1, 1])
        #expect(adam.stepCount == 1)
    }

    // MARK: Trainer

    @Test func oneFullBatchSGDStepIsGradientDescent() throws {
        let (x, y) = Self.blobs(count: 12, seed: 31)
        let initial: Network<Double> = try .mlp(inputSize: 2, hiddenSizes: [4], outputSize: 2, seed: 4)
        let (_, gradient) = try Loss.softmaxCrossEntropy.gradient(of: initial, inputs: x, targets: y)
        var network = initial
        let trainer = Trainer(epochs: 1, batchSize: 12, seed: 1, loss: .softmaxCrossEntropy, optimizer: SGD<Double>(learningRate: 0.5))
        let report = try trainer.train(network: &network, inputs: x, targets: y)
        #expect(report.steps == 1)
        let expected = zip(initial.parameters, gradient).map { $0 - 0.5 * $1 }
        // Shuffling permutes the batch: the gradient sums the same terms in another order.
        #expect(Self.maxAbs(network.parameters, expected) <= 64 * Self.epsilon * 12)
    }

    static func trainBlobs<Scalar: BLASScalar, Algorithm: Optimizer<Scalar>>(
        _: Scalar.Type, loss: Loss, optimizer: Algorithm, epochs: Int
    ) throws -> (before: Evaluation, after: Evaluation, heldOut: Evaluation, report: TrainingReport<Algorithm>) {
        let train = blobs(count: 64, seed: 41), test = blobs(count: 64, seed: 42)
        let x = train.inputs.converted(to: Scalar.self), y = train.targets.converted(to: Scalar.self)
        var network: Network<Scalar> = try .mlp(inputSize: 2, hiddenSizes: [8], outputSize: 2, activation: .tanh, seed: 5)
        let trainer = Trainer(epochs: epochs, batchSize: 16, seed: 7, loss: loss, optimizer: optimizer)
        let before = try trainer.evaluate(network: network, inputs: x, targets: y)
        let report = try trainer.train(network: &network, inputs: x, targets: y)
        let after = try trainer.evaluate(network: network, inputs: x, targets: y)
        let heldOut = try trainer.evaluate(
            network: network, inputs: test.inputs.converted(to: Scalar.self), targets: test.targets.converted(to: Scalar.self))
        return (before, after, heldOut, report)
    }

    @Test func trainingSeparatesTwoBlobs() throws {
        // Cross-entropy + SGD with momentum, Double and Float (one generic code path).
        let double = try Self.trainBlobs(Double.self, loss: .softmaxCrossEntropy, optimizer: SGD<Double>(learningRate: 0.1, momentum: 0.9), epochs: 15)
        let float = try Self.trainBlobs(Float.self, loss: .softmaxCrossEntropy, optimizer: SGD<Float>(learningRate: 0.1, momentum: 0.9), epochs: 15)
        // MSE (PyTorch mean) on one-hot targets + Adam.
        let adam = try Self.trainBlobs(Double.self, loss: .meanSquaredError(reduction: .mean), optimizer: Adam<Double>(learningRate: 0.02), epochs: 15)
        let runs = [
            ("SGD/CE Double", double.before, double.after, double.heldOut, double.report.steps),
            ("SGD/CE Float", float.before, float.after, float.heldOut, float.report.steps),
        ]
        for (name, before, after, heldOut, steps) in runs {
            #expect(steps == 15 * 4, "\(name)")
            #expect(after.loss < 0.1 * before.loss, "\(name): loss \(before.loss) → \(after.loss)")
            #expect((heldOut.accuracy ?? 0) >= 0.95, "\(name): held-out accuracy \(String(describing: heldOut.accuracy))")
        }
        #expect(abs(double.after.loss - float.after.loss) <= 0.05 * double.before.loss)
        #expect(adam.after.loss < 0.1 * adam.before.loss, "Adam/MSE: loss \(adam.before.loss) → \(adam.after.loss)")
        #expect((adam.heldOut.accuracy ?? 0) >= 0.95)
        #expect(double.report.epochLosses.count == 15)
        #expect(double.report.epochLosses.last! < double.report.epochLosses.first!)
    }

    @Test func trainingIsDeterministicUnderTheSeed() throws {
        let (x, y) = Self.blobs(count: 20, seed: 51)
        let initial: Network<Double> = try .mlp(inputSize: 2, hiddenSizes: [6], outputSize: 2, seed: 6)
        func run(seed: UInt64) throws -> ([Double], [Double]) {
            var network = initial
            let trainer = Trainer(epochs: 3, batchSize: 6, seed: seed, loss: .softmaxCrossEntropy, optimizer: Adam<Double>(learningRate: 0.01))
            let report = try trainer.train(network: &network, inputs: x, targets: y)
            return (network.parameters, report.epochLosses)
        }
        let (a, lossesA) = try run(seed: 9)
        let (b, lossesB) = try run(seed: 9)
        let (c, _) = try run(seed: 10)
        // Same seed, same single-threaded arithmetic in the same order: bit-identical results are
        // the property under test, so exact equality is the right check here.
        #expect(a == b)
        #expect(lossesA == lossesB)
        // Another shuffling seed visits the batches in another order: the parameters move apart
        // by far more than round-off (steps of size ~η = 0.01).
        #expect(Self.maxAbs(a, c) > 1e-6)
    }

    /// Records every callback call; optionally stops at a step, busy-waits per call.
    final class Recorder: TrainingCallback {
        typealias Scalar = Double
        var events: [(event: TrainingContext<Double>.Event, step: Int, epoch: Int, epochLoss: Double?)] = []
        var parametersAtSteps: [[Double]] = []
        let stopAtStep: Int?
        let busySeconds: Double

        init(stopAtStep: Int? = nil, busySeconds: Double = 0) {
            self.stopAtStep = stopAtStep
            self.busySeconds = busySeconds
        }

        func busyWait() {
            guard busySeconds > 0 else { return }
            let clock = ContinuousClock(), start = clock.now
            while Trainer<SGD<Double>>.seconds(clock.now - start) < busySeconds {}
        }

        func trainingDidBegin(_ context: TrainingContext<Double>) throws -> TrainingDecision {
            events.append((context.event, context.step, context.epoch, context.epochLoss))
            parametersAtSteps.append(context.parameters)
            busyWait()
            return .continue
        }

        func stepDidEnd(_ context: TrainingContext<Double>) throws -> TrainingDecision {
            events.append((context.event, context.step, context.epoch, context.epochLoss))
            parametersAtSteps.append(context.parameters)
            busyWait()
            return context.step == stopAtStep ? .stop : .continue
        }

        func epochDidEnd(_ context: TrainingContext<Double>) throws -> TrainingDecision {
            events.append((context.event, context.step, context.epoch, context.epochLoss))
            busyWait()
            return .continue
        }

        func trainingDidEnd(_ context: TrainingContext<Double>) throws {
            events.append((context.event, context.step, context.epoch, context.epochLoss))
        }
    }

    @Test func callbacksFireAtStepAndEpochBoundaries() throws {
        let (x, y) = Self.blobs(count: 10, seed: 61)
        var network: Network<Double> = try .mlp(inputSize: 2, hiddenSizes: [3], outputSize: 2, seed: 7)
        let initial = network.parameters
        let recorder = Recorder(busySeconds: 0.002)
        let trainer = Trainer(epochs: 2, batchSize: 4, seed: 1, loss: .softmaxCrossEntropy, optimizer: SGD<Double>(learningRate: 0.1))
        let clock = ContinuousClock(), start = clock.now
        let report = try trainer.train(network: &network, inputs: x, targets: y, callbacks: [recorder])
        let wall = Trainer<SGD<Double>>.seconds(clock.now - start)
        // 10 examples in batches of 4: 3 steps per epoch (4, 4, 2).
        let expected: [(TrainingContext<Double>.Event, Int, Int)] = [
            (.trainingBegin, 0, 0), (.stepEnd, 1, 0), (.stepEnd, 2, 0), (.stepEnd, 3, 0), (.epochEnd, 3, 0),
            (.stepEnd, 4, 1), (.stepEnd, 5, 1), (.stepEnd, 6, 1), (.epochEnd, 6, 1), (.trainingEnd, 6, 1),
        ]
        #expect(recorder.events.map { "\($0.event) \($0.step) \($0.epoch)" } == expected.map { "\($0.0) \($0.1) \($0.2)" })
        #expect(report.steps == 6 && report.epochsCompleted == 2 && report.examplesSeen == 20 && !report.stoppedEarly)
        // Epoch-end contexts carry the epoch losses of the report.
        let epochEnds = recorder.events.filter { $0.event == .epochEnd }.compactMap(\.epochLoss)
        #expect(epochEnds == report.epochLosses)
        // Epoch losses are the batch-size-weighted means of the step losses (batches 4, 4, 2).
        #expect(report.stepLosses.count == 6)
        for epoch in 0..<2 {
            let l = Array(report.stepLosses[(3 * epoch)..<(3 * epoch + 3)])
            let mean = (4 * l[0] + 4 * l[1] + 2 * l[2]) / 10
            #expect(abs(mean - report.epochLosses[epoch]) <= 8 * Self.epsilon * mean)
        }
        #expect(report.lastBatchLoss == report.stepLosses.last)
        // The context shows the parameters before any step, then after each step.
        #expect(recorder.parametersAtSteps.first == initial)
        #expect(Self.maxAbs(recorder.parametersAtSteps[1], initial) > 0)
        #expect(recorder.parametersAtSteps.last == network.parameters)
        // Callback time: 9 busy calls of 2 ms are counted as callback time, not training time.
        #expect(report.callbackSeconds >= 9 * 0.002)
        #expect(report.trainingSeconds + report.callbackSeconds <= wall)
        #expect(report.callbackOverhead > 0)
    }

    @Test(arguments: [(4, 4, 1), (3, 3, 1)])
    func callbacksCanStopTraining(stopAt: Int, steps: Int, epochs: Int) throws {
        let (x, y) = Self.blobs(count: 10, seed: 61)
        var network: Network<Double> = try .mlp(inputSize: 2, hiddenSizes: [3], outputSize: 2, seed: 7)
        let recorder = Recorder(stopAtStep: stopAt), observer = Recorder()
        let trainer = Trainer(epochs: 5, batchSize: 4, seed: 1, loss: .softmaxCrossEntropy, optimizer: SGD<Double>(learningRate: 0.1))
        let report = try trainer.train(network: &network, inputs: x, targets: y, callbacks: [recorder, observer])
        #expect(report.steps == steps)
        #expect(report.epochsCompleted == epochs)
        #expect(report.stoppedEarly)
        #expect(report.optimizer.stepCount == steps)
        // The callback after the stopping one still sees the stopping step, then only the end
        // (and, when the stop completes an epoch, that epoch's end).
        let stepEnds = observer.events.filter { $0.event == .stepEnd }.map(\.step)
        #expect(stepEnds == Array(1...steps))
        #expect(observer.events.filter { $0.event == .epochEnd }.count == epochs)
        #expect(observer.events.last?.event == .trainingEnd)
        #expect(observer.events.last?.epoch == (stopAt - 1) / 3)
        #expect(observer.parametersAtSteps.last == network.parameters)
    }

    @Test func dropLastAndFixedOrder() throws {
        let (x, y) = Self.blobs(count: 10, seed: 91)
        let initial: Network<Double> = try .mlp(inputSize: 2, hiddenSizes: [3], outputSize: 2, seed: 10)
        var network = initial
        let dropping = Trainer(epochs: 3, batchSize: 4, loss: .softmaxCrossEntropy, optimizer: SGD<Double>(learningRate: 0.1), dropLast: true)
        let report = try dropping.train(network: &network, inputs: x, targets: y)
        // ⌊10/4⌋ = 2 steps of 4 examples per epoch.
        #expect(report.steps == 6 && report.examplesSeen == 24 && report.epochsCompleted == 3)
        // Without shuffling, one full-batch epoch over the first 4 rows equals one gradient step
        // on those rows, whatever the seed.
        let first4 = try Matrix<Double>(rows: 4, columns: 2, storage: Array(x.storage.prefix(8)))
        let targets4 = try Matrix<Double>(rows: 4, columns: 2, storage: Array(y.storage.prefix(8)))
        let (_, gradient) = try Loss.softmaxCrossEntropy.gradient(of: initial, inputs: first4, targets: targets4)
        network = initial
        let ordered = Trainer(epochs: 1, batchSize: 4, seed: 99, loss: .softmaxCrossEntropy, optimizer: SGD<Double>(learningRate: 0.3), shuffle: false, dropLast: true)
        let one = try ordered.train(network: &network, inputs: x, targets: y, callbacks: [Recorder(stopAtStep: 1)])
        #expect(one.steps == 1 && one.stoppedEarly)
        let expected = zip(initial.parameters, gradient).map { $0 - 0.3 * $1 }
        // Same batch in the same order: the same arithmetic up to the 0.3·g rounding.
        #expect(Self.maxAbs(network.parameters, expected) <= 4 * Self.epsilon * 4)
    }

    @Test func shuffleIsAUniformPermutation() {
        // 6000 shuffles of 3 items: each of the 6 orders is Binomial(6000, 1/6), mean 1000,
        // standard deviation √(6000·(1/6)·(5/6)) ≈ 28.9; allow 5 standard deviations.
        var generator = SeededGenerator(seed: 101)
        var counts: [[Int]: Int] = [:]
        for _ in 0..<6000 {
            var order = [0, 1, 2]
            Trainer<SGD<Double>>.shuffle(&order, using: &generator)
            counts[order, default: 0] += 1
        }
        #expect(counts.count == 6)
        for (order, count) in counts {
            #expect(order.sorted() == [0, 1, 2])
            #expect(abs(count - 1000) <= 5 * 29, "order \(order): \(count)")
        }
        // Bounded draws cover 0..<bound with no value outside it.
        var seen = Set<UInt64>()
        for _ in 0..<200 { seen.insert(Trainer<SGD<Double>>.boundedDraw(7, using: &generator)) }
        #expect(seen == Set(0..<7))
    }

    @Test func lossRejectsBadShapesAndValues() throws {
        let f = Self.gaussian(rows: 2, columns: 3, seed: 111)
        #expect(throws: TrainingError.self) { try Loss.softmaxCrossEntropy.value(outputs: f, targets: Matrix<Double>(rows: 3, columns: 2)) }
        var nanOutputs = f
        nanOutputs[1, 2] = .infinity
        #expect(throws: TrainingError.nonFinite(name: "loss outputs (row 1)")) {
            try Loss.meanSquaredError().value(outputs: nanOutputs, targets: Matrix<Double>(rows: 2, columns: 3))
        }
        var nanTargets = Matrix<Double>(rows: 2, columns: 3)
        nanTargets[0, 1] = .nan
        #expect(throws: TrainingError.nonFinite(name: "loss targets (row 0)")) {
            try Loss.meanSquaredError().value(outputs: f, targets: nanTargets)
        }
        // Negative targets are fine for regression, not for class probabilities.
        var negative = Matrix<Double>(rows: 2, columns: 3)
        negative[1, 0] = -1
        #expect(try Loss.meanSquaredError().value(outputs: f, targets: negative).isFinite)
        #expect(throws: TrainingError.self) { try Loss.softmaxCrossEntropy.value(outputs: f, targets: negative) }
    }

    @Test func evaluationReportsAccuracyOnlyForClassificationTargets() throws {
        let (x, y) = Self.blobs(count: 8, seed: 71)
        let network: Network<Double> = try .mlp(inputSize: 2, hiddenSizes: [3], outputSize: 2, seed: 8)
        let trainer = Trainer(epochs: 1, batchSize: 3, loss: .meanSquaredError(), optimizer: SGD<Double>(learningRate: 0.1))
        let outputs = try network.forward(x)
        let evaluation = try trainer.evaluate(network: network, inputs: x, targets: y)
        // Batches of 3, 3, 2 averaged with weights 3, 3, 2 equal the loss over all 8 at once.
        #expect(abs(evaluation.loss - (try Loss.meanSquaredError().value(outputs: outputs, targets: y))) <= 16 * Self.epsilon * max(1, evaluation.loss))
        #expect(evaluation.forwardPasses == 3 && evaluation.examples == 8)
        let correct = (0..<8).filter { i in (outputs[i, 1] > outputs[i, 0] ? 1 : 0) == (y[i, 1] == 1 ? 1 : 0) }.count
        #expect(evaluation.accuracy == Double(correct) / 8)
        // Regression targets: no accuracy.
        let regression = Self.gaussian(rows: 8, columns: 2, seed: 72)
        #expect(try trainer.evaluate(network: network, inputs: x, targets: regression).accuracy == nil)
    }

    @Test func trainerRejectsBadInput() throws {
        let (x, y) = Self.blobs(count: 6, seed: 81)
        var network: Network<Double> = try .mlp(inputSize: 2, hiddenSizes: [3], outputSize: 2, seed: 9)
        let initial = network.parameters
        let good = Trainer(epochs: 1, batchSize: 2, loss: .softmaxCrossEntropy, optimizer: SGD<Double>(learningRate: 0.1))
        func message(_ body: () throws -> Void) -> String {
            do { try body() } catch let error as TrainingError { return error.description } catch { return "other: \(error)" }
            return "no error"
        }
        let shortTargets = try Matrix<Double>(rows: 5, columns: 2, storage: Array(y.storage.prefix(10)))
        #expect(message { _ = try good.train(network: &network, inputs: x, targets: shortTargets) }.contains("targets has shape [5, 2]"))
        let wideInputs = Matrix<Double>(rows: 6, columns: 3)
        #expect(message { _ = try good.train(network: &network, inputs: wideInputs, targets: y) }.contains("inputs"))
        var zeroBatch = good
        zeroBatch.batchSize = 0
        #expect(message { _ = try zeroBatch.train(network: &network, inputs: x, targets: y) }.contains("batchSize"))
        var dropAll = good
        dropAll.batchSize = 7
        dropAll.dropLast = true
        #expect(message { _ = try dropAll.train(network: &network, inputs: x, targets: y) }.contains("batchSize"))
        var negative = y
        negative[0, 0] = -0.5
        #expect(message { _ = try good.train(network: &network, inputs: x, targets: negative) }.contains("target [0, 0]"))
        var nanInputs = x
        nanInputs[2, 1] = .nan
        #expect(message { _ = try good.train(network: &network, inputs: nanInputs, targets: y) }.contains("inputs contains NaN"))
        let badOptimizer = Trainer(epochs: 1, batchSize: 2, loss: .softmaxCrossEntropy, optimizer: Adam<Double>(beta2: 1.5))
        #expect(message { _ = try badOptimizer.train(network: &network, inputs: x, targets: y) }.contains("beta2"))
        // Validation failures happen before any step: the parameters are untouched (bitwise).
        #expect(network.parameters == initial)
        // η = 1e200 sends θ to ~1e200 after step 1, so step 2's squared residuals (~1e400)
        // overflow: a typed divergence error at step 2, with θ left at the finite step-1 values.
        let huge = Trainer(epochs: 3, batchSize: 3, loss: .meanSquaredError(), optimizer: SGD<Double>(learningRate: 1e200), shuffle: false)
        let regression = Self.gaussian(rows: 6, columns: 2, seed: 82)
        #expect(message { _ = try huge.train(network: &network, inputs: x, targets: regression) }.contains("diverged at step 2"))
        let finite = network.parameters.allSatisfy { $0.isFinite }
        #expect(finite)
        #expect(network.parameters != initial)
    }
}

/// `Loss.groupedSoftmaxCrossEntropy`: per-group (per-node) softmax cross-entropy with
/// zero-target groups as unlabeled, checked against the plain loss on the labeled groups as rows.
@Suite struct GroupedCrossEntropyTests {
    /// 2 examples × 3 groups × 4 classes; group 1 of example 0 and group 2 of example 1 unlabeled.
    static func batch() throws -> (f: Matrix<Double>, y: Matrix<Double>) {
        var random = SeededGenerator(seed: 11)
        var f = Matrix<Double>(rows: 2, columns: 12)
        for i in f.storage.indices { f.storage[i] = 3 * random.nextGaussian() }
        var y = Matrix<Double>(rows: 2, columns: 12)
        for (group, label) in [(0, 2), (2, 0), (3, 1), (4, 3)] { y.storage[group * 4 + label] = 1 }
        return (f, y)
    }

    @Test func equalsTheRowLossOnTheLabeledGroups() throws {
        let (f, y) = try Self.batch()
        let grouped = try Loss.groupedSoftmaxCrossEntropy(classes: 4).evaluate(outputs: f, targets: y)
        // The labeled groups 0, 2, 3, 4 as rows of a [4, 4] batch.
        let labeled = [0, 2, 3, 4]
        let rows = try Matrix(rows: 4, columns: 4, storage: labeled.flatMap { g in (0..<4).map { f.storage[g * 4 + $0] } })
        let targets = try Matrix(rows: 4, columns: 4, storage: labeled.flatMap { g in (0..<4).map { y.storage[g * 4 + $0] } })
        let plain = try Loss.softmaxCrossEntropy.evaluate(outputs: rows, targets: targets)
        #expect(abs(grouped.value - plain.value) <= 1e-14 * plain.value)
        for (r, g) in labeled.enumerated() {
            for c in 0..<4 { #expect(abs(grouped.cotangent.storage[g * 4 + c] - plain.cotangent[r, c]) <= 1e-15) }
        }
        for g in [1, 5] { for c in 0..<4 { #expect(grouped.cotangent.storage[g * 4 + c] == 0) } }
    }

    @Test func cotangentIsTheDerivative() throws {
        let (f, y) = try Self.batch()
        let loss = Loss.groupedSoftmaxCrossEntropy(classes: 4)
        let g = try loss.evaluate(outputs: f, targets: y).cotangent
        let h = 1e-6
        for i in f.storage.indices {
            var plus = f, minus = f
            plus.storage[i] += h
            minus.storage[i] -= h
            let fd = (try loss.value(outputs: plus, targets: y) - loss.value(outputs: minus, targets: y)) / (2 * h)
            #expect(abs(fd - g.storage[i]) <= 1e-8, "output \(i): \(fd) vs \(g.storage[i])")
        }
    }

    @Test func rejectsOutputsNotAMultipleOfTheClasses() throws {
        let f = Matrix<Double>(rows: 1, columns: 7), y = Matrix<Double>(rows: 1, columns: 7)
        #expect(throws: TrainingError.self) { try Loss.groupedSoftmaxCrossEntropy(classes: 2).evaluate(outputs: f, targets: y) }
        #expect(throws: TrainingError.self) { try Loss.groupedSoftmaxCrossEntropy(classes: 1).evaluate(outputs: f, targets: y) }
    }

    /// Accuracy counts labeled groups: a network whose output equals its (graph) input
    /// (a Linear layer with W = I, b = 0).
    @Test func evaluationCountsLabeledGroups() throws {
        var network: Network<Double> = try .mlp(inputSize: 6, hiddenSizes: [], outputSize: 6)
        #expect(network.parameterCount == 42)
        network.parameters = (0..<42).map { $0 < 36 && $0 / 6 == $0 % 6 ? 1 : 0 }
        // 3 groups of 2 classes: group 0 right (label 1), group 1 unlabeled, group 2 wrong (label 0).
        let x = try Matrix(rows: 1, columns: 6, storage: [0, 1, 5, -5, 2, 3])
        let y = try Matrix(rows: 1, columns: 6, storage: [0, 1, 0, 0, 1, 0])
        let trainer = Trainer(epochs: 1, batchSize: 1, loss: .groupedSoftmaxCrossEntropy(classes: 2),
                              optimizer: SGD<Double>(learningRate: 0.1))
        let evaluation = try trainer.evaluate(network: network, inputs: x, targets: y)
        #expect(evaluation.accuracy == 0.5)
        let expected = (log(1 + exp(-1.0)) + log(1 + exp(1.0))) / 2
        #expect(abs(evaluation.loss - expected) <= 1e-14)
    }
}

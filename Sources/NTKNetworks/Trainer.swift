import NTKLinearAlgebra

/// Mini-batch training of a `Network`: a configuration value (epochs, batch size, shuffling
/// seed, loss, optimizer) whose `train` method runs the loop
///
///     for each epoch: shuffle the n examples (seeded Fisher–Yates), then for each batch B:
///         f = network(x_B);  (L, ∂L/∂f) = loss(f, y_B);  g = J_θᵀ ∂L/∂f  (VJP, block s = 1);
///         θ ← optimizer.step(θ, g)
///
/// calling `TrainingCallback`s at the run, step and epoch boundaries.
///
/// ```swift
/// var network: Network<Float> = try .mlp(inputSize: 2, hiddenSizes: [16], outputSize: 2, seed: 1)
/// let trainer = Trainer(epochs: 20, batchSize: 32, seed: 7, loss: .softmaxCrossEntropy,
///                       optimizer: SGD<Float>(learningRate: 0.1, momentum: 0.9))
/// let report = try trainer.train(network: &network, inputs: x, targets: oneHotLabels, callbacks: [monitor])
/// let test = try trainer.evaluate(network: network, inputs: xTest, targets: yTest)  // loss, accuracy
/// ```
///
/// Every buffer (forward cache, VJP workspace, batch inputs/targets, output cotangent,
/// gradient, permutation) is allocated once per `train` call and reused by every step; the
/// optimizer allocates its state on its first step; after that a step allocates nothing in the
/// trainer, loss or optimizer (measured with a malloc counter). A run is deterministic given `seed`, the
/// network's initial parameters and the data (with a fixed BLAS thread count).
///
/// - Complexity: per step one forward pass and one VJP (≈ 3 forward passes) on the batch, plus
///   O(P) for the update; O(P + batch activations) memory.
public struct Trainer<Algorithm: Optimizer>: Sendable {
    public typealias Scalar = Algorithm.Scalar

    /// Passes over the training set (≥ 0).
    public var epochs: Int
    /// Examples per step (≥ 1); the last batch of an epoch may be smaller unless `dropLast`.
    public var batchSize: Int
    /// Seed of the shuffling generator (`SeededGenerator`).
    public var seed: UInt64
    public var loss: Loss
    /// The optimizer as configured for the start of a run; `train` works on a copy and returns
    /// its final state in the report.
    public var optimizer: Algorithm
    /// Reshuffle the examples at the start of each epoch (otherwise keep their order).
    public var shuffle: Bool
    /// Skip the last, smaller batch of each epoch (PyTorch `DataLoader(drop_last=True)`).
    public var dropLast: Bool

    public init(
        epochs: Int, batchSize: Int, seed: UInt64 = 0, loss: Loss, optimizer: Algorithm,
        shuffle: Bool = true, dropLast: Bool = false
    ) {
        self.epochs = epochs
        self.batchSize = batchSize
        self.seed = seed
        self.loss = loss
        self.optimizer = optimizer
        self.shuffle = shuffle
        self.dropLast = dropLast
    }

    /// Checks the configuration.
    /// - Throws: `TrainingError.invalidOption` naming the option.
    public func validate() throws {
        guard epochs >= 0 else {
            throw TrainingError.invalidOption(name: "epochs", value: "\(epochs)", expected: "a count ≥ 0")
        }
        guard batchSize >= 1 else {
            throw TrainingError.invalidOption(name: "batchSize", value: "\(batchSize)", expected: "a count ≥ 1")
        }
        try optimizer.validate()
    }

    /// Trains `network` in place on `inputs` [n, inputSize] and `targets` [n, k].
    ///
    /// - Parameter callbacks: called in order at each boundary (see `TrainingCallback`).
    /// - Returns: the loss history, the final optimizer, and training and callback seconds.
    /// - Throws: `TrainingError` for bad shapes, options or targets, or when the loss becomes
    ///   non-finite (`.diverged`); `NetworkError` from the network; anything a callback throws.
    ///   On a throw, `network` keeps the parameters of the last completed step.
    public func train(
        network: inout Network<Scalar>, inputs: Matrix<Scalar>, targets: Matrix<Scalar>,
        callbacks: [any TrainingCallback<Scalar>] = []
    ) throws -> TrainingReport<Algorithm> {
        try validate()
        let n = inputs.rows, inputSize = network.inputSize, k = network.outputCount, P = network.parameterCount
        try loss.checkData(inputs: inputs, targets: targets, network: network)
        let batchCapacity = min(batchSize, n)
        let stepsPerEpoch = dropLast ? n / batchSize : (n + batchSize - 1) / batchSize
        guard stepsPerEpoch > 0 else {
            throw TrainingError.invalidOption(
                name: "batchSize", value: "\(batchSize) with dropLast",
                expected: "at most the number of examples \(n), or dropLast = false")
        }

        // Buffers, allocated once.
        let cache = network.makeForwardCache(capacity: batchCapacity)
        let workspace = network.makeBlockWorkspace(batch: batchCapacity, block: 1)
        let batchInputs = UnsafeMutableBufferPointer<Scalar>.allocate(capacity: batchCapacity * inputSize)
        let batchTargets = UnsafeMutableBufferPointer<Scalar>.allocate(capacity: batchCapacity * k)
        let cotangent = UnsafeMutableBufferPointer<Scalar>.allocate(capacity: batchCapacity * k)
        defer {
            batchInputs.deallocate()
            batchTargets.deallocate()
            cotangent.deallocate()
        }
        var gradient = [Scalar](repeating: 0, count: P)
        var order = Array(0..<n)
        var generator = SeededGenerator(seed: seed)
        var optimizer = self.optimizer

        // Clock: time between callback calls is training time.
        let clock = ContinuousClock()
        var trainingTime = Duration.zero, callbackTime = Duration.zero
        var segmentStart = clock.now
        var step = 0, examplesSeen = 0, epochsCompleted = 0, currentEpoch = 0
        var epochLosses: [Double] = []
        epochLosses.reserveCapacity(epochs)
        var stepLosses: [Double] = []
        stepLosses.reserveCapacity(epochs * stepsPerEpoch)
        var lastBatchLoss: Double?
        var stopRequested = false

        func notify(_ event: TrainingContext<Scalar>.Event, epoch: Int, epochLoss: Double?) throws -> Bool {
            let start = clock.now
            trainingTime += start - segmentStart
            var stop = false
            if !callbacks.isEmpty {
                let context = TrainingContext(
                    event: event, step: step, epoch: epoch, stepsPerEpoch: stepsPerEpoch, batchLoss: lastBatchLoss,
                    epochLoss: epochLoss, network: network, trainingSeconds: Self.seconds(trainingTime),
                    callbackSeconds: Self.seconds(callbackTime))
                for callback in callbacks {
                    switch event {
                    case .trainingBegin: stop = try callback.trainingDidBegin(context) == .stop || stop
                    case .stepEnd: stop = try callback.stepDidEnd(context) == .stop || stop
                    case .epochEnd: stop = try callback.epochDidEnd(context) == .stop || stop
                    case .trainingEnd: try callback.trainingDidEnd(context)
                    }
                }
            }
            let end = clock.now
            callbackTime += end - start
            segmentStart = end
            return stop
        }

        stopRequested = try notify(.trainingBegin, epoch: 0, epochLoss: nil)
        try inputs.storage.withUnsafeBufferPointer { x in
            try targets.storage.withUnsafeBufferPointer { y in
                epochLoop: for epoch in 0..<epochs where !stopRequested {
                    currentEpoch = epoch
                    if shuffle { Self.shuffle(&order, using: &generator) }
                    var epochSum = 0.0, epochCount = 0
                    for batchIndex in 0..<stepsPerEpoch {
                        let start = batchIndex * batchSize
                        let b = min(batchSize, n - start)
                        for r in 0..<b {
                            let example = order[start + r]
                            (batchInputs.baseAddress! + r * inputSize)
                                .update(from: x.baseAddress! + example * inputSize, count: inputSize)
                            (batchTargets.baseAddress! + r * k).update(from: y.baseAddress! + example * k, count: k)
                        }
                        try network.forward(
                            inputs: UnsafeBufferPointer(rebasing: batchInputs[0..<(b * inputSize)]), batch: b, into: cache)
                        let batchLoss = try loss.evaluate(
                            outputs: cache.outputBuffer, targets: UnsafeBufferPointer(rebasing: batchTargets[0..<(b * k)]),
                            batch: b, outputCount: k, cotangent: UnsafeMutableBufferPointer(rebasing: cotangent[0..<(b * k)]))
                        guard batchLoss.isFinite else { throw TrainingError.diverged(step: step + 1, loss: batchLoss) }
                        try gradient.withUnsafeMutableBufferPointer { g in
                            g.update(repeating: 0)
                            try network.vjp(
                                cache: cache, outputCotangents: UnsafePointer(cotangent.baseAddress!), block: 1,
                                workspace: workspace, parameterCotangents: g.baseAddress!)
                        }
                        try optimizer.step(parameters: &network.parameters, gradient: gradient)
                        step += 1
                        examplesSeen += b
                        epochSum += batchLoss * Double(b)
                        epochCount += b
                        lastBatchLoss = batchLoss
                        stepLosses.append(batchLoss)
                        if try notify(.stepEnd, epoch: epoch, epochLoss: epochSum / Double(epochCount)) {
                            stopRequested = true
                            if batchIndex < stepsPerEpoch - 1 { break epochLoop }
                        }
                    }
                    let epochLoss = epochSum / Double(epochCount)
                    epochLosses.append(epochLoss)
                    epochsCompleted += 1
                    if try notify(.epochEnd, epoch: epoch, epochLoss: epochLoss) { stopRequested = true }
                }
            }
        }
        _ = try notify(.trainingEnd, epoch: currentEpoch, epochLoss: epochLosses.last)
        return TrainingReport(
            steps: step, epochsCompleted: epochsCompleted, examplesSeen: examplesSeen, epochLosses: epochLosses,
            stepLosses: stepLosses, lastBatchLoss: lastBatchLoss, stoppedEarly: stopRequested && epochsCompleted < epochs, optimizer: optimizer,
            trainingSeconds: Self.seconds(trainingTime), callbackSeconds: Self.seconds(callbackTime))
    }

    // MARK: Helpers

    /// In-place Fisher–Yates shuffle (Knuth, TAOCP vol. 2, Algorithm 3.4.2 P) with unbiased
    /// bounded draws by Lemire's multiply-and-reject method (arXiv:1805.10941). Allocation-free.
    static func shuffle(_ order: inout [Int], using generator: inout SeededGenerator) {
        order.withUnsafeMutableBufferPointer { o in
            var i = o.count - 1
            while i > 0 {
                let j = Int(boundedDraw(UInt64(i + 1), using: &generator))
                let t = o[i]
                o[i] = o[j]
                o[j] = t
                i -= 1
            }
        }
    }

    /// A uniform draw from 0..<bound (bound > 0).
    static func boundedDraw(_ bound: UInt64, using generator: inout SeededGenerator) -> UInt64 {
        var product = generator.next().multipliedFullWidth(by: bound)
        if product.low < bound {
            let threshold = (0 &- bound) % bound
            while product.low < threshold { product = generator.next().multipliedFullWidth(by: bound) }
        }
        return product.high
    }

    static func seconds(_ duration: Duration) -> Double {
        let (s, attoseconds) = duration.components
        return Double(s) + Double(attoseconds) * 1e-18
    }
}

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
    /// Stop with `TrainingError.lossGrowth` when a batch loss exceeds this multiple of the
    /// run's first batch loss (a run blowing up while its loss is still finite); nil: only a
    /// non-finite loss or θ stops it.
    public var maxLossGrowth: Double? = nil

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
        if let factor = maxLossGrowth, !(factor > 1 && factor.isFinite) {
            throw TrainingError.invalidOption(name: "maxLossGrowth", value: "\(factor)", expected: "a finite factor > 1")
        }
        try optimizer.validate()
    }

    /// Trains `network` in place on `inputs` [n, inputSize] and `targets` [n, k].
    ///
    /// - Parameters:
    ///   - callbacks: called in order at each boundary (see `TrainingCallback`); each context
    ///     can build the run's `TrainingCheckpoint` (`context.checkpoint()`, e.g. `CheckpointWriter`).
    ///   - resumeFrom: continue a run from its checkpoint: θ, the optimizer's state, the example
    ///     order, the shuffling generator, the position and the loss history are restored, so the
    ///     run goes on exactly as the one that wrote it (same seed, data and options; `epochs`
    ///     may be larger). `trainingDidBegin` is called at the checkpoint's step; the report's
    ///     `stepLosses` hold this call's steps only, `epochLosses` the whole run's.
    /// - Returns: the loss history, the final optimizer, and training and callback seconds.
    /// - Throws: `TrainingError` for bad shapes, options or targets, a checkpoint that does not
    ///   fit this network, data or batch size (`.invalidOption` naming the field), or when the
    ///   loss becomes non-finite or grows past `maxLossGrowth` or θ becomes non-finite
    ///   (`.diverged`); `NetworkError` from the network; anything a callback throws.
    ///   On a throw, `network` keeps the parameters of the last completed step.
    public func train(
        network: inout Network<Scalar>, inputs: Matrix<Scalar>, targets: Matrix<Scalar>,
        callbacks: [any TrainingCallback<Scalar>] = [], resumeFrom checkpoint: TrainingCheckpoint<Scalar>? = nil
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
        var optimizer = self.optimizer
        var order = Array(0..<n)
        var generator = SeededGenerator(seed: seed)
        var step = 0, examplesSeen = 0, startEpoch = 0, startBatch = 0
        var epochSum = 0.0, epochCount = 0
        var epochLosses: [Double] = []
        var lastBatchLoss: Double?, firstBatchLoss: Double?
        if let checkpoint {
            try Self.check(checkpoint, parameterCount: P, examples: n, stepsPerEpoch: stepsPerEpoch, epochs: epochs)
            try optimizer.restoreState(checkpoint.optimizer)
            network.parameters = checkpoint.parameters
            order = checkpoint.order
            generator = SeededGenerator(state: checkpoint.generatorState)!
            step = checkpoint.step
            examplesSeen = checkpoint.examplesSeen
            startEpoch = checkpoint.epoch
            startBatch = checkpoint.batchIndex
            epochSum = checkpoint.epochLossSum
            epochCount = checkpoint.epochExampleCount
            epochLosses = checkpoint.epochLosses
            lastBatchLoss = checkpoint.lastBatchLoss
            firstBatchLoss = checkpoint.firstBatchLoss
        }
        let totalSteps = epochs * stepsPerEpoch

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

        // Clock: time between callback calls is training time.
        let clock = ContinuousClock()
        var trainingTime = Duration.zero, callbackTime = Duration.zero
        var segmentStart = clock.now
        var currentEpoch = startEpoch
        // Position of the next batch (epoch, index), for checkpoints.
        var nextEpoch = startEpoch, nextBatch = startBatch
        epochLosses.reserveCapacity(epochs)
        var stepLosses: [Double] = []
        stepLosses.reserveCapacity(max(0, totalSteps - step))
        var stopRequested = false

        let provider = callbacks.isEmpty ? nil : CheckpointProvider<Scalar> { parameters in
            // Normalized: after an epoch's last batch, the next epoch at batch 0.
            var epoch = nextEpoch, batch = nextBatch, sum = epochSum, count = epochCount, losses = epochLosses
            if batch == stepsPerEpoch {
                if losses.count == epoch { losses.append(sum / Double(count)) }
                epoch += 1
                batch = 0
            }
            if batch == 0 { sum = 0; count = 0 }
            return TrainingCheckpoint(
                step: step, epoch: epoch, batchIndex: batch, order: order, generatorState: generator.state,
                epochLossSum: sum, epochExampleCount: count, examplesSeen: examplesSeen, epochLosses: losses,
                lastBatchLoss: lastBatchLoss, firstBatchLoss: firstBatchLoss, parameters: parameters,
                optimizer: optimizer.exportState())
        }

        func notify(_ event: TrainingContext<Scalar>.Event, epoch: Int, epochLoss: Double?) throws -> Bool {
            let start = clock.now
            trainingTime += start - segmentStart
            var stop = false
            if !callbacks.isEmpty {
                let context = TrainingContext(
                    event: event, step: step, epoch: epoch, stepsPerEpoch: stepsPerEpoch, batchLoss: lastBatchLoss,
                    epochLoss: epochLoss, network: network, trainingSeconds: Self.seconds(trainingTime),
                    callbackSeconds: Self.seconds(callbackTime), totalSteps: totalSteps, checkpointProvider: provider)
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

        // At a resumed step the epoch of that step (the previous one at an epoch boundary).
        let beginEpoch = startBatch == 0 && step > 0 ? max(0, startEpoch - 1) : startEpoch
        stopRequested = try notify(.trainingBegin, epoch: beginEpoch, epochLoss: nil)
        try inputs.storage.withUnsafeBufferPointer { x in
            try targets.storage.withUnsafeBufferPointer { y in
                epochLoop: for epoch in startEpoch..<max(startEpoch, epochs) where !stopRequested {
                    currentEpoch = epoch
                    let firstBatch = epoch == startEpoch ? startBatch : 0
                    if firstBatch == 0 {
                        if shuffle { Self.shuffle(&order, using: &generator) }
                        epochSum = 0
                        epochCount = 0
                    }
                    nextEpoch = epoch
                    nextBatch = firstBatch
                    for batchIndex in firstBatch..<stepsPerEpoch {
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
                        if let factor = maxLossGrowth, let first = firstBatchLoss, batchLoss > factor * max(first, .leastNormalMagnitude) {
                            throw TrainingError.lossGrowth(step: step + 1, loss: batchLoss, firstLoss: first, factor: factor)
                        }
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
                        nextBatch = batchIndex + 1
                        lastBatchLoss = batchLoss
                        if firstBatchLoss == nil { firstBatchLoss = batchLoss }
                        stepLosses.append(batchLoss)
                        if try notify(.stepEnd, epoch: epoch, epochLoss: epochSum / Double(epochCount)) {
                            stopRequested = true
                            if batchIndex < stepsPerEpoch - 1 { break epochLoop }
                        }
                    }
                    let epochLoss = epochSum / Double(epochCount)
                    epochLosses.append(epochLoss)
                    if try notify(.epochEnd, epoch: epoch, epochLoss: epochLoss) { stopRequested = true }
                }
            }
        }
        // The loss is checked before each update; the last update is checked here.
        let finite = network.parameters.withUnsafeBufferPointer { theta in
            var finite = true
            for i in 0..<theta.count where !theta[i].isFinite { finite = false }
            return finite
        }
        guard finite else { throw TrainingError.nonFiniteParameters(step: step) }
        _ = try notify(.trainingEnd, epoch: currentEpoch, epochLoss: epochLosses.last)
        return TrainingReport(
            steps: step, epochsCompleted: epochLosses.count, examplesSeen: examplesSeen, epochLosses: epochLosses,
            stepLosses: stepLosses, lastBatchLoss: lastBatchLoss, stoppedEarly: stopRequested && epochLosses.count < epochs,
            optimizer: optimizer, trainingSeconds: Self.seconds(trainingTime), callbackSeconds: Self.seconds(callbackTime))
    }

    /// Checks that a checkpoint fits this run (network size, data, batch size, epochs).
    static func check(_ c: TrainingCheckpoint<Scalar>, parameterCount: Int, examples n: Int, stepsPerEpoch: Int, epochs: Int) throws {
        func bad(_ name: String, _ value: String, _ expected: String) -> TrainingError {
            .invalidOption(name: "checkpoint \(name)", value: value, expected: expected)
        }
        guard c.parameters.count == parameterCount else {
            throw bad("parameters", "\(c.parameters.count) values", "the network's \(parameterCount) parameters")
        }
        guard c.order.count == n else { throw bad("order", "\(c.order.count) examples", "the \(n) training examples") }
        var seen = [Bool](repeating: false, count: n)
        for i in c.order {
            guard (0..<n).contains(i), !seen[i] else { throw bad("order", "not a permutation", "a permutation of 0..<\(n)") }
            seen[i] = true
        }
        guard SeededGenerator(state: c.generatorState) != nil else { throw bad("generator state", "\(c.generatorState)", "four words, not all zero") }
        guard c.batchIndex < stepsPerEpoch, c.step == c.epoch * stepsPerEpoch + c.batchIndex else {
            throw bad("step", "\(c.step) (epoch \(c.epoch), batch \(c.batchIndex))",
                      "epoch × \(stepsPerEpoch) steps per epoch + batch: written with another batch size or data set")
        }
        guard c.epochLosses.count == c.epoch else { throw bad("epoch losses", "\(c.epochLosses.count)", "one per completed epoch (\(c.epoch))") }
        guard c.epoch < epochs || (c.epoch == epochs && c.batchIndex == 0) else {
            throw bad("step", "\(c.step) (epoch \(c.epoch + 1))", "at most the \(epochs * stepsPerEpoch) steps of \(epochs) epochs")
        }
        guard c.parameters.allSatisfy(\.isFinite) else { throw bad("parameters", "non-finite values", "finite values") }
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

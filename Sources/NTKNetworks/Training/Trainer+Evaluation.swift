import NTKLinearAlgebra

extension Trainer {
    /// Mean loss and accuracy of `network` on `inputs` [n, inputSize] and `targets` [n, k],
    /// in batches of `batchSize` examples, in order, without changing the network.
    ///
    /// Accuracy (argmax of the outputs = argmax of the targets) is reported when k ≥ 2 and
    /// the targets are classification targets: the loss is softmax cross-entropy, or every
    /// target row is one-hot (one entry 1, the others 0, e.g. MSE on one-hot labels). With
    /// `.groupedSoftmaxCrossEntropy(classes: C)` it is the fraction of labeled groups (nodes)
    /// whose output argmax equals the target argmax, over the groups with nonzero targets.
    ///
    /// - Parameter loss: the loss to report; nil uses the trainer's `loss`.
    /// - Complexity: one forward pass per batch; O(batch activations) memory.
    public func evaluate(
        network: Network<Scalar>, inputs: Matrix<Scalar>, targets: Matrix<Scalar>, loss: Loss? = nil
    ) throws -> Evaluation {
        let loss = loss ?? self.loss
        guard batchSize >= 1 else {
            throw TrainingError.invalidOption(name: "batchSize", value: "\(batchSize)", expected: "a count ≥ 1")
        }
        try loss.checkData(inputs: inputs, targets: targets, network: network)
        let clock = ContinuousClock()
        let start = clock.now
        let n = inputs.rows, inputSize = network.inputSize, k = network.outputCount
        let batch = min(batchSize, n)
        let cache = network.makeForwardCache(capacity: batch)
        let group = loss.groupSize ?? k
        let measureAccuracy = k >= 2 && (loss.isClassification || Self.isOneHot(targets))
        var lossSum = 0.0, correct = 0, passes = 0, labeled = 0
        try inputs.storage.withUnsafeBufferPointer { x in
            try targets.storage.withUnsafeBufferPointer { y in
                var first = 0
                while first < n {
                    let b = min(batch, n - first)
                    try network.forward(
                        inputs: UnsafeBufferPointer(rebasing: x[(first * inputSize)..<((first + b) * inputSize)]),
                        batch: b, into: cache)
                    let f = cache.outputBuffer
                    let yb = UnsafeBufferPointer(rebasing: y[(first * k)..<((first + b) * k)])
                    lossSum += try loss.evaluate(outputs: f, targets: yb, batch: b, outputCount: k, cotangent: nil) * Double(b)
                    if measureAccuracy {
                        for r in 0..<(b * k / group) {
                            if loss.groupSize != nil {
                                var mass = 0.0
                                for c in 0..<group { mass += Double(yb[r * group + c]) }
                                if mass <= 0 { continue }
                            }
                            labeled += 1
                            if Self.argmax(f, row: r, width: group) == Self.argmax(yb, row: r, width: group) { correct += 1 }
                        }
                    }
                    passes += 1
                    first += b
                }
            }
        }
        return Evaluation(
            loss: lossSum / Double(n), accuracy: measureAccuracy ? Double(correct) / Double(max(labeled, 1)) : nil, examples: n,
            forwardPasses: passes, seconds: Self.seconds(clock.now - start))
    }

    /// Index of the largest entry of row `row` (first on ties).
    static func argmax(_ a: UnsafeBufferPointer<Scalar>, row: Int, width: Int) -> Int {
        var best = 0
        for c in 1..<max(width, 1) where a[row * width + c] > a[row * width + best] { best = c }
        return best
    }

    /// Whether every row has exactly one entry 1 and the others 0.
    static func isOneHot(_ targets: Matrix<Scalar>) -> Bool {
        for i in 0..<targets.rows {
            var ones = 0
            for c in 0..<targets.columns {
                let v = targets[i, c]
                if v == 1 { ones += 1 } else if v != 0 { return false }
            }
            if ones != 1 { return false }
        }
        return true
    }
}

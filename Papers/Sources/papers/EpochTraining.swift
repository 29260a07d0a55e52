import Foundation
import NTKDatasets
import NTKLinearAlgebra
import NTKNetworks

/// The training loss of a reproduction.
enum PaperLoss: String, Sendable {
    /// ZnNL's `LPNormLoss(order: 2)`: (1/b) Σᵢ ‖fᵢ − yᵢ‖₂, ∂L/∂fᵢ = (fᵢ − yᵢ)/(b‖fᵢ − yᵢ‖) (0 where
    /// fᵢ = yᵢ). With one output it is the mean absolute error.
    case meanNorm = "mean_l2_norm"
    /// PyTorch's `MSELoss()`: (1/(b·k)) Σ (f − y)² (the library's `.meanSquaredError(reduction: .mean)`).
    case meanSquaredError = "mse"

    func evaluate(outputs: UnsafeBufferPointer<Double>, targets: UnsafeBufferPointer<Double>, batch b: Int, outputs k: Int,
                  cotangent: UnsafeMutableBufferPointer<Double>?) throws -> Double {
        switch self {
        case .meanSquaredError:
            return try Loss.meanSquaredError(reduction: .mean).evaluate(
                outputs: outputs, targets: targets, batch: b, outputCount: k, cotangent: cotangent)
        case .meanNorm:
            var total = 0.0
            for i in 0..<b {
                var squares = 0.0
                for c in 0..<k { let d = outputs[i * k + c] - targets[i * k + c]; squares += d * d }
                let norm = squares.squareRoot()
                total += norm
                if let cotangent {
                    for c in 0..<k {
                        cotangent[i * k + c] = norm > 0 ? (outputs[i * k + c] - targets[i * k + c]) / (norm * Double(b)) : 0
                    }
                }
            }
            return total / Double(b)
        }
    }

    /// The loss of `network` over a whole data set.
    func evaluate(network: Network<Double>, on data: Dataset<Double>) throws -> Double {
        let outputs = try network.forward(data.inputs)
        return try outputs.storage.withUnsafeBufferPointer { f in
            try data.targets.storage.withUnsafeBufferPointer { y in
                try evaluate(outputs: f, targets: y, batch: data.count, outputs: data.outputSize, cotangent: nil)
            }
        }
    }
}

/// ZnNL's `SimpleTraining` epoch: shuffle the n examples, cut the permutation into ⌊n/b⌋
/// nearly equal batches (`numpy.array_split`: the first n mod ⌊n/b⌋ batches one example
/// larger, so no example is dropped — 314 examples at b = 32 are 8 batches of 35 and one of 34),
/// one optimizer step per batch. `observe` runs before training (epoch 0) and after every
/// epoch, with the number of epochs completed.
struct EpochTraining {
    var epochs: Int
    var batchSize: Int
    var seed: UInt64
    var loss: PaperLoss
    var learningRate: Double

    /// Batch sizes of one epoch over n examples.
    static func batchSizes(examples n: Int, nominal b: Int) -> [Int] {
        let count = max(1, n / b)
        return (0..<count).map { n / count + ($0 < n % count ? 1 : 0) }
    }

    /// Returns the seconds spent training (outside `observe`).
    func run(network: inout Network<Double>, train: Dataset<Double>,
             observe: (_ epoch: Int, _ step: Int, _ lastBatchLoss: Double?, _ network: Network<Double>) throws -> Void) throws -> Double {
        let n = train.count, d = train.inputSize, k = train.outputSize, p = network.parameterCount
        let sizes = Self.batchSizes(examples: n, nominal: batchSize)
        let capacity = sizes.max() ?? 1
        let cache = network.makeForwardCache(capacity: capacity)
        let workspace = network.makeBlockWorkspace(batch: capacity, block: 1)
        var x = [Double](repeating: 0, count: capacity * d)
        var y = [Double](repeating: 0, count: capacity * k)
        var cotangent = [Double](repeating: 0, count: capacity * k)
        var gradient = [Double](repeating: 0, count: p)
        var optimizer = Adam<Double>(learningRate: learningRate)
        var generator = SeededGenerator(seed: seed)
        var order = Array(0..<n)
        var step = 0
        var lastLoss: Double? = nil
        var trainingSeconds = 0.0
        try observe(0, 0, nil, network)
        for epoch in 1...max(epochs, 1) where epochs >= 1 {
            let started = DispatchTime.now().uptimeNanoseconds
            order.shuffle(using: &generator)
            var first = 0
            for b in sizes {
                for r in 0..<b {
                    let e = order[first + r]
                    for j in 0..<d { x[r * d + j] = train.inputs.storage[e * d + j] }
                    for c in 0..<k { y[r * k + c] = train.targets.storage[e * k + c] }
                }
                first += b
                try x.withUnsafeBufferPointer { xp in
                    try network.forward(inputs: UnsafeBufferPointer(rebasing: xp[0..<(b * d)]), batch: b, into: cache)
                }
                let value = try y.withUnsafeBufferPointer { yp in
                    try cotangent.withUnsafeMutableBufferPointer { cp in
                        try loss.evaluate(outputs: cache.outputBuffer, targets: UnsafeBufferPointer(rebasing: yp[0..<(b * k)]),
                                          batch: b, outputs: k, cotangent: UnsafeMutableBufferPointer(rebasing: cp[0..<(b * k)]))
                    }
                }
                guard value.isFinite else { throw PaperError.failed("training diverged at step \(step + 1): loss \(value)") }
                for i in gradient.indices { gradient[i] = 0 }
                try cotangent.withUnsafeBufferPointer { cp in
                    try gradient.withUnsafeMutableBufferPointer { gp in
                        try network.vjp(cache: cache, outputCotangents: cp.baseAddress!, block: 1, workspace: workspace,
                                        parameterCotangents: gp.baseAddress!)
                    }
                }
                try optimizer.step(parameters: &network.parameters, gradient: gradient)
                step += 1
                lastLoss = value
            }
            trainingSeconds += Double(DispatchTime.now().uptimeNanoseconds - started) * 1e-9
            try observe(epoch, step, lastLoss, network)
        }
        return trainingSeconds
    }
}

enum PaperError: Error, CustomStringConvertible {
    case usage(String)
    case failed(String)
    var description: String {
        switch self {
        case let .usage(m): return m
        case let .failed(m): return m
        }
    }
}

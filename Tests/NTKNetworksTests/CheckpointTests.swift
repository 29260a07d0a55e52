import Foundation
import NTKLinearAlgebra
import Testing

@testable import NTKNetworks
import NTKFormats

/// Optimizer state export/restore, `TrainingCheckpoint` serialization and `Trainer` resume:
/// a stopped and resumed run equals an uninterrupted one bit for bit (same single-threaded
/// arithmetic in the same order, so exact equality is the property under test).
@Suite struct CheckpointTests {
    init() throws { try BLASThreads.set(1) }

    static func gradients(count: Int, steps: Int, seed: UInt64) -> [[Double]] {
        var rng = SeededGenerator(seed: seed)
        return (0..<steps).map { _ in [Double].gaussian(count: count, using: &rng) }
    }

    /// Steps `optimizer` through `gradients`, exporting and restoring its state into a fresh
    /// copy (same hyper-parameters) after `stopAt` steps.
    static func run<O: Optimizer<Double>>(_ fresh: O, gradients: [[Double]], stopAt: Int?) throws -> ([Double], O) {
        var theta = [Double](repeating: 0.5, count: gradients[0].count)
        var optimizer = fresh
        for (i, g) in gradients.enumerated() {
            if i == stopAt {
                var restored = fresh
                try restored.restoreState(optimizer.exportState())
                optimizer = restored
            }
            try optimizer.step(parameters: &theta, gradient: g)
        }
        return (theta, optimizer)
    }

    @Test func optimizerStateRestoresBitForBit() throws {
        let g = Self.gradients(count: 7, steps: 9, seed: 3)
        for stop in [0, 1, 4, 8] {
            let sgd = SGD<Double>(learningRate: 0.1, momentum: 0.9, weightDecay: 0.01)
            let (a, oa) = try Self.run(sgd, gradients: g, stopAt: nil)
            let (b, ob) = try Self.run(sgd, gradients: g, stopAt: stop)
            #expect(a == b, "SGD stopped at \(stop)")
            #expect(oa.momentumBuffer == ob.momentumBuffer && oa.stepCount == ob.stepCount)
            let nesterov = SGD<Double>(learningRate: 0.05, momentum: 0.8, nesterov: true)
            #expect(try Self.run(nesterov, gradients: g, stopAt: nil).0 == Self.run(nesterov, gradients: g, stopAt: stop).0)
            let adam = Adam<Double>(learningRate: 0.01, weightDecay: 0.1, decoupledWeightDecay: true)
            let (c, oc) = try Self.run(adam, gradients: g, stopAt: nil)
            let (d, od) = try Self.run(adam, gradients: g, stopAt: stop)
            #expect(c == d, "Adam stopped at \(stop)")
            #expect(oc.firstMoment == od.firstMoment && oc.secondMoment == od.secondMoment && oc.stepCount == od.stepCount)
        }
        // Without the restore, Adam's bias correction restarts: the runs differ (the test can fail).
        var theta = [Double](repeating: 0.5, count: 7), fresh = theta
        var adam = Adam<Double>(learningRate: 0.01), restarted = adam
        for (i, grad) in g.enumerated() {
            try adam.step(parameters: &theta, gradient: grad)
            if i == 4 { restarted = Adam<Double>(learningRate: 0.01) }
            try restarted.step(parameters: &fresh, gradient: grad)
        }
        #expect(theta != fresh)
    }

    @Test func optimizerRestoreRejectsForeignState() throws {
        var sgd = SGD<Double>(learningRate: 0.1, momentum: 0.9)
        var adam = Adam<Double>()
        var theta: [Double] = [1, 1, 1]
        try adam.step(parameters: &theta, gradient: [1, 2, 3])
        #expect(throws: TrainingError.self) { try sgd.restoreState(adam.exportState()) }
        #expect(throws: TrainingError.self) { try adam.restoreState(OptimizerState(arrays: [:], counters: ["step": 2])) }
        #expect(throws: TrainingError.self) {
            try adam.restoreState(OptimizerState(arrays: ["first_moment": [1], "second_moment": [1, 2]], counters: ["step": 1]))
        }
        #expect(sgd.stepCount == 0 && adam.stepCount == 1)
    }

    static func data() -> (Matrix<Double>, Matrix<Double>) {
        var rng = SeededGenerator(seed: 17)
        let n = 23
        let noise = [Double].gaussian(count: 2 * n, using: &rng)
        let x = Matrix<Double>(rows: n, columns: 2) { i, j in (i % 2 == 0 ? -1.5 : 1.5) + noise[2 * i + j] }
        let y = Matrix<Double>(rows: n, columns: 2) { i, c in i % 2 == c ? 1 : 0 }
        return (x, y)
    }

    /// Takes a checkpoint at one step.
    final class Snapshot: TrainingCallback {
        typealias Scalar = Double
        let at: Int, stop: Bool
        var checkpoint: TrainingCheckpoint<Double>?
        var steps: [Int] = []
        init(at: Int, stop: Bool) { self.at = at; self.stop = stop }
        func trainingDidBegin(_ context: TrainingContext<Double>) throws -> TrainingDecision {
            steps.append(context.step)
            return .continue
        }
        func stepDidEnd(_ context: TrainingContext<Double>) throws -> TrainingDecision {
            steps.append(context.step)
            guard context.step == at else { return .continue }
            checkpoint = context.checkpoint()
            return stop ? .stop : .continue
        }
    }

    /// 2 epochs straight vs. a stop after 1.3 epochs (and at epoch boundaries), a round trip of
    /// the checkpoint through safetensors, and a resume: identical θ, optimizer and losses.
    @Test(arguments: [
        (SGDOrAdam.sgd, 7), (.sgd, 5), (.sgd, 10), (.adam, 7), (.adam, 1), (.adam, 15),
    ])
    func resumedRunEqualsUninterruptedRun(kind: SGDOrAdam, stopAt: Int) throws {
        let (x, y) = Self.data()
        let initial: Network<Double> = try .mlp(inputSize: 2, hiddenSizes: [5], outputSize: 2, seed: 3)
        func trainer(epochs: Int) -> Trainer<AnyStepper> {
            Trainer(epochs: epochs, batchSize: 5, seed: 11, loss: .softmaxCrossEntropy, optimizer: kind.optimizer)
        }
        // 23 examples, batch 5: 5 steps per epoch (the last batch has 3 examples).
        var straight = initial
        let full = try trainer(epochs: 3).train(network: &straight, inputs: x, targets: y)

        var first = initial
        let snapshot = Snapshot(at: stopAt, stop: true)
        _ = try trainer(epochs: 3).train(network: &first, inputs: x, targets: y, callbacks: [snapshot])
        let saved = try #require(snapshot.checkpoint)
        #expect(saved.step == stopAt && saved.parameters == first.parameters)
        let reread = try TrainingCheckpoint<Double>(safetensors: Safetensors(data: saved.safetensorsData()))
        #expect(reread == saved)

        var resumed: Network<Double> = try .mlp(inputSize: 2, hiddenSizes: [5], outputSize: 2, seed: 99)
        let observer = Snapshot(at: -1, stop: false)
        let rest = try trainer(epochs: 3).train(network: &resumed, inputs: x, targets: y, callbacks: [observer], resumeFrom: reread)
        #expect(resumed.parameters == straight.parameters)
        #expect(rest.steps == full.steps && rest.examplesSeen == full.examplesSeen)
        #expect(rest.epochLosses == full.epochLosses)
        #expect(rest.stepLosses == Array(full.stepLosses.suffix(full.steps - stopAt)))
        #expect(rest.optimizer.exportState() == full.optimizer.exportState())
        #expect(observer.steps == Array(stopAt...full.steps))
    }

    @Test func checkpointFileIsAtomicAndChecked() throws {
        let (x, y) = Self.data()
        var network: Network<Double> = try .mlp(inputSize: 2, hiddenSizes: [5], outputSize: 2, seed: 3)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ntk-ckpt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("checkpoint.safetensors")
        let writer = try CheckpointWriter<Double>(url: url, every: 3, metadata: ["run": "a"])
        let trainer = Trainer(epochs: 2, batchSize: 5, seed: 11, loss: .softmaxCrossEntropy, optimizer: SGD<Double>(learningRate: 0.1, momentum: 0.9))
        _ = try trainer.train(network: &network, inputs: x, targets: y, callbacks: [writer])
        #expect(writer.lastStep == 10 && writer.written == 4)  // steps 3, 6, 9 and the end
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["checkpoint.safetensors"])
        let checkpoint = try TrainingCheckpoint<Double>(contentsOf: url)
        #expect(checkpoint.step == 10 && checkpoint.epoch == 2 && checkpoint.batchIndex == 0 && checkpoint.metadata["run"] == "a")
        #expect(checkpoint.parameters == network.parameters)
        // A Float network refuses a Double checkpoint; a run with another batch size refuses it too.
        #expect(throws: SafetensorsError.self) { try TrainingCheckpoint<Float>(contentsOf: url) }
        var other = network
        let otherBatch = Trainer(epochs: 4, batchSize: 4, seed: 11, loss: .softmaxCrossEntropy, optimizer: SGD<Double>(learningRate: 0.1, momentum: 0.9))
        #expect(throws: TrainingError.self) { try otherBatch.train(network: &other, inputs: x, targets: y, resumeFrom: checkpoint) }
        let fewerEpochs = Trainer(epochs: 1, batchSize: 5, seed: 11, loss: .softmaxCrossEntropy, optimizer: SGD<Double>(learningRate: 0.1, momentum: 0.9))
        #expect(throws: TrainingError.self) { try fewerEpochs.train(network: &other, inputs: x, targets: y, resumeFrom: checkpoint) }
        // Extending a finished run by an epoch equals running 3 epochs at once.
        var extended = other, straight: Network<Double> = try .mlp(inputSize: 2, hiddenSizes: [5], outputSize: 2, seed: 3)
        var longer = trainer
        longer.epochs = 3
        _ = try longer.train(network: &extended, inputs: x, targets: y, resumeFrom: checkpoint)
        _ = try longer.train(network: &straight, inputs: x, targets: y)
        #expect(extended.parameters == straight.parameters)
    }

    @Test func divergenceIsReported() throws {
        let (x, y) = Self.data()
        var network: Network<Double> = try .mlp(inputSize: 2, hiddenSizes: [5], outputSize: 2, seed: 3)
        var trainer = Trainer(epochs: 20, batchSize: 5, seed: 11, loss: .meanSquaredError(), optimizer: SGD<Double>(learningRate: 50))
        trainer.maxLossGrowth = 1e3
        #expect {
            try trainer.train(network: &network, inputs: x, targets: y)
        } throws: { error in
            guard case .lossGrowth = error as? TrainingError else { return false }
            return "\(error)".contains("training diverged at step")
        }
    }
}

/// SGD or Adam behind one optimizer type, for parameterized tests.
enum SGDOrAdam: Sendable, CustomTestStringConvertible {
    case sgd, adam
    var optimizer: AnyStepper { AnyStepper(kind: self) }
    var testDescription: String { self == .sgd ? "SGD" : "Adam" }
}

struct AnyStepper: Optimizer {
    typealias Scalar = Double
    var sgd = SGD<Double>(learningRate: 0.1, momentum: 0.9, weightDecay: 0.001)
    var adam = Adam<Double>(learningRate: 0.02)
    let kind: SGDOrAdam
    init(kind: SGDOrAdam) { self.kind = kind }
    var learningRate: Double {
        get { kind == .sgd ? sgd.learningRate : adam.learningRate }
        set { if kind == .sgd { sgd.learningRate = newValue } else { adam.learningRate = newValue } }
    }
    var stepCount: Int { kind == .sgd ? sgd.stepCount : adam.stepCount }
    func validate() throws { try kind == .sgd ? sgd.validate() : adam.validate() }
    mutating func step(parameters: inout [Double], gradient: [Double]) throws {
        if kind == .sgd { try sgd.step(parameters: &parameters, gradient: gradient) } else { try adam.step(parameters: &parameters, gradient: gradient) }
    }
    mutating func reset() { sgd.reset(); adam.reset() }
    func exportState() -> OptimizerState<Double> { kind == .sgd ? sgd.exportState() : adam.exportState() }
    mutating func restoreState(_ state: OptimizerState<Double>) throws {
        if kind == .sgd { try sgd.restoreState(state) } else { try adam.restoreState(state) }
    }
}

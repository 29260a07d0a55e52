import Dispatch
import Foundation
import NTKLinearAlgebra
import NTKNetworks

/// An ensemble of networks of one architecture, one per seed, each trained by full-batch
/// gradient descent on the same data: the exact NTK on the training inputs and the
/// predictions on test inputs at initialization and after training, accumulated into
/// `KernelEnsemble`s and `ElementwiseMoments` (nothing per seed is stored).
///
/// The finite-width experiments of Bordelon & Pehlevan (arXiv:2304.03408) are this with the
/// mean-field parameterization, `learningRate` = η₀γ₀²N and `kernelScale` = γ₀²N (the O(1)
/// kernel K̂ of the theory); Hanin & Nica's E[K²]/E[K]² (arXiv:1909.05989) is one input and
/// no training.
///
/// Parallelism: the kernels are tiny (P × P for P ≈ 10–20 inputs) and the networks small, so
/// OpenBLAS's threads only add synchronization; instead `workers` threads each train their
/// share of the seeds (seed k on worker k mod workers) with OpenBLAS pinned to one thread,
/// and the partial ensembles are merged at the end (restoring the thread count). The result
/// does not depend on `workers` beyond round-off of the merge.
/// - Complexity: per seed, `steps` gradient evaluations (≈ 3 forward passes each on the
///   training set) and two exact kernels (`ExactNTK.kernel`, the structured Gram route for
///   dense layers).
public struct NetworkEnsemble: Sendable {
    public var spec: ModelSpec
    public var seeds: [UInt64]
    /// Full-batch gradient-descent steps on L = (1/P) Σ ½(f − y)² (0: initialization only).
    public var steps: Int
    public var learningRate: Double
    /// Multiplies every kernel before its statistics are taken (γ₀²N for the mean-field K̂).
    public var kernelScale: Double
    /// `full` ((P·k)×(P·k)) or `traced` (P×P).
    public var kind: KernelKind
    public var topCount: Int
    /// Worker threads (seeds in parallel, one OpenBLAS thread each); 1 runs serially with the
    /// current OpenBLAS thread count.
    public var workers: Int

    public init(spec: ModelSpec, seeds: [UInt64], steps: Int = 0, learningRate: Double = 0, kernelScale: Double = 1,
                kind: KernelKind = .full, topCount: Int = 3, workers: Int = 2) {
        self.spec = spec
        self.seeds = seeds
        self.steps = steps
        self.learningRate = learningRate
        self.kernelScale = kernelScale
        self.kind = kind
        self.topCount = topCount
        self.workers = workers
    }

    /// Kernel, prediction and loss statistics at one time (initialization or the end).
    public struct Snapshot: Sendable {
        public var kernel: KernelEnsemble
        /// Moments of the test predictions, row-major [test example, output].
        public var predictions: ElementwiseMoments
        /// Moments of the training loss.
        public var loss: RunningMoments

        mutating func merge(_ other: Snapshot) throws {
            try kernel.merge(other.kernel)
            try predictions.merge(other.predictions)
            loss.merge(other.loss)
        }
    }

    public struct Result: Sendable {
        public var initial: Snapshot
        public var final: Snapshot
        public var parameterCount: Int
        public var seconds: Double
        public var workers: Int
    }

    /// Runs the ensemble.
    /// - Throws: `NTKError.invalidOption` for bad settings, `.shapeMismatch` for data that does
    ///   not fit the network, `.nonFinite` when a run diverges (naming the seed and step).
    public func run(inputs: Matrix<Double>, targets: Matrix<Double>, testInputs: Matrix<Double>) throws -> Result {
        guard !seeds.isEmpty else { throw NTKError.invalidOption("seeds", "at least one seed") }
        guard steps >= 0 else { throw NTKError.invalidOption("steps", "≥ 0, got \(steps)") }
        guard learningRate.isFinite, learningRate >= 0 else {
            throw NTKError.invalidOption("learning rate", "a finite value ≥ 0, got \(learningRate)")
        }
        guard kernelScale.isFinite, kernelScale > 0 else {
            throw NTKError.invalidOption("kernel scale", "a finite positive value, got \(kernelScale)")
        }
        guard workers >= 1 else { throw NTKError.invalidOption("workers", "≥ 1, got \(workers)") }
        let probe: Network<Double> = try spec.makeNetwork(Double.self, seed: seeds[0])
        guard inputs.columns == probe.inputSize, testInputs.columns == probe.inputSize else {
            throw NTKError.shapeMismatch(
                "inputs [\(inputs.rows), \(inputs.columns)] and test inputs [\(testInputs.rows), \(testInputs.columns)] for a network of input size \(probe.inputSize)")
        }
        guard targets.rows == inputs.rows, targets.columns == probe.outputCount else {
            throw NTKError.shapeMismatch(
                "targets [\(targets.rows), \(targets.columns)], expected [\(inputs.rows), \(probe.outputCount)]")
        }
        let dimension = kind.dimension(examples: inputs.rows, outputs: probe.outputCount)
        let predictionCount = testInputs.rows * probe.outputCount
        let start = DispatchTime.now().uptimeNanoseconds
        let workerCount = min(workers, seeds.count)
        let slots = WorkerSlots(count: workerCount)
        let body: @Sendable (Int) -> Void = { w in
            do {
                var initial = try Snapshot(
                    kernel: KernelEnsemble(dimension: dimension, topCount: topCount),
                    predictions: ElementwiseMoments(length: predictionCount), loss: RunningMoments())
                var final = initial
                var network = probe
                for k in stride(from: w, to: seeds.count, by: workerCount) {
                    network.initializeParameters(seed: seeds[k])
                    try snapshot(network, inputs: inputs, targets: targets, testInputs: testInputs, into: &initial)
                    try train(&network, seed: seeds[k], inputs: inputs, targets: targets)
                    try snapshot(network, inputs: inputs, targets: targets, testInputs: testInputs, into: &final)
                }
                slots.set(w, .success((initial, final)))
            } catch {
                slots.set(w, .failure(error))
            }
        }
        if workerCount == 1 {
            body(0)
        } else {
            let threads = BLASThreads.count
            try BLASThreads.set(1)
            defer { try? BLASThreads.set(threads) }
            DispatchQueue.concurrentPerform(iterations: workerCount, execute: body)
        }
        var merged: (Snapshot, Snapshot)? = nil
        for w in 0..<workerCount {
            let part = try slots.get(w).get()
            if merged == nil {
                merged = part
            } else {
                try merged!.0.merge(part.0)
                try merged!.1.merge(part.1)
            }
        }
        return Result(initial: merged!.0, final: merged!.1, parameterCount: probe.parameterCount,
                      seconds: Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9, workers: workerCount)
    }

    func snapshot(_ network: Network<Double>, inputs: Matrix<Double>, targets: Matrix<Double>, testInputs: Matrix<Double>,
                  into snapshot: inout Snapshot) throws {
        var (kernel, _) = try ExactNTK(kind: kind).kernel(network: network, inputs: inputs)
        if kernelScale != 1 { for j in kernel.storage.indices { kernel.storage[j] *= kernelScale } }
        try snapshot.kernel.add(kernel)
        try snapshot.predictions.add(network.forward(testInputs).storage)
        let outputs = try network.forward(inputs)
        var loss = 0.0
        for (f, y) in zip(outputs.storage, targets.storage) { loss += 0.5 * (f - y) * (f - y) }
        snapshot.loss.add(loss / Double(inputs.rows))
    }

    func train(_ network: inout Network<Double>, seed: UInt64, inputs: Matrix<Double>, targets: Matrix<Double>) throws {
        let loss = Loss.meanSquaredError(reduction: .halfSquaredNorm)
        for step in 0..<steps {
            let (value, gradient) = try loss.gradient(of: network, inputs: inputs, targets: targets)
            guard value.isFinite else {
                throw NTKError.nonFinite("the training loss of seed \(seed) at step \(step) (learning rate \(learningRate) too large?)")
            }
            let eta = learningRate
            network.parameters.withUnsafeMutableBufferPointer { theta in
                for j in theta.indices { theta[j] -= eta * gradient[j] }
            }
        }
    }
}

/// One result slot per worker, written once by that worker.
private final class WorkerSlots: @unchecked Sendable {
    private let lock = NSLock()
    private var results: [Result<(NetworkEnsemble.Snapshot, NetworkEnsemble.Snapshot), any Error>?]

    init(count: Int) { results = Array(repeating: nil, count: count) }

    func set(_ w: Int, _ value: Result<(NetworkEnsemble.Snapshot, NetworkEnsemble.Snapshot), any Error>) {
        lock.lock(); defer { lock.unlock() }
        results[w] = value
    }

    func get(_ w: Int) throws -> Result<(NetworkEnsemble.Snapshot, NetworkEnsemble.Snapshot), any Error> {
        lock.lock(); defer { lock.unlock() }
        guard let r = results[w] else { throw NTKError.invalidOption("workers", "every worker to finish") }
        return r
    }
}

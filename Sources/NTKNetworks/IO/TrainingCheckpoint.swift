import Foundation
import NTKLinearAlgebra
import NTKFormats

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Everything a `Trainer` run needs to continue exactly where it stopped, as if never
/// interrupted: the position in the run (step, epoch, next batch), the example order and the
/// shuffling generator's state, the partial epoch loss, the loss history, the optimizer's state
/// and θ. `Trainer.train(…, resumeFrom:)` continues from it; a run with the same seed, data
/// and options then produces the same parameters bit for bit.
///
/// The position is normalized: after the last batch of epoch e the checkpoint says epoch e + 1,
/// batch 0 (its shuffle not yet drawn, starting from `order` and `generatorState`).
///
/// Stored as safetensors (`safetensorsData()`, `write(to:)`): θ ("parameters") and the
/// optimizer's buffers ("optimizer.NAME") in the network's precision, the order as I64, and the
/// scalars in `__metadata__` (floating-point values as their bit patterns, so exactly).
public struct TrainingCheckpoint<Scalar: BLASScalar>: Sendable, Equatable {
    /// Optimizer steps completed.
    public var step: Int
    /// Epoch of the next batch (zero-based).
    public var epoch: Int
    /// Index of the next batch within `epoch` (0: the epoch has not started).
    public var batchIndex: Int
    /// The example order of `epoch` when `batchIndex > 0`, else the order its shuffle starts from.
    public var order: [Int]
    /// The shuffling generator's state (after the shuffle of the current epoch when `batchIndex > 0`).
    public var generatorState: [UInt64]
    /// Σ batch loss × batch size over the batches of `epoch` so far, and their example count.
    public var epochLossSum: Double
    public var epochExampleCount: Int
    /// Examples processed so far.
    public var examplesSeen: Int
    /// Mean loss of each completed epoch.
    public var epochLosses: [Double]
    /// Loss of the last batch (nil before the first step).
    public var lastBatchLoss: Double?
    /// Loss of the run's first batch (the reference of `Trainer.maxLossGrowth`).
    public var firstBatchLoss: Double?
    /// θ after `step` updates.
    public var parameters: [Scalar]
    /// The optimizer's state after `step` updates.
    public var optimizer: OptimizerState<Scalar>
    /// The caller's own strings (e.g. a fingerprint of the options a resumed run must match).
    public var metadata: [String: String]

    public init(
        step: Int, epoch: Int, batchIndex: Int, order: [Int], generatorState: [UInt64], epochLossSum: Double,
        epochExampleCount: Int, examplesSeen: Int, epochLosses: [Double], lastBatchLoss: Double?, firstBatchLoss: Double?,
        parameters: [Scalar], optimizer: OptimizerState<Scalar>, metadata: [String: String] = [:]
    ) {
        self.step = step
        self.epoch = epoch
        self.batchIndex = batchIndex
        self.order = order
        self.generatorState = generatorState
        self.epochLossSum = epochLossSum
        self.epochExampleCount = epochExampleCount
        self.examplesSeen = examplesSeen
        self.epochLosses = epochLosses
        self.lastBatchLoss = lastBatchLoss
        self.firstBatchLoss = firstBatchLoss
        self.parameters = parameters
        self.optimizer = optimizer
        self.metadata = metadata
    }

    static var format: String { "ntk-spectra-training-checkpoint-1" }
    static var dtype: Safetensors.DType { Scalar.self == Float.self ? .f32 : .f64 }

    // MARK: Serialization

    /// The checkpoint as safetensors bytes.
    public func safetensorsData() throws -> Data {
        func bytes(_ values: [Scalar]) -> Data {
            var data = Data(capacity: values.count * Self.dtype.size)
            for v in values {
                if Self.dtype == .f32 {
                    withUnsafeBytes(of: Float(v).bitPattern.littleEndian) { data.append(contentsOf: $0) }
                } else {
                    withUnsafeBytes(of: Double(v).bitPattern.littleEndian) { data.append(contentsOf: $0) }
                }
            }
            return data
        }
        var orderBytes = Data(capacity: 8 * order.count)
        for i in order { withUnsafeBytes(of: Int64(i).littleEndian) { orderBytes.append(contentsOf: $0) } }
        var tensors: [(name: String, dtype: String, shape: [Int], bytes: Data)] = [
            ("parameters", Self.dtype.rawValue, [parameters.count], bytes(parameters)),
            ("order", "I64", [order.count], orderBytes),
        ]
        for (name, values) in optimizer.arrays {
            tensors.append(("optimizer.\(name)", Self.dtype.rawValue, [values.count], bytes(values)))
        }
        func bits(_ x: Double) -> String { String(x.bitPattern, radix: 16) }
        var meta: [String: String] = [
            "format": Self.format, "step": "\(step)", "epoch": "\(epoch)", "batch_index": "\(batchIndex)",
            "generator_state": generatorState.map { String($0, radix: 16) }.joined(separator: ","),
            "epoch_loss_sum": bits(epochLossSum), "epoch_example_count": "\(epochExampleCount)",
            "examples_seen": "\(examplesSeen)", "epoch_losses": epochLosses.map(bits).joined(separator: ","),
            "last_batch_loss": lastBatchLoss.map(bits) ?? "", "first_batch_loss": firstBatchLoss.map(bits) ?? "",
            // Readable copies for people (not read back).
            "loss": lastBatchLoss.map { "\($0)" } ?? "",
        ]
        for (name, value) in optimizer.counters { meta["optimizer.counter.\(name)"] = "\(value)" }
        for (key, value) in metadata { meta["user.\(key)"] = value }
        return try Safetensors.encode(raw: tensors, metadata: meta)
    }

    /// Reads a checkpoint written by `safetensorsData()`.
    /// - Throws: `SafetensorsError` for a malformed file or a missing or invalid field (named).
    public init(safetensors file: Safetensors) throws(SafetensorsError) {
        let meta = file.metadata
        func field(_ name: String) throws(SafetensorsError) -> String {
            guard let value = meta[name] else { throw .corruptHeader("checkpoint field \(name) is missing from __metadata__") }
            return value
        }
        func int(_ name: String) throws(SafetensorsError) -> Int {
            guard let value = Int(try field(name)), value >= 0 else {
                throw .corruptHeader("checkpoint field \(name) = \(meta[name] ?? "") is not a count")
            }
            return value
        }
        func double(_ text: Substring, _ name: String) throws(SafetensorsError) -> Double {
            guard let bits = UInt64(text, radix: 16) else { throw .corruptHeader("checkpoint field \(name) = \(text) is not a bit pattern") }
            return Double(bitPattern: bits)
        }
        func optionalDouble(_ name: String) throws(SafetensorsError) -> Double? {
            let text = try field(name)
            return text.isEmpty ? nil : try double(Substring(text), name)
        }
        guard meta["format"] == Self.format else {
            throw .corruptHeader("not a training checkpoint (format \(meta["format"].map { "'\($0)'" } ?? "missing"), expected '\(Self.format)')")
        }
        guard file.entries["parameters"]?.dtype == Self.dtype.rawValue else {
            throw .unsupportedDType(name: "parameters", dtype: "\(file.entries["parameters"]?.dtype ?? "none") (expected \(Self.dtype.rawValue) for this network)")
        }
        step = try int("step")
        epoch = try int("epoch")
        batchIndex = try int("batch_index")
        let words = try field("generator_state").split(separator: ",").map { UInt64($0, radix: 16) }
        guard words.count == 4, words.allSatisfy({ $0 != nil }), SeededGenerator(state: words.map { $0! }) != nil else {
            throw .corruptHeader("checkpoint field generator_state is not four hexadecimal words")
        }
        generatorState = words.map { $0! }
        epochLossSum = try double(Substring(try field("epoch_loss_sum")), "epoch_loss_sum")
        epochExampleCount = try int("epoch_example_count")
        examplesSeen = try int("examples_seen")
        var losses: [Double] = []
        for text in try field("epoch_losses").split(separator: ",") { losses.append(try double(text, "epoch_losses")) }
        epochLosses = losses
        lastBatchLoss = try optionalDouble("last_batch_loss")
        firstBatchLoss = try optionalDouble("first_batch_loss")
        parameters = try file.values("parameters")
        order = try file.integerValues("order")
        var arrays: [String: [Scalar]] = [:]
        for name in file.entries.keys where name.hasPrefix("optimizer.") {
            arrays[String(name.dropFirst("optimizer.".count))] = try file.values(name)
        }
        var counters: [String: Int] = [:]
        for (key, _) in meta where key.hasPrefix("optimizer.counter.") {
            counters[String(key.dropFirst("optimizer.counter.".count))] = try int(key)
        }
        optimizer = OptimizerState(arrays: arrays, counters: counters)
        var user: [String: String] = [:]
        for (key, value) in meta where key.hasPrefix("user.") { user[String(key.dropFirst(5))] = value }
        metadata = user
        for name in file.entries.keys where name != "parameters" && name != "order" && !name.hasPrefix("optimizer.") {
            throw .unexpectedTensor(name: name)
        }
    }

    /// Reads a checkpoint file.
    public init(contentsOf url: URL) throws(SafetensorsError) {
        try self.init(safetensors: Safetensors(contentsOf: url))
    }

    /// Writes the checkpoint to `url` atomically: a temporary file in the same directory,
    /// fsynced, then renamed over `url` (and the directory fsynced), so a process killed at any
    /// moment leaves either the previous checkpoint or this one, never a partial file.
    public func write(to url: URL) throws {
        try Self.writeAtomically(try safetensorsData(), to: url)
    }

    /// Temp file, write, fsync, rename, fsync the directory (`AtomicFile.write`).
    public static func writeAtomically(_ data: Data, to url: URL) throws {
        try AtomicFile.write(data, to: url)
    }
}

/// A training callback that saves the run's `TrainingCheckpoint` every `every` steps and at
/// the end (also after a stop request), atomically (see `TrainingCheckpoint.write(to:)`).
/// Place it before callbacks that record per-step output (a monitor), so every record on disk
/// has a checkpoint at or after its step.
public final class CheckpointWriter<Scalar: BLASScalar>: TrainingCallback, @unchecked Sendable {
    public let url: URL
    public let every: Int
    /// Written into every checkpoint's `metadata`.
    public let metadata: [String: String]
    /// Step of the last checkpoint written (nil before the first).
    public private(set) var lastStep: Int?
    /// Checkpoints written and the seconds spent writing them.
    public private(set) var written = 0
    public private(set) var seconds = 0.0

    public init(url: URL, every: Int, metadata: [String: String] = [:]) throws {
        guard every >= 1 else {
            throw TrainingError.invalidOption(name: "checkpoint every", value: "\(every)", expected: "a positive number of steps")
        }
        self.url = url
        self.every = every
        self.metadata = metadata
    }

    public func stepDidEnd(_ context: TrainingContext<Scalar>) throws -> TrainingDecision {
        if context.step % every == 0 { try save(context) }
        return .continue
    }

    public func trainingDidEnd(_ context: TrainingContext<Scalar>) throws {
        if lastStep != context.step { try save(context) }
    }

    func save(_ context: TrainingContext<Scalar>) throws {
        guard var checkpoint = context.checkpoint() else { return }
        let start = DispatchTime.now().uptimeNanoseconds
        checkpoint.metadata.merge(metadata) { _, new in new }
        try checkpoint.write(to: url)
        lastStep = context.step
        written += 1
        seconds += Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
    }
}

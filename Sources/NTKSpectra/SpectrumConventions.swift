import Foundation
import NTKEstimation
import NTKLinearAlgebra
import NTKNetworks

/// The conventions of the collective-variables reference code (ZnNL / papyrus), each an
/// option for both the exact and the matrix-free path:
/// - `outputReduction`: the traced kernel summed over outputs (Σ_c K_cc) or averaged (÷ k,
///   the pre-2024 reference code); the entropy is scale-invariant, the trace is not.
/// - `normalization`: the raw kernel, or the cosine-normalized kernel K_ij/√(K_ii K_jj)
///   (its trace is the number of nonzero diagonal entries).
/// Trace per matrix size (`trace_mean_diagonal`) and entropy ÷ ln N (`entropy_normalized`)
/// are always reported beside the raw values.
public struct SpectrumConventions: Sendable, Hashable {
    public enum OutputReduction: String, Sendable, CaseIterable { case sum, average }
    public enum Normalization: String, Sendable, CaseIterable { case none, cosine }

    public var outputReduction: OutputReduction = .sum
    public var normalization: Normalization = .none

    public init(outputReduction: OutputReduction = .sum, normalization: Normalization = .none) {
        self.outputReduction = outputReduction
        self.normalization = normalization
    }

    public var isDefault: Bool { outputReduction == .sum && normalization == .none }

    /// The scale applied to the kernel: 1/k for an output-averaged traced kernel.
    func scale(kind: KernelKind, outputs: Int) -> Double {
        kind == .traced && outputReduction == .average ? 1 / Double(outputs) : 1
    }

    /// Applies the conventions to a dense kernel with its exact diagonal.
    public func apply(to kernel: inout Matrix<Double>, kind: KernelKind, outputs: Int) {
        let c = scale(kind: kind, outputs: outputs)
        let n = kernel.rows
        if normalization == .cosine {
            let d = (0..<n).map { kernel[$0, $0] > 0 ? 1 / kernel[$0, $0].squareRoot() : 0 }
            for i in 0..<n { for j in 0..<n { kernel[i, j] *= d[i] * d[j] } }
        } else if c != 1 {
            for i in kernel.storage.indices { kernel.storage[i] *= c }
        }
    }
}

/// K̃ = c·D^{-1/2} K D^{-1/2} (cosine) or c·K, matrix-free, from the exact diagonal of K.
public final class ConventionOperator: SymmetricOperator, @unchecked Sendable {
    public let base: any NTKKernelOperator
    let rowScale: [Double]
    public var dimension: Int { base.dimension }
    /// Trace of the transformed kernel, exact.
    public let trace: Double

    public init(_ base: any NTKKernelOperator, conventions: SpectrumConventions, kind: KernelKind, outputs: Int) throws {
        self.base = base
        let diagonal = try base.exactDiagonal()
        let c = conventions.scale(kind: kind, outputs: outputs)
        switch conventions.normalization {
        case .none:
            rowScale = Array(repeating: c.squareRoot(), count: diagonal.count)
            trace = c * diagonal.reduce(0, +)
        case .cosine:
            rowScale = diagonal.map { $0 > 0 ? 1 / $0.squareRoot() : 0 }
            trace = Double(diagonal.filter { $0 > 0 }.count)
        }
    }

    public func apply(_ input: Matrix<Double>, into output: inout Matrix<Double>) throws {
        var scaled = input
        let n = dimension
        for t in 0..<input.rows { for j in 0..<n { scaled.storage[t * n + j] *= rowScale[j] } }
        try base.apply(scaled, into: &output)
        for t in 0..<input.rows { for j in 0..<n { output.storage[t * n + j] *= rowScale[j] } }
    }
}

/// The approximation of the collective-variables paper: the exact entropy and trace of the
/// kernels of many random blocks of m examples, averaged (e.g. 200 blocks of 20 points),
/// with the standard error over blocks.
public struct BlockSubsampledSpectrum: Sendable {
    public var blocks: Int
    public var blockSize: Int
    public var seed: UInt64
    public var kind: KernelKind
    public var conventions: SpectrumConventions

    public init(blocks: Int = 200, blockSize: Int = 20, seed: UInt64 = 0, kind: KernelKind = .full,
                conventions: SpectrumConventions = .init()) {
        self.blocks = blocks; self.blockSize = blockSize; self.seed = seed; self.kind = kind
        self.conventions = conventions
    }

    /// Mean entropy and trace over the blocks, with standard errors.
    public func estimate(network: Network<Double>, inputs: Matrix<Double>) throws
        -> (entropy: MonteCarloEstimate, trace: MonteCarloEstimate, seconds: Double)
    {
        guard blocks >= 2 else { throw NTKError.invalidOption("blocks", "at least 2 blocks, got \(blocks)") }
        guard blockSize >= 1, blockSize <= inputs.rows else {
            throw NTKError.invalidOption("block size", "between 1 and the \(inputs.rows) inputs, got \(blockSize)")
        }
        let start = DispatchTime.now().uptimeNanoseconds
        var generator = SeededGenerator(seed: seed)
        var entropies: [Double] = [], traces: [Double] = []
        let exact = ExactNTK(kind: kind, conventions: conventions)
        for _ in 0..<blocks {
            // m distinct examples (partial Fisher–Yates).
            var order = Array(0..<inputs.rows)
            for i in 0..<blockSize {
                let j = i + Int(generator.next() % UInt64(inputs.rows - i))
                order.swapAt(i, j)
            }
            let rows = order.prefix(blockSize).flatMap { inputs.row($0) }
            let block = try Matrix(rows: blockSize, columns: inputs.columns, storage: rows)
            let s = try exact.spectrum(network: network, inputs: block).statistics
            entropies.append(s.entropy)
            traces.append(s.trace)
        }
        let e = try MonteCarloEstimate.fromSamples(entropies, confidenceLevel: 0.95)
        let t = try MonteCarloEstimate.fromSamples(traces, confidenceLevel: 0.95)
        return (e, t, Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
    }
}

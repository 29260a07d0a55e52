import Foundation
import NTKLinearAlgebra
import NTKNetworks

/// The exact (dense) NTK and its spectrum, in Double — the validation path.
///
/// Two routes, chosen by cost:
/// - **kernel columns** (default): K E for identity blocks E aligned with examples, through the
///   matrix-free operator (pass 1 touches only the batch that holds the block's examples, so
///   it materializes those rows of J; pass 2 applies J). Memory O(N²) for the kernel.
///   - Complexity: ≈ N/s block products, ≈ 2·n·N·(P-linear work) flops.
/// - **Jacobian** (when P < N and N·P doubles fit the budget): J from P identity tangents
///   (JVPs), then the smaller Gram side JᵀJ (P×P), which has the same nonzero spectrum.
///
/// Then LAPACK `dsyevd` (`dsyevd_2stage` for large kernels, see `SymmetricEigen`). Conventions:
/// see `SpectrumStatistics` (negatives from round-off clipped to 0, p_i = λ_i/Σλ, natural log).
public struct ExactNTK: Sendable {
    public enum Route: String, Sendable, Codable { case structuredGram = "structured_gram", kernelColumns = "kernel_columns", jacobian }

    /// Which kernel, the batch size for streaming, and the memory the dense objects may use.
    public var kind: KernelKind
    public var batchSize: Int
    public var memoryBudgetBytes: Int
    /// Output averaging and cosine normalization of the reference code (default: raw kernel).
    public var conventions: SpectrumConventions

    public init(kind: KernelKind = .full, batchSize: Int = 256, memoryBudgetBytes: Int = 8 << 30,
                conventions: SpectrumConventions = .init()) {
        self.kind = kind
        self.batchSize = batchSize
        self.memoryBudgetBytes = memoryBudgetBytes
        self.conventions = conventions
    }

    /// The result: eigenvalues (ascending, padded with zeros to the kernel's dimension when
    /// the Gram side was smaller), their statistics, the route and the cost.
    public struct Result: Sendable {
        public var eigenvalues: [Double]
        public var statistics: SpectrumStatistics
        public var route: Route
        public var cost: NTKCost
        /// The kernel itself, when it was formed (kernel-columns route).
        public var kernel: Matrix<Double>?
        /// Seconds spent on the eigensolver (the rest of `cost.seconds` built the kernel or
        /// the Jacobian) and the LAPACK routine that ran.
        public var eigensolverSeconds: Double = 0
        public var eigensolver: String = ""
    }

    /// The dense kernel N×N: by per-layer Gram products (`StructuredExactNTK`) when every
    /// parameterized layer is dense or convolutional, else through identity blocks of the
    /// (structured when it fits, else JVP∘VJP) operator.
    public func kernel(network: Network<Double>, inputs: Matrix<Double>) throws -> (Matrix<Double>, NTKCost) {
        if (try? StructuredExactNTK.checkSupported(network)) != nil {
            let dimension = kind.dimension(examples: inputs.rows, outputs: network.outputCount)
            try checkBudget(rows: dimension, columns: dimension, what: "the dense \(dimension)×\(dimension) kernel")
            let start = DispatchTime.now().uptimeNanoseconds
            let k = try StructuredExactNTK(batchSize: batchSize, memoryBudgetBytes: memoryBudgetBytes)
                .kernel(network: network, inputs: inputs, kind: kind)
            var cost = NTKCost()
            cost.seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
            cost.dataPasses = 1
            return (k, cost)
        }
        return try kernelColumns(network: network, inputs: inputs)
    }

    /// The dense kernel with the conventions applied (output averaging, cosine normalization):
    /// the matrix whose spectrum `spectrum` reports.
    public func conventionalKernel(network: Network<Double>, inputs: Matrix<Double>) throws -> (Matrix<Double>, NTKCost) {
        var (k, cost) = try kernel(network: network, inputs: inputs)
        conventions.apply(to: &k, kind: kind, outputs: network.outputCount)
        return (k, cost)
    }

    /// The dense kernel through identity blocks of the matrix-free operator (`preference`
    /// selects the structured or the JVP∘VJP product).
    public func kernelColumns(
        network: Network<Double>, inputs: Matrix<Double>, preference: NTKOperatorChoice = .structured
    ) throws -> (Matrix<Double>, NTKCost) {
        let n = kind.dimension(examples: inputs.rows, outputs: network.outputCount)
        try checkBudget(rows: n, columns: n, what: "the dense \(n)×\(n) kernel")
        let op = try NTKOperatorChoice.makeOperator(
            network: network, inputs: inputs, kind: kind, batchSize: batchSize, preference: preference).kernel
        var k = Matrix<Double>(rows: n, columns: n)
        // Blocks of whole examples, at most one batch, so only one batch has nonzero cotangents.
        let perExample = kind == .full ? network.outputCount : 1
        let examplesPerBlock = max(1, min(batchSize, 64 / max(1, perExample)))
        var firstExample = 0
        while firstExample < inputs.rows {
            // Keep the block inside one batch.
            let batchEnd = (firstExample / min(batchSize, inputs.rows) + 1) * min(batchSize, inputs.rows)
            let count = min(examplesPerBlock, inputs.rows - firstExample, batchEnd - firstExample)
            let s = count * perExample, first = firstExample * perExample
            var e = Matrix<Double>(rows: s, columns: n)
            for t in 0..<s { e[t, first + t] = 1 }
            var columns = Matrix<Double>(rows: s, columns: n)
            try op.apply(e, into: &columns)
            // Row t of `columns` is K e_{first+t} = column (and by symmetry row) first+t of K.
            for t in 0..<s {
                for j in 0..<n { k[first + t, j] = columns[t, j] }
            }
            firstExample += count
        }
        // Symmetrize round-off.
        for i in 0..<n {
            for j in (i + 1)..<n {
                let m = 0.5 * (k[i, j] + k[j, i])
                k[i, j] = m; k[j, i] = m
            }
        }
        return (k, op.cost)
    }

    /// Throws `NTKError.tooLarge` unless a rows × columns Double matrix fits the budget.
    func checkBudget(rows: Int, columns: Int, what: String) throws {
        let elements = rows.multipliedReportingOverflow(by: columns)
        let bytes = elements.partialValue.multipliedReportingOverflow(by: MemoryLayout<Double>.stride)
        guard !elements.overflow, !bytes.overflow, bytes.partialValue <= memoryBudgetBytes else {
            throw NTKError.tooLarge(what, needed: elements.overflow || bytes.overflow ? .max : bytes.partialValue,
                                    budget: memoryBudgetBytes)
        }
    }

    /// The Jacobian J (N_full × P, rows (i, c) sample-major) from P identity tangents.
    public func jacobian(network: Network<Double>, inputs: Matrix<Double>) throws -> (Matrix<Double>, NTKCost) {
        try KernelBlockLayout.checkHasParameters(network)
        let n = inputs.rows, kOut = network.outputCount, p = network.parameterCount
        try checkBudget(rows: n * kOut, columns: p, what: "the \(n * kOut)×\(p) Jacobian")
        var cost = NTKCost()
        let start = DispatchTime.now().uptimeNanoseconds
        var j = Matrix<Double>(rows: n * kOut, columns: p)
        let block = min(64, p)
        let batch = min(batchSize, n)
        var tangents = [Double](repeating: 0, count: block * p)
        var out = [Double](repeating: 0, count: batch * block * kOut)
        let ws = network.makeBlockWorkspace(batch: batch, block: block)
        var b0 = 0
        while b0 < n {
            let count = min(batch, n - b0)
            let cache = try inputs.storage.withUnsafeBufferPointer { ip in
                try network.forwardCache(
                    inputs: UnsafeBufferPointer(rebasing: ip[(b0 * inputs.columns)..<((b0 + count) * inputs.columns)]),
                    batch: count)
            }
            cost.forwardCalls += 1
            var p0 = 0
            while p0 < p {
                let s = min(block, p - p0)
                for i in 0..<(s * p) { tangents[i] = 0 }
                for t in 0..<s { tangents[t * p + p0 + t] = 1 }
                try tangents.withUnsafeBufferPointer { tp in
                    try out.withUnsafeMutableBufferPointer { op in
                        try network.jvp(cache: cache, parameterTangents: tp.baseAddress!, block: s, workspace: ws,
                                        outputTangents: op.baseAddress!)
                    }
                }
                cost.jvpCalls += 1
                for i in 0..<count {
                    for t in 0..<s {
                        for c in 0..<kOut { j[(b0 + i) * kOut + c, p0 + t] = out[(i * s + t) * kOut + c] }
                    }
                }
                p0 += s
            }
            b0 += count
        }
        cost.dataPasses = (p + block - 1) / block
        cost.seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        return (j, cost)
    }

    /// The exact result from a kernel already formed with the conventions applied (its storage
    /// is overwritten by the eigensolver); `cost` is what forming it took, `started` when that began.
    public static func spectrum(destroying kernel: inout Matrix<Double>, route: Route, cost: NTKCost,
                                started: UInt64) throws -> Result {
        let eigenStart = DispatchTime.now().uptimeNanoseconds
        let eigen = try SymmetricEigen(destroying: &kernel)
        let end = DispatchTime.now().uptimeNanoseconds
        var cost = cost
        cost.seconds = Double(end - started) * 1e-9
        return Result(eigenvalues: eigen.values, statistics: SpectrumStatistics(eigenvalues: eigen.values), route: route,
                      cost: cost, kernel: nil, eigensolverSeconds: Double(end - eigenStart) * 1e-9,
                      eigensolver: eigen.routine)
    }

    /// The route `kernel(network:inputs:)` takes for `network`.
    public static func kernelRoute(_ network: Network<Double>) -> Route {
        (try? StructuredExactNTK.checkSupported(network)) != nil ? .structuredGram : .kernelColumns
    }

    /// Exact spectrum and statistics of the NTK of `network` over `inputs`.
    public func spectrum(network: Network<Double>, inputs: Matrix<Double>, keepKernel: Bool = false) throws -> Result {
        try KernelBlockLayout.checkHasParameters(network)
        let start = DispatchTime.now().uptimeNanoseconds
        let n = inputs.rows, kOut = network.outputCount, p = network.parameterCount
        let dim = kind.dimension(examples: n, outputs: kOut)
        let jacobianBytes = (n * kOut).multipliedReportingOverflow(by: p * 8)
        let useJacobian = kind == .full && p < dim && !jacobianBytes.overflow
            && jacobianBytes.partialValue + p * p * 8 <= memoryBudgetBytes && !keepKernel && conventions.isDefault
        var eigenvalues: [Double]
        var cost: NTKCost
        var kernel: Matrix<Double>? = nil
        var eigenStart: UInt64 = 0
        var routine = ""
        if useJacobian {
            let (j, c) = try jacobian(network: network, inputs: inputs)
            cost = c
            var gram = Matrix<Double>(rows: p, columns: p)
            try j.storage.withUnsafeBufferPointer { jp in
                try gram.storage.withUnsafeMutableBufferPointer { gp in
                    try Double.syrk(.transpose, n: p, k: dim, alpha: 1, a: jp.baseAddress!, lda: p, beta: 0,
                                    c: gp.baseAddress!, ldc: p)
                }
            }
            eigenStart = DispatchTime.now().uptimeNanoseconds
            let eigen = try SymmetricEigen(destroying: &gram)
            routine = eigen.routine
            eigenvalues = eigen.values
            eigenvalues = [Double](repeating: 0, count: dim - p) + eigenvalues
        } else {
            var (k, c) = try conventionalKernel(network: network, inputs: inputs)
            cost = c
            eigenStart = DispatchTime.now().uptimeNanoseconds
            let eigen: SymmetricEigen
            if keepKernel {
                kernel = k
                eigen = try SymmetricEigen(k)
            } else {
                eigen = try SymmetricEigen(destroying: &k)   // no 8·N² byte working copy
            }
            routine = eigen.routine
            eigenvalues = eigen.values
        }
        let end = DispatchTime.now().uptimeNanoseconds
        cost.seconds = Double(end - start) * 1e-9
        return Result(eigenvalues: eigenvalues, statistics: SpectrumStatistics(eigenvalues: eigenvalues),
                      route: useJacobian ? .jacobian : Self.kernelRoute(network),
                      cost: cost, kernel: kernel, eigensolverSeconds: Double(end - eigenStart) * 1e-9,
                      eigensolver: routine)
    }
}

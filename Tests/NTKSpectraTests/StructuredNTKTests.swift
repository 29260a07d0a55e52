import Foundation
import NTKLinearAlgebra
import NTKNetworks
import Testing
@testable import NTKSpectra

/// The structured operator (cached backprop signals, per-layer parameter-only passes) against
/// the JVP-materialized kernel and against `EmpiricalNTK`, for every model family.
@Suite("StructuredNTK operator")
struct StructuredNTKTests {
    init() throws { try BLASThreads.set(1) }

    static let models: [(String, ModelSpec)] = [
        ("mlp", .mlp(inputSize: 5, hiddenSizes: [7, 6], outputSize: 3, activation: .tanh)),
        ("mlp-ntk", .mlp(inputSize: 4, hiddenSizes: [6], outputSize: 2, activation: .relu,
                         parameterization: .ntk(weightScale: 1.5, biasScale: 0.3))),
        ("cnn", .cnn(inputShape: [1, 4, 4], channels: [2], outputSize: 2, activation: .tanh)),
        ("resnet", .resnet(inputShape: [1, 4, 4], width: 2, blocks: 1, outputSize: 2, activation: .tanh)),
        ("autoencoder", .autoencoder(inputSize: 4, encoderSizes: [3], bottleneck: 2)),
        // Token-wise Linear over [R, in] (R = 3), LayerNorm, then a flat head.
        ("tokens", ModelSpec(inputShape: [3, 4], layers: [
            .linear(inFeatures: 4, outFeatures: 5), .activation(.tanh), .layerNorm(normalizedShape: [5]),
            .flatten, .linear(inFeatures: 15, outFeatures: 2),
        ])),
        // Strided convolution without bias, NTK parameterization: 2×5×5 → 3×3×3.
        ("cnn-strided", ModelSpec(inputShape: [2, 5, 5], layers: [
            .conv2d(inChannels: 2, outChannels: 3, kernelSize: 3, stride: 2, padding: 1, bias: false),
            .activation(.tanh), .flatten, .linear(inFeatures: 27, outFeatures: 2),
        ], parameterization: .ntk(weightScale: 1.2, biasScale: 0.5))),
        ("mlp-nobias", .mlp(inputSize: 3, hiddenSizes: [4], outputSize: 2, activation: .tanh, bias: false)),
    ] + SequenceAndGraphModels.all   // 8, 9: transformer (plain, causal); 10, 11: GCN (node-, graph-level); 12, 13: layer graphs

    static func randomBlock(_ s: Int, _ dim: Int, seed: UInt64) throws -> Matrix<Double> {
        var g = SeededGenerator(seed: seed)
        return try Matrix(rows: s, columns: dim, storage: [Double].gaussian(count: s * dim, using: &g))
    }

    /// A budget that holds every batch's signals and one forward cache but not all forward caches.
    static func recomputeBudget<T: BLASScalar>(_ net: Network<T>, n: Int, batch: Int) -> Int {
        let plan = StructuredCachePlan(network: net, examples: n, batchSize: batch, budgetBytes: 0)
        return plan.signalBytes + plan.batchForwardBytes
    }

    @Test(arguments: [KernelKind.full, .traced], 0..<14)
    func blockProductEqualsMaterializedKernelAndEmpiricalNTK(kind: KernelKind, which: Int) throws {
        let net: Network<Double> = try Self.models[which].1.makeNetwork(seed: 3)
        let n = 11, batch = 4   // batches 4, 4, 3
        let x: Matrix<Double> = try EmpiricalNTKTests.inputs(n, net.inputSize)
        let reference = try EmpiricalNTKTests.referenceKernel(net, x, kind)
        let dim = reference.rows
        let empirical = try EmpiricalNTK(network: net, inputs: x, kind: kind, batchSize: batch)
        let tolerance = 1e-13 * Double(dim)
        let recompute = Self.recomputeBudget(net, n: n, batch: batch)
        for (budget, storage) in [(1 << 30, StructuredCachePlan.Storage.cacheAll), (recompute, .recomputeForward),
                                  (0, .fallbackJVPVJP)] {
            let op = try StructuredNTK(network: net, inputs: x, kind: kind, batchSize: batch, cacheBudgetBytes: budget)
            #expect(op.plan.storage == storage, "\(Self.models[which].0): \(op.plan.reason)")
            #expect(op.dimension == dim)
            for s in [1, 3] {
                let v = try Self.randomBlock(s, dim, seed: UInt64(10 + s))
                var u = Matrix<Double>(rows: s, columns: dim), ue = u
                try op.apply(v, into: &u)
                try empirical.apply(v, into: &ue)
                let expected = try v.multiplied(by: reference)
                #expect(EmpiricalNTKTests.maxRelativeError(u, expected) <= tolerance, "\(Self.models[which].0) s=\(s)")
                #expect(EmpiricalNTKTests.maxRelativeError(u, ue) <= tolerance, "\(Self.models[which].0) s=\(s)")
                #expect(EmpiricalNTKTests.maxRelativeError(ue, expected) <= tolerance, "\(Self.models[which].0) s=\(s)")
            }
            #expect(op.cost.matvecs == 4 && op.cost.blockApplications == 2)
        }
    }

    @Test(arguments: [KernelKind.full, .traced], 0..<14)
    func freeDiagonalEqualsPerExampleGradientNorms(kind: KernelKind, which: Int) throws {
        let net: Network<Double> = try Self.models[which].1.makeNetwork(seed: 4)
        let n = 9
        let x: Matrix<Double> = try EmpiricalNTKTests.inputs(n, net.inputSize, seed: 6)
        let expected = try EmpiricalNTK(network: net, inputs: x, kind: kind, batchSize: 4).exactDiagonal()
        let reference = try EmpiricalNTKTests.referenceKernel(net, x, kind)
        for budget in [1 << 30, Self.recomputeBudget(net, n: n, batch: 4)] {
            let op = try StructuredNTK(network: net, inputs: x, kind: kind, batchSize: 4, cacheBudgetBytes: budget)
            let diagonal = try op.exactDiagonal()
            #expect(diagonal.count == reference.rows)
            for i in 0..<diagonal.count {
                let scale = Double(reference.rows) * 1e-13 * max(reference[i, i], 1e-300)
                #expect(abs(diagonal[i] - expected[i]) <= scale, "\(Self.models[which].0) entry \(i)")
                #expect(abs(diagonal[i] - reference[i, i]) <= scale, "\(Self.models[which].0) entry \(i)")
            }
            #expect(abs(try op.exactTrace() - reference.trace) <= 1e-12 * reference.trace)
        }
    }

    /// A 2-block transformer has more than `maximumVJPRouteLayers` layers without a per-example
    /// rule (positional embedding, two encoder blocks): its diagonal comes from chunked full VJPs.
    @Test(arguments: [KernelKind.full, .traced])
    func chunkedDiagonalForManyLayersWithoutARule(kind: KernelKind) throws {
        let net = try Network<Double>.transformerEncoder(
            sequenceLength: 3, tokenFeatures: 2, embedDimension: 4, headCount: 2, feedForwardDimension: 5, blockCount: 2,
            outputSize: 2, seed: 3)
        let x: Matrix<Double> = try EmpiricalNTKTests.inputs(7, net.inputSize, seed: 8)
        let reference = try EmpiricalNTKTests.referenceKernel(net, x, kind)
        let op = try StructuredNTK(network: net, inputs: x, kind: kind, batchSize: 4)
        #expect(op.layerIndices.filter { net.weightLinear($0) == nil }.count > StructuredNTK<Double>.maximumVJPRouteLayers)
        let diagonal = try op.exactDiagonal()
        #expect(diagonal.count == reference.rows)
        for i in 0..<diagonal.count {
            #expect(abs(diagonal[i] - reference[i, i]) <= Double(reference.rows) * 1e-13 * max(reference[i, i], 1e-300), "entry \(i)")
        }
        #expect(op.cost.vjpCalls >= 1 && op.cost.dataPasses >= 1)
    }

    @Test(arguments: [KernelKind.full, .traced], [0, 1, 2, 4, 6, 7, 12])
    func structuredExactKernelEqualsExactNTK(kind: KernelKind, which: Int) throws {
        let net: Network<Double> = try Self.models[which].1.makeNetwork(seed: 5)
        let x: Matrix<Double> = try EmpiricalNTKTests.inputs(10, net.inputSize, seed: 7)
        let (expected, _) = try ExactNTK(kind: kind, batchSize: 4).kernelColumns(network: net, inputs: x, preference: .jvpVJP)
        // Panels of 7 rows (ragged, smaller than N) and the default (one panel here) must agree.
        for panelRows in [7, 512] {
            let kernel = try StructuredExactNTK(batchSize: 4, panelRows: panelRows).kernel(network: net, inputs: x, kind: kind)
            #expect(kernel.rows == expected.rows && kernel.columns == expected.columns)
            #expect(EmpiricalNTKTests.maxRelativeError(kernel, expected) <= 1e-13 * Double(expected.rows),
                    "\(Self.models[which].0), panels of \(panelRows)")
            for i in 0..<kernel.rows {
                for j in 0..<i { #expect(kernel[i, j] == kernel[j, i], "symmetric (mirrored) at \(i), \(j)") }
            }
        }
    }

    @Test(arguments: [(3, 2), (5, 0)])
    func structuredExactKernelRejectsLayersWithoutGramRule(which: Int, index expected: Int) throws {
        let net: Network<Double> = try Self.models[which].1.makeNetwork(seed: 1)
        let x: Matrix<Double> = try EmpiricalNTKTests.inputs(3, net.inputSize)
        do {
            _ = try StructuredExactNTK().kernel(network: net, inputs: x)
            Issue.record("expected an unsupported-layer error for \(Self.models[which].0)")
        } catch let error as StructuredNTKError {
            switch error {
            case let .unsupportedLayer(index, type, _):
                // The resnet's residual block (layer 2), the token model's token-wise Linear (layer 0).
                #expect(index == expected)
                #expect(error.description.contains(type) && error.description.contains("layer \(expected)"))
            }
        }
    }

    @Test func floatAgreesWithDouble() throws {
        let spec = Self.models[3].1   // resnet: conv, residual and linear layers
        let netD: Network<Double> = try spec.makeNetwork(seed: 8)
        let netF = try Network<Float>(body: spec.makeNetwork(Float.self, seed: 8).body,
                                      parameters: netD.parameters.map(Float.init))
        let xD: Matrix<Double> = try EmpiricalNTKTests.inputs(9, netD.inputSize)
        let xF = xD.converted(to: Float.self)
        for kind in KernelKind.allCases {
            let opD = try StructuredNTK(network: netD, inputs: xD, kind: kind, batchSize: 4)
            let opF = try StructuredNTK(network: netF, inputs: xF, kind: kind, batchSize: 4)
            let v = try Self.randomBlock(2, opD.dimension, seed: 1)
            var uD = Matrix<Double>(rows: 2, columns: opD.dimension), uF = uD
            try opD.apply(v, into: &uD)
            try opF.apply(v, into: &uF)
            // Float round-off through the forward, the δ VJP (≈ 8 layers, widths ≤ 32) and O(dim) sums.
            #expect(EmpiricalNTKTests.maxRelativeError(uF, uD)
                    <= 100 * Double(Float.ulpOfOne) * Double(opD.dimension).squareRoot())
            let dD = try opD.exactDiagonal(), dF = try opF.exactDiagonal()
            for (a, b) in zip(dF, dD) { #expect(abs(a - b) <= 100 * Double(Float.ulpOfOne) * b) }
        }
    }

    @Test func factoryChoosesByBudgetAndNamesTheChoice() throws {
        let net: Network<Double> = try Self.models[0].1.makeNetwork(seed: 2)
        let x: Matrix<Double> = try EmpiricalNTKTests.inputs(7, net.inputSize)
        let roomy = try NTKOperatorChoice.makeOperator(network: net, inputs: x, batchSize: 3)
        #expect(roomy.choice == .structured && roomy.choice.name == "structured")
        #expect(roomy.kernel is StructuredNTK<Double>)
        let tight = try NTKOperatorChoice.makeOperator(network: net, inputs: x, batchSize: 3, cacheBudgetBytes: 0)
        #expect(tight.choice == .jvpVJP && tight.choice.name == "jvp_vjp" && tight.reason.contains("exceed"))
        #expect(tight.kernel is EmpiricalNTK<Double>)
        let forced = try NTKOperatorChoice.makeOperator(network: net, inputs: x, preference: .jvpVJP)
        #expect(forced.choice == .jvpVJP)
        // Both give the same product.
        let v = try Self.randomBlock(2, roomy.kernel.dimension, seed: 3)
        var a = Matrix<Double>(rows: 2, columns: v.columns), b = a
        try roomy.kernel.apply(v, into: &a)
        try tight.kernel.apply(v, into: &b)
        #expect(EmpiricalNTKTests.maxRelativeError(a, b) <= 1e-13 * Double(v.columns))
    }

    @Test func costCountsAndSparseBlocksSkipBatches() throws {
        let net: Network<Double> = try Self.models[0].1.makeNetwork(seed: 2)
        let x: Matrix<Double> = try EmpiricalNTKTests.inputs(10, net.inputSize)
        let op = try StructuredNTK(network: net, inputs: x, batchSize: 4)
        // Setup: one forward and one δ VJP per batch.
        #expect(op.cost.forwardCalls == 3 && op.cost.vjpCalls == 3)
        // A unit vector on example 0 touches batch 0 only in pass 1.
        var e = Matrix<Double>(rows: 1, columns: op.dimension)
        e[0, 0] = 1
        var column = e
        try op.apply(e, into: &column)
        #expect(op.cost.vjpCalls == 4 && op.cost.jvpCalls == 3 && op.cost.forwardCalls == 3)
        let reference = try EmpiricalNTKTests.referenceKernel(net, x, .full)
        for j in 0..<op.dimension { #expect(abs(column[0, j] - reference[0, j]) <= 1e-13 * Double(op.dimension) * reference[0, 0]) }
    }

    @Test func invalidateCachesFollowsNewParameters() throws {
        var net: Network<Double> = try Self.models[0].1.makeNetwork(seed: 2)
        let x: Matrix<Double> = try EmpiricalNTKTests.inputs(6, net.inputSize)
        let op = try StructuredNTK(network: net, inputs: x, batchSize: 4)
        try op.invalidateCaches()
        let v = try Self.randomBlock(1, op.dimension, seed: 9)
        var u = Matrix<Double>(rows: 1, columns: op.dimension)
        try op.apply(v, into: &u)
        net.initializeParameters(seed: 99)
        let reference = try EmpiricalNTKTests.referenceKernel(net, x, .full)
        let fresh = try StructuredNTK(network: net, inputs: x, batchSize: 4)
        var w = u
        try fresh.apply(v, into: &w)
        #expect(EmpiricalNTKTests.maxRelativeError(w, try v.multiplied(by: reference)) <= 1e-13 * Double(op.dimension))
        #expect(EmpiricalNTKTests.maxRelativeError(u, w) > 1e-3)  // a different parameter state
    }

    @Test func rejectsBadInputs() throws {
        let net: Network<Double> = try Self.models[0].1.makeNetwork(seed: 1)
        let wrong: Matrix<Double> = try EmpiricalNTKTests.inputs(4, net.inputSize + 1)
        #expect(throws: NTKError.self) { _ = try StructuredNTK(network: net, inputs: wrong) }
        var bad: Matrix<Double> = try EmpiricalNTKTests.inputs(4, net.inputSize)
        bad[1, 2] = .infinity
        #expect(throws: NTKError.self) { _ = try StructuredNTK(network: net, inputs: bad) }
        let x: Matrix<Double> = try EmpiricalNTKTests.inputs(4, net.inputSize)
        #expect(throws: NTKError.self) { _ = try StructuredNTK(network: net, inputs: x, batchSize: 0) }
        let op = try StructuredNTK(network: net, inputs: x)
        var out = Matrix<Double>(rows: 2, columns: op.dimension)
        #expect(throws: NTKError.self) { try op.apply(Matrix<Double>(rows: 1, columns: op.dimension), into: &out) }
        #expect(throws: NTKError.self) { _ = try StructuredExactNTK(memoryBudgetBytes: 16).kernel(network: net, inputs: x) }
    }
}

import Foundation
import NTKDatasets
import NTKEstimation
import NTKLinearAlgebra
import NTKNetworks
import Testing
@testable import NTKSpectra

/// The three routes against the exact dense spectrum, the cost model's choices under a fixed
/// set of machine rates (so the tests do not depend on this machine's speed), and the
/// memory-budget errors.
@Suite("Routes")
struct RouteTests {
    init() throws { try BLASThreads.set(1) }

    /// Rates of a 2-core machine of this project (dgemm ≈ 60 GFLOP/s, sgemm ≈ 120, 10 GB/s).
    static let rates = MachineRates(doubleGEMM: 60e9, floatGEMM: 120e9, memoryBandwidth: 10e9)

    static func fixture() throws -> (Network<Double>, Matrix<Double>) {
        let spec = ModelSpec.mlp(inputSize: 8, hiddenSizes: [32, 32], outputSize: 10, activation: .tanh)
        return (try spec.makeNetwork(seed: 11), try EmpiricalNTKTests.inputs(60, 8, seed: 12))
    }

    static func estimator(_ route: SpectralRoute) -> CollectiveVariableEstimator {
        var estimator = CollectiveVariableEstimator()
        estimator.route = route
        estimator.rates = rates
        return estimator
    }

    @Test func denseRouteIsTheExactSpectrum() throws {
        let (net, x) = try Self.fixture()
        let exact = try ExactNTK().spectrum(network: net, inputs: x)
        let (estimate, reused) = try Self.estimator(.dense).measure(network: net, inputs: x, exact: true)
        #expect(estimate.route == .dense && estimate.entropyIsExact)
        #expect(estimate.entropy.standardError == 0 && estimate.matvecs == 0)
        #expect(abs(estimate.entropy.value - exact.statistics.entropy) <= 1e-12 * exact.statistics.entropy)
        #expect(abs(estimate.trace - exact.statistics.trace) <= 1e-12 * exact.statistics.trace)
        let top = exact.eigenvalues.reversed().prefix(10)
        for (a, b) in zip(estimate.topEigenvalues, top) { #expect(abs(a - b) <= 1e-10 * top.first!) }
        #expect(reused?.statistics.entropy == estimate.entropy.value)
        #expect(estimate.entropyIntervalCovers(exact.statistics.entropy))
    }

    @Test(arguments: [KernelKind.full, .traced])
    func kernelLanczosAgreesWithExactAndReusesItsKernel(kind: KernelKind) throws {
        let (net, x) = try Self.fixture()
        let exact = try ExactNTK(kind: kind).spectrum(network: net, inputs: x).statistics
        var estimator = Self.estimator(.kernelLanczos)
        estimator.kind = kind
        let (estimate, reused) = try estimator.measure(network: net, inputs: x, exact: true)
        #expect(estimate.route == .kernelLanczos && !estimate.entropyIsExact)
        #expect(estimate.matvecs > 0 && estimate.probes >= 2)
        // The trace is the kernel's diagonal sum: exact.
        #expect(abs(estimate.trace - exact.trace) <= 1e-10 * exact.trace)
        let slack = 4 * estimate.entropy.standardError + (estimate.entropy.biasBound ?? 0) + estimate.roundoffAllowance
        #expect(abs(estimate.entropy.value - exact.entropy) <= max(slack, 1e-6 * exact.entropy))
        #expect(abs(estimate.entropy.value - exact.entropy) <= 0.02 * exact.entropy)
        // The exact check eigensolved the same kernel.
        let again = try #require(reused).statistics
        #expect(abs(again.entropy - exact.entropy) <= 1e-10 * exact.entropy)
        #expect(abs(again.trace - exact.trace) <= 1e-10 * exact.trace)
    }

    @Test func floatNetworksTakeTheDenseRoutesInDouble() throws {
        let (netD, x) = try Self.fixture()
        let netF = try netD.converted(to: Float.self)
        // The Float network's weights and inputs, exactly, in Double.
        let xF = x.converted(to: Float.self)
        let exactOfFloat = try ExactNTK().spectrum(network: netF.converted(to: Double.self), inputs: xF.converted(to: Double.self))
            .statistics
        let estimate = try Self.estimator(.dense).estimate(network: netF, inputs: xF)
        #expect(estimate.precision == Float.precisionName && estimate.kernelPrecision == Double.precisionName)
        #expect(abs(estimate.entropy.value - exactOfFloat.entropy) <= 1e-12 * exactOfFloat.entropy)
        // Matrix-free on the Float network, validated against the Double spectrum of the same weights.
        let (mf, exact) = try Self.estimator(.matrixFree).measure(network: netF, inputs: xF, exact: true)
        #expect(mf.route == .matrixFree && mf.kernelPrecision == Float.precisionName)
        let reference = try #require(exact).statistics
        #expect(abs(reference.entropy - exactOfFloat.entropy) <= 1e-12 * exactOfFloat.entropy)
        #expect(abs(mf.trace - reference.trace) <= 1e-4 * reference.trace)
    }

    @Test func autoTakesTheCheapestPredictedRouteThatFits() throws {
        let (net, x) = try Self.fixture()
        let n = x.rows, big = n * net.outputCount
        let planner = RoutePlanner(memoryBudgetBytes: 1 << 30, rates: Self.rates)
        let plan = try planner.plan(requested: .auto, network: net, examples: n, kind: .full, batchSize: 256,
                                    cacheBudgetBytes: 1 << 30)
        #expect(plan.predictions.map(\.route) == SpectralRoute.concrete)
        let fastest = try #require(plan.predictions.filter(\.fits).min { $0.seconds < $1.seconds })
        #expect(plan.chosen.seconds <= planner.denseMargin * fastest.seconds)
        #expect(plan.reason.contains(plan.route.rawValue))
        // The dense routes hold the 8·N² bytes of K at least.
        for p in plan.predictions where p.route != .matrixFree { #expect(p.bytes >= 8 * big * big) }

        // A budget below the kernel leaves the matrix-free route.
        let matrixFree = try #require(plan.predictions.first { $0.route == .matrixFree })
        let tight = RoutePlanner(memoryBudgetBytes: 8 * big * big - 1, rates: Self.rates)
        if matrixFree.bytes < 8 * big * big - 1 {
            let chosen = try tight.plan(requested: .auto, network: net, examples: n, kind: .full, batchSize: 256,
                                        cacheBudgetBytes: 1 << 30)
            #expect(chosen.route == .matrixFree)
        }
        // Forcing a route that does not fit, or a budget no route fits, is a clear error naming bytes.
        #expect {
            _ = try tight.plan(requested: .dense, network: net, examples: n, kind: .full, batchSize: 256,
                               cacheBudgetBytes: 1 << 30)
        } throws: { error in
            let text = "\(error)"
            return text.contains("route dense") && text.contains("bytes") && text.contains("--memory-budget")
        }
        let none = RoutePlanner(memoryBudgetBytes: 1024, rates: Self.rates)
        #expect {
            _ = try none.plan(requested: .auto, network: net, examples: n, kind: .full, batchSize: 256,
                              cacheBudgetBytes: 1 << 30)
        } throws: { error in "\(error)".contains("every route") && "\(error)".contains("1.0 KiB") }
    }

    /// Larger N moves `auto` away from the O(N³) eigensolver and, where K outgrows memory, to
    /// the matrix-free route (the cost model's orderings, not its absolute times).
    @Test func autoOrdersRoutesBySize() throws {
        let spec = ModelSpec.mlp(inputSize: 64, hiddenSizes: [256, 256], outputSize: 10, activation: .tanh)
        let net: Network<Float> = try spec.makeNetwork(Float.self, seed: 1)
        let planner = RoutePlanner(memoryBudgetBytes: 8 << 30, rates: Self.rates)
        func route(_ n: Int) throws -> SpectralRoute {
            try planner.plan(requested: .auto, network: net, examples: n, kind: .full, batchSize: 256,
                             cacheBudgetBytes: 1 << 30).route
        }
        #expect(try route(20) == .dense)
        #expect(try route(4096) != .dense)
        #expect(try route(32768) == .matrixFree)   // K would need 86 GB
    }

    @Test func aUsersRitzToleranceIsNotOverwritten() {
        var estimator = CollectiveVariableEstimator()
        #expect(estimator.resolvedRitzTolerance(Double.self) == 1e-6)
        #expect(estimator.resolvedRitzTolerance(Float.self) == 1e-2)
        estimator.spectral.ritzTolerance = 1e-4
        #expect(estimator.resolvedRitzTolerance(Double.self) == 1e-4)
        #expect(estimator.resolvedRitzTolerance(Float.self) == 1e-2)
        estimator.spectral.ritzTolerance = 0.05
        #expect(estimator.resolvedRitzTolerance(Float.self) == 0.05)
        estimator.ritzTolerance = 1e-3
        #expect(estimator.resolvedRitzTolerance(Float.self) == 1e-3 && estimator.resolvedRitzTolerance(Double.self) == 1e-3)
    }

    @Test func monitorValidatesFloatNetworksAndKeepsItsOverheadBudget() throws {
        let data: Dataset<Float> = try SyntheticDatasets.twoMoons(count: 200, seed: 3)
        var net = try Network<Float>.mlp(inputSize: 2, hiddenSizes: [16], outputSize: data.outputSize, seed: 4)
        let x = data.inputs
        var configuration = SpectralMonitor<Float>.Configuration()
        configuration.every = 1
        configuration.estimator.route = .matrixFree
        configuration.estimator.rates = Self.rates
        configuration.estimator.spectral.maxApplications = 200
        configuration.overheadBudget = 0.05
        let probes = try Matrix<Float>(rows: 20, columns: 2, storage: Array(x.storage.prefix(40)))
        let monitor = try SpectralMonitor(configuration: configuration, probeInputs: probes)
        let trainer = Trainer(epochs: 3, batchSize: 20, seed: 1, loss: .meanSquaredError(),
                              optimizer: SGD<Float>(learningRate: 0.05))
        let report = try trainer.train(network: &net, inputs: x, targets: data.targets,
                                       callbacks: [monitor])
        let steps = report.steps
        // First and last steps recorded and validated against the Double exact spectrum.
        let first = try #require(monitor.records.first), last = try #require(monitor.records.last)
        #expect(first["step"]?.intValue == 0 && last["step"]?.intValue == steps)
        for record in [first, last] {
            #expect(record["exact_entropy"] != nil && record["exact_in_interval"]?.boolValue == true)
            #expect(record["route"]?.stringValue == "matrix-free")
        }
        // The budget skipped most scheduled steps (recording every step of a 16-unit MLP costs far
        // more than 5% of its training).
        #expect(monitor.skipped > 0 && monitor.records.count < steps + 1)
        #expect(monitor.overheadShare != nil)

        for bad in [0.0, 1.0, -0.5, .nan] {
            var c = configuration
            c.overheadBudget = bad
            #expect(throws: NTKError.self) { _ = try SpectralMonitor(configuration: c, probeInputs: probes) }
        }
    }
}

@Suite("Resident memory")
struct ResidentMemoryTests {
    @Test func peakIsAtLeastCurrentAndAtLeastALiveBuffer() throws {
        let buffer = [Double](repeating: 1, count: 4 << 20)   // 32 MiB, touched
        // Current first: the high-water mark read afterwards can only be larger.
        let current = try #require(ResidentMemory.currentBytes())
        let peak = try #require(ResidentMemory.peakBytes())
        #expect(peak >= current && current >= buffer.count * 8)
    }
}

/// Degenerate kernels: tiny input scales in Float leave the entropy a round-off away from 0.
@Suite("Entropy range")
struct EntropyRangeTests {
    init() throws { try BLASThreads.set(1) }

    @Test(arguments: [SpectralRoute.matrixFree, .kernelLanczos, .dense])
    func nearRankOneKernelsNeverReportANegativeEntropy(route: SpectralRoute) throws {
        // A linear map of inputs of scale 1e-30: the kernel is the bias's all-ones block, rank one.
        let net = try Network<Float>(inputShape: [3], layers: [Linear<Float>(inFeatures: 3, outFeatures: 1)], seed: 1)
        var generator = SeededGenerator(seed: 2)
        let x = try Matrix<Float>(rows: 5, columns: 3,
                                  storage: [Float].gaussian(count: 15, using: &generator).map { $0 * 1e-30 })
        var estimator = CollectiveVariableEstimator()
        estimator.route = route
        estimator.rates = RouteTests.rates
        let estimate = try estimator.estimate(network: net, inputs: x)
        #expect(estimate.entropy.value >= 0 && estimate.entropy.lower >= 0)
        #expect(estimate.entropy.value <= Double.log(5) && estimate.entropy.upper <= Double.log(5))
        #expect(abs(estimate.entropyRangeCorrection) <= estimate.roundoffAllowance)
        #expect(estimate.entropy.value <= 1e-6)
    }

    @Test func aValueFarOutsideTheRangeIsAnError() throws {
        let (net, x) = try RouteTests.fixture()
        var estimate = try RouteTests.estimator(.matrixFree).estimate(network: net, inputs: x)
        estimate.entropy.value = -0.5
        #expect(throws: NTKError.self) { _ = try estimate.enforcingEntropyRange() }
        estimate.entropy.value = -0.1 * estimate.roundoffAllowance
        let fixed = try estimate.enforcingEntropyRange()
        #expect(fixed.entropy.value == 0 && fixed.entropyRangeCorrection > 0 && fixed.fields["entropy_range_correction"] != nil)
    }
}

@Suite("Warm start through the monitor")
struct MonitorWarmStartTests {
    func run<Scalar: BLASScalar>(_: Scalar.Type, warm: Bool) throws -> SpectralMonitor<Scalar> {
        let data: Dataset<Scalar> = try SyntheticDatasets.twoMoons(count: 200, seed: 3)
        var net = try Network<Scalar>.mlp(inputSize: 2, hiddenSizes: [32, 32], outputSize: data.outputSize, seed: 4)
        var configuration = SpectralMonitor<Scalar>.Configuration()
        configuration.every = 5
        configuration.exactEvery = 1
        configuration.warmStart = warm
        configuration.estimator.route = .matrixFree
        configuration.estimator.rates = RouteTests.rates
        configuration.estimator.spectral.maxApplications = 300
        let probes = try Matrix<Scalar>(rows: 80, columns: 2, storage: Array(data.inputs.storage.prefix(160)))
        let monitor = try SpectralMonitor(configuration: configuration, probeInputs: probes)
        let trainer = Trainer(epochs: 2, batchSize: 20, seed: 1, loss: .meanSquaredError(),
                              optimizer: SGD<Scalar>(learningRate: 0.05))
        _ = try trainer.train(network: &net, inputs: data.inputs, targets: data.targets, callbacks: [monitor])
        return monitor
    }

    func check<Scalar: BLASScalar>(_ type: Scalar.Type) throws {
        let monitor = try run(type, warm: true)
        let records = monitor.records
        #expect(records.count >= 4)
        #expect(records.first?["warm_started"]?.boolValue == false)
        // Every later record started from the previous one's state, and every one is validated.
        for record in records.dropFirst() {
            #expect(record["warm_started"]?.boolValue == true)
            #expect(record["warm_block_rows"]?.intValue ?? 0 > 0)
        }
        #expect(records.dropFirst().contains { ($0["warm_reused_vectors"]?.intValue ?? 0) > 0 })
        // Warm-started records agree with the exact spectrum: 4 standard errors (a 95% interval
        // misses one record in 20 by design), the Lanczos bias bound, and the kernel arithmetic's
        // round-off allowance (100·√N·ε·max(|S|, |log T|, 1), `CollectiveVariables`).
        let epsilon = Scalar.self == Float.self ? Double(Float.ulpOfOne) : Double.ulpOfOne
        for record in records.dropFirst() {
            func number(_ key: String) -> Double { record[key]?.doubleValue ?? .nan }
            let error = abs(number("entropy") - number("exact_entropy"))
            let allowance = 100 * number("dimension").squareRoot() * epsilon
                * max(abs(number("entropy")), abs(Double.log(number("trace"))), 1)
            #expect(error <= 4 * number("entropy_stderr") + number("entropy_bias_bound") + allowance,
                    "step \(record["step"]?.intValue ?? -1): error \(error), stderr \(number("entropy_stderr"))")
        }
        // The state round-trips: the monitor holds the last record's, of the kernel's dimension,
        // one generation per record.
        let state = try #require(monitor.warmStart)
        #expect(state.dimension == records.last?["dimension"]?.intValue)
        #expect(state.generation == records.count)
        #expect(state.acceptedCount <= records.last?["deflation_rank"]?.intValue ?? 0 && state.acceptedCount > 0)
        // Off: every record cold, no state kept.
        let cold = try run(type, warm: false)
        #expect(cold.records.allSatisfy { $0["warm_started"]?.boolValue == false })
        #expect(cold.warmStart == nil)
    }

    @Test func doubleNetworks() throws { try check(Double.self) }
    @Test func floatNetworks() throws { try check(Float.self) }
}

import Foundation
import Testing
import NTKLinearAlgebra
@testable import NTKDatasets

@Suite("SyntheticDatasets")
struct SyntheticDatasetsTests {
    init() throws { try BLASThreads.set(1) }

    @Test func teacherStudentShapesDeterminismAndStreams() throws {
        let a = try SyntheticDatasets.teacherStudent(
            count: 40, inputSize: 5, outputSize: 2, hiddenWidth: 16, seed: 1, as: Double.self)
        #expect(a.inputs.rows == 40 && a.inputs.columns == 5 && a.targets.columns == 2 && a.labels == nil)
        #expect(try SyntheticDatasets.teacherStudent(
            count: 40, inputSize: 5, outputSize: 2, hiddenWidth: 16, seed: 1, as: Double.self) == a)
        let b = try SyntheticDatasets.teacherStudent(
            count: 40, inputSize: 5, outputSize: 2, hiddenWidth: 16, seed: 2, as: Double.self)
        #expect(b.inputs != a.inputs)
        // Noise changes only the targets, by noise·N(0,1): same inputs, residual RMS ≈ noise.
        let noisy = try SyntheticDatasets.teacherStudent(
            count: 40, inputSize: 5, outputSize: 2, hiddenWidth: 16, noise: 0.5, seed: 1, as: Double.self)
        #expect(noisy.inputs == a.inputs)
        let residuals = zip(noisy.targets.storage, a.targets.storage).map { $0 - $1 }
        let meanSquare = residuals.reduce(0) { $0 + $1 * $1 } / Double(residuals.count)
        // 80 samples of (0.5·z)²: mean 0.25, standard error 0.25·√(2/80); allow 5 errors.
        #expect(abs(meanSquare - 0.25) <= 5 * 0.25 * (2.0 / 80).squareRoot())
        // The teacher's outputs are finite and not identically zero.
        #expect(a.targets.isFinite && a.targets.frobeniusNorm > 0)
    }

    @Test func linearTeacherIsLinear() throws {
        // A linear teacher's targets are Y = X B for some B: least squares through the normal
        // equations, B = (XᵀX)⁻¹XᵀY, reproduces them up to rounding (residual ≤ c·n·ε·‖Y‖).
        // A tanh teacher would leave an O(1) residual.
        let linear = try SyntheticDatasets.teacherStudent(
            count: 30, inputSize: 3, outputSize: 1, activation: .linear, seed: 4, as: Double.self)
        let tanh = try SyntheticDatasets.teacherStudent(
            count: 30, inputSize: 3, outputSize: 1, hiddenWidth: 8, activation: .tanh, seed: 4, as: Double.self)
        #expect(try leastSquaresResidual(linear) <= 1e3 * 30 * Double.ulpOfOne * linear.targets.frobeniusNorm)
        #expect(try leastSquaresResidual(tanh) >= 1e-3 * tanh.targets.frobeniusNorm)
    }

    /// Largest |x_iᵀB − y_i| of the least-squares fit of a 1-output set with 3 inputs.
    private func leastSquaresResidual(_ d: Dataset<Double>) throws -> Double {
        let x = d.inputs, y = d.targets
        let g = try x.multiplied(by: x, transposeSelf: true)  // 3×3
        let r = try x.multiplied(by: y, transposeSelf: true)  // 3×1
        let beta = try solve3(g, r.storage)
        var residual = 0.0
        for i in 0..<d.count {
            let fitted = (0..<3).reduce(0.0) { $0 + x[i, $1] * beta[$1] }
            residual = max(residual, abs(fitted - y[i, 0]))
        }
        return residual
    }

    /// Cramer's rule for a 3×3 system (test helper).
    private func solve3(_ a: Matrix<Double>, _ b: [Double]) throws -> [Double] {
        func det(_ m: [[Double]]) -> Double {
            m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
                - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
                + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
        }
        let rows = (0..<3).map { a.row($0) }
        let full = det(rows)
        try #require(abs(full) > 1e-8)
        return (0..<3).map { c in det(rows.enumerated().map { i, row in row.enumerated().map { $0.offset == c ? b[i] : $0.element } }) / full }
    }

    @Test func twoMoonsGeometryAndBalance() throws {
        let d = try SyntheticDatasets.twoMoons(count: 101, noise: 0, seed: 3, as: Double.self)
        #expect(d.count == 101 && d.inputSize == 2 && d.classCounts() == [50, 51])
        for i in 0..<d.count {
            let (x, y) = (d.inputs[i, 0], d.inputs[i, 1])
            // Class 0 on the unit circle's upper half; class 1 on the circle of radius 1
            // around (1, 0.5), lower half.
            let (cx, cy) = d.labels?[i] == 0 ? (0.0, 0.0) : (1.0, 0.5)
            #expect(abs((x - cx) * (x - cx) + (y - cy) * (y - cy) - 1) <= 16 * Double.ulpOfOne)
            #expect(d.labels?[i] == 0 ? y >= -1e-15 : y <= 0.5 + 1e-15)
        }
        #expect(try SyntheticDatasets.twoMoons(count: 101, noise: 0.1, seed: 3, as: Double.self)
                == (try SyntheticDatasets.twoMoons(count: 101, noise: 0.1, seed: 3, as: Double.self)))
        expectDatasetError("noise", { () throws(DatasetError) in
            _ = try SyntheticDatasets.twoMoons(count: 10, noise: -1, seed: 0, as: Float.self)
        }, matches: { if case .invalidArgument("noise", _, _) = $0 { true } else { false } })
    }

    @Test func spiralsBalanceAndRadius() throws {
        let d = try SyntheticDatasets.spirals(count: 301, arms: 3, noise: 0, seed: 8, as: Float.self)
        #expect(d.classCounts() == [101, 100, 100] && d.outputSize == 3)
        for i in 0..<d.count {
            let r = (Double(d.inputs[i, 0]) * Double(d.inputs[i, 0]) + Double(d.inputs[i, 1]) * Double(d.inputs[i, 1])).squareRoot()
            #expect(r <= 1 + 4 * Double(Float.ulpOfOne) && r > 0)
        }
        expectDatasetError("arms", { () throws(DatasetError) in
            _ = try SyntheticDatasets.spirals(count: 10, arms: 1, seed: 0, as: Float.self)
        }, matches: { if case .invalidArgument("arms", _, _) = $0 { true } else { false } })
    }

    @Test func sinusoidFollowsItsFormula() throws {
        let d = try SyntheticDatasets.sinusoid(count: 64, amplitude: 2, frequency: 3, phase: 0.5, seed: 2, as: Double.self)
        #expect(d.inputSize == 1 && d.outputSize == 1)
        for i in 0..<64 {
            let x = d.inputs[i, 0]
            #expect(abs(x) <= Double.pi)
            #expect(abs(d.targets[i, 0] - 2 * sin(3 * x + 0.5)) <= 8 * Double.ulpOfOne)
        }
    }

    @Test func stochasticBlockModelDensities() throws {
        let sizes = [60, 60]
        let d = try SyntheticDatasets.stochasticBlockModel(
            communitySizes: sizes, pIn: 0.3, pOut: 0.05, featureSize: 4, featureSignal: 2, seed: 6,
            as: Double.self)
        let graph = try #require(d.graph)
        let labels = try #require(d.labels)
        #expect(graph.nodeCount == 120 && d.classCounts() == sizes && d.inputSize == 4)
        var inside = 0, across = 0
        for e in graph.edges { if labels[e.source] == labels[e.target] { inside += 1 } else { across += 1 } }
        // Binomial counts: pairs inside = 2·C(60,2) = 3540, across = 3600; 5 standard errors.
        let pairsIn = 3540.0, pairsOut = 3600.0
        #expect(abs(Double(inside) - 0.3 * pairsIn) <= 5 * (pairsIn * 0.3 * 0.7).squareRoot())
        #expect(abs(Double(across) - 0.05 * pairsOut) <= 5 * (pairsOut * 0.05 * 0.95).squareRoot())
        // Community feature means are 2·μ_c with ‖μ_c‖ = 1: the distance between the two
        // empirical means estimates 2‖μ₀ − μ₁‖ ≤ 4, up to noise of size √(2·4/60).
        var m0 = [Double](repeating: 0, count: 4), m1 = m0
        for i in 0..<120 {
            for j in 0..<4 {
                if labels[i] == 0 { m0[j] += d.inputs[i, j] / 60 } else { m1[j] += d.inputs[i, j] / 60 }
            }
        }
        let gap = zip(m0, m1).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
        #expect(gap <= 4 + 5 * (8.0 / 60).squareRoot())
        #expect(try SyntheticDatasets.stochasticBlockModel(
            communitySizes: sizes, pIn: 0.3, pOut: 0.05, featureSize: 4, featureSignal: 2, seed: 6,
            as: Double.self) == d)
        expectDatasetError("probability", { () throws(DatasetError) in
            _ = try SyntheticDatasets.stochasticBlockModel(
                communitySizes: sizes, pIn: 1.5, pOut: 0, seed: 0, as: Double.self)
        }, matches: { if case .invalidArgument("pIn", _, _) = $0 { true } else { false } })
    }
}

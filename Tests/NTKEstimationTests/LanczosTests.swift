import NTKEstimation
import NTKLinearAlgebra
import Testing

@Suite struct LanczosTests {
    let eps = Double.ulpOfOne

    @Test func basisIsOrthonormalAndSatisfiesTheLanczosRelation() throws {
        let values = (0..<60).map { 1 + Double($0) / 3 }
        let op = try Fixture.operatorWith(values)
        let n = values.count
        var generator = SeededGenerator(seed: 11)
        var start = Matrix<Double>(rows: 3, columns: n)
        ProbeDistribution.rademacher.fill(&start, using: &generator)
        for mode in [Lanczos.Reorthogonalization.full, .partial] {
            let runs = try Lanczos(steps: 25, reorthogonalization: mode, keepBasis: true).decompose(op, start: start)
            #expect(runs.count == 3)
            for run in runs {
                let v = try #require(run.basis)
                let r = try #require(run.residual)
                let m = run.depth
                #expect(m == 25)
                // VVᵀ ≈ I within 10·n·ε (full) or √ε (partial: semi-orthogonality by design).
                let gram = try v.multiplied(by: v, transposeOther: true)
                let tolerance = mode == .full ? 10 * Double(n) * eps : 10 * eps.squareRoot()
                for i in 0..<m { for j in 0..<m {
                    #expect(abs(gram[i, j] - (i == j ? 1 : 0)) <= tolerance)
                } }
                // V A = T V + e_m rᵀ (row form of A Vᵀ = Vᵀ T + r e_mᵀ), to c·n·ε·‖A‖.
                let av = try v.multiplied(by: op.matrix)
                var worst = 0.0
                for i in 0..<m { for j in 0..<n {
                    var tv = run.alpha[i] * v[i, j]
                    if i > 0 { tv += run.beta[i - 1] * v[i - 1, j] }
                    if i < m - 1 { tv += run.beta[i] * v[i + 1, j] } else { tv += r[j] }
                    worst = max(worst, abs(av[i, j] - tv))
                } }
                #expect(worst <= 100 * Double(n) * eps * values.max()!)
                // ‖r‖ is the reported residual norm.
                let rn = r.reduce(0) { $0 + $1 * $1 }.squareRoot()
                #expect(abs(rn - run.residualNorm) <= 1e-12 * max(1, rn))
            }
        }
    }

    @Test func exhaustedKrylovSpaceIsExact() throws {
        let values = (0..<24).map { 0.1 + Double($0 * $0) / 50 }
        let op = try Fixture.operatorWith(values, seed: 3)
        let n = values.count
        var generator = SeededGenerator(seed: 5)
        var start = Matrix<Double>(rows: 2, columns: n)
        ProbeDistribution.rademacher.fill(&start, using: &generator)
        let runs = try Lanczos(steps: n).decompose(op, start: start)
        let eigen = try SymmetricEigen(op.matrix, computeVectors: true)
        let vectors = try #require(eigen.vectors)
        for (p, run) in runs.enumerated() {
            #expect(run.depth == n)
            #expect(run.brokeDown)
            let rule = try GaussQuadrature(run)
            // zᵀ f(A) z from the dense eigendecomposition.
            for f in [SpectralFunction.identity, .square, .xLogX] {
                var exact = 0.0
                for i in 0..<n {
                    var c = 0.0
                    for j in 0..<n { c += vectors[i, j] * start[p, j] }
                    exact += c * c * f.evaluate(eigen.values[i])
                }
                let estimate = run.startNorm * run.startNorm * rule.integrate(f.evaluate)
                #expect(abs(estimate - exact) <= 1e3 * Double(n) * eps * max(1, abs(exact)))
            }
        }
    }

    @Test func lowRankOperatorBreaksDownEarlyWithExactAnswer() throws {
        let rank = 5
        let values = (0..<40).map { $0 < rank ? Double(rank - $0) : 0 }
        let op = try Fixture.operatorWith(values, seed: 9)
        var generator = SeededGenerator(seed: 1)
        var start = Matrix<Double>(rows: 1, columns: 40)
        ProbeDistribution.rademacher.fill(&start, using: &generator)
        let run = try Lanczos(steps: 30).decompose(op, start: start)[0]
        // K(A, z) = span{z, Az, …} has dimension ≤ rank + 1.
        #expect(run.brokeDown)
        #expect(run.depth <= rank + 1)
        let rule = try GaussQuadrature(run)
        let traceSample = run.startNorm * run.startNorm * rule.integrate { $0 }
        let exact = try start.multiplied(by: op.matrix).storage.enumerated().reduce(0.0) { $0 + $1.element * start.storage[$1.offset] }
        #expect(abs(traceSample - exact) <= 1e3 * 40 * eps * abs(exact))
    }

    @Test func lockstepProbesMatchIndependentRuns() throws {
        let values = (0..<50).map { Double($0 % 7) + 0.5 }
        let op = try Fixture.operatorWith(values, seed: 2)
        var generator = SeededGenerator(seed: 4)
        var start = Matrix<Double>(rows: 3, columns: 50)
        ProbeDistribution.gaussian.fill(&start, using: &generator)
        let together = try Lanczos(steps: 12).decompose(op, start: start)
        for p in 0..<3 {
            let single = try Matrix(rows: 1, columns: 50, storage: start.row(p))
            let alone = try Lanczos(steps: 12).decompose(op, start: single)[0]
            #expect(alone.depth == together[p].depth)
            for (a, b) in zip(alone.alpha, together[p].alpha) { #expect(abs(a - b) <= 1e-10 * 7) }
        }
    }

    @Test func earlyStopCriterionEndsOnlyThatProbe() throws {
        let op = try Fixture.operatorWith((0..<30).map { Double($0) + 1 })
        var generator = SeededGenerator(seed: 8)
        var start = Matrix<Double>(rows: 2, columns: 30)
        ProbeDistribution.rademacher.fill(&start, using: &generator)
        let runs = try Lanczos(steps: 10).decompose(op, start: start) { probe, alpha, _ in
            probe == 0 && alpha.count == 3
        }
        #expect(runs[0].depth == 3 && runs[0].stoppedEarly)
        #expect(runs[1].depth == 10 && !runs[1].stoppedEarly)
    }

    /// Without reorthogonalization ghost copies of a converged λ_max appear (Paige 1976) while
    /// the quadrature stays accurate (NUMERICS.md); full and partial reorthogonalization keep
    /// exactly one copy.
    @Test func ghostEigenvaluesOnlyWithoutReorthogonalization() throws {
        var values = (0..<200).map { Double($0) / 200 }
        values[199] = 100
        values[198] = 50
        let op = try Fixture.operatorWith(values)
        var generator = SeededGenerator(seed: 1)
        var start = Matrix<Double>(rows: 1, columns: 200)
        ProbeDistribution.rademacher.fill(&start, using: &generator)
        var quadratures: [Double] = []
        for mode in Lanczos.Reorthogonalization.allCases {
            let run = try Lanczos(steps: 80, reorthogonalization: mode).decompose(op, start: start)[0]
            let rule = try GaussQuadrature(run)
            let copies = rule.nodes.filter { abs($0 - 100) < 1e-6 }.count
            #expect(mode == .none ? copies >= 2 : copies == 1, "\(mode): \(copies) copies of λ_max")
            quadratures.append(run.startNorm * run.startNorm * rule.integrate(SpectralFunction.xLogX.evaluate))
        }
        for q in quadratures { #expect(abs(q - quadratures[1]) <= 1e-9 * abs(quadratures[1])) }
    }

    @Test func badInputIsATypedError() throws {
        let op = try Fixture.operatorWith([1, 2, 3])
        #expect(throws: EstimationError.self) {
            try Lanczos(steps: 0).decompose(op, start: Matrix(rows: 1, columns: 3, repeating: 1))
        }
        #expect(throws: EstimationError.self) {
            try Lanczos(steps: 2).decompose(op, start: Matrix(rows: 1, columns: 4, repeating: 1))
        }
        #expect(throws: EstimationError.self) {
            try Lanczos(steps: 2).decompose(op, start: Matrix(rows: 1, columns: 3, repeating: .nan))
        }
        let broken = try ClosureOperator(dimension: 3) { x, y in
            for i in y.storage.indices { y.storage[i] = .nan }
        }
        #expect(throws: EstimationError.nonFinite(what: "operator output block")) {
            try Hutchinson().estimate(broken)
        }
    }
}

@Suite("Dense operator")
struct DenseOperatorTests {
    /// Blocks of one and two vectors take the GEMV path, wider ones the GEMM path: both equal
    /// the naive product to round-off (c·N·ε relative to the largest entry).
    @Test(arguments: [1, 2, 3, 7])
    func everyBlockWidthEqualsTheNaiveProduct(width: Int) throws {
        let n = 37
        let a = try Fixture.planted((0..<n).map { 1 + Double($0) })
        let op = try DenseOperator(a)
        var generator = SeededGenerator(seed: 3)
        let x = try Matrix<Double>(rows: width, columns: n, storage: .gaussian(count: width * n, using: &generator))
        var y = Matrix<Double>(rows: width, columns: n)
        try op.apply(x, into: &y)
        for t in 0..<width {
            for i in 0..<n {
                var expected = 0.0, magnitude = 0.0
                for j in 0..<n {
                    expected += a[i, j] * x[t, j]
                    magnitude += abs(a[i, j] * x[t, j])
                }
                // Summation error of an n-term dot product: ≤ n·ε·Σ|aᵢⱼxⱼ| (both sides), doubled.
                #expect(abs(y[t, i] - expected) <= 4 * Double(n) * .ulpOfOne * magnitude)
            }
        }
    }
}

import NTKLinearAlgebra

/// The symmetric Lanczos process (Lanczos 1950; Golub & Van Loan §10.1), for s independent
/// start vectors run in LOCKSTEP: each step is ONE block application of width s.
///
/// Configuration is a value, the call is a method:
/// `Lanczos(steps: 30).decompose(op, start: block)`.
///
/// Reorthogonalization (default `.full`, as in matfree): two passes of classical
/// Gram–Schmidt against all stored vectors (Giraud et al. 2005 "twice is enough"), by GEMV.
/// Without it the quadrature stays accurate but ghost copies of extreme eigenvalues appear
/// (Paige 1976), which breaks deflation. `.partial` measures the loss of orthogonality
/// directly (one GEMV) and reorthogonalizes only when it exceeds √ε (Simon 1984's
/// semi-orthogonality level).
///
/// Breakdown: when β_j ≤ `breakdownTolerance` · ‖T‖ (running estimate), the Krylov space is
/// invariant and the probe stops with an exact answer.
/// - Complexity: m block applications; O(s·m·N) flops without reorthogonalization,
///   O(s·m²·N) with full reorthogonalization; memory s·(m+1)·N doubles when the basis is kept.
public struct Lanczos: Sendable {
    public enum Reorthogonalization: Sendable, Hashable, CaseIterable {
        case none, full, partial
    }

    /// Maximum Lanczos depth m per probe.
    public var steps: Int
    public var reorthogonalization: Reorthogonalization
    /// Relative breakdown threshold on β_j / ‖T‖.
    public var breakdownTolerance: Double
    /// Return the Lanczos vectors and final residual (needed for Ritz vectors and deflation).
    public var keepBasis: Bool

    public init(steps: Int, reorthogonalization: Reorthogonalization = .full,
                breakdownTolerance: Double = 1e-10, keepBasis: Bool = false) {
        self.steps = steps
        self.reorthogonalization = reorthogonalization
        self.breakdownTolerance = breakdownTolerance
        self.keepBasis = keepBasis
    }

    /// Per-probe early-stop criterion: called after every completed step with the probe
    /// index, α₁…α_j and β₁…β_j (β_j = current residual norm). Returning true ends that probe.
    public typealias StopCriterion = (_ probe: Int, _ alpha: [Double], _ beta: [Double]) throws -> Bool

    /// Runs Lanczos from each row of `start` (s × N), all probes in lockstep.
    /// A zero start row gives an empty result (depth 0, startNorm 0).
    public func decompose(_ op: any SymmetricOperator, start: Matrix<Double>,
                          stop: StopCriterion? = nil) throws -> [LanczosResult] {
        let n = op.dimension
        guard n > 0 else { throw EstimationError.emptyOperator }
        try require(steps >= 1, "Lanczos.steps", steps, "at least 1")
        try require(breakdownTolerance >= 0 && breakdownTolerance < 1, "Lanczos.breakdownTolerance",
                    breakdownTolerance, "a value in [0, 1)")
        try checkBlock(start, dimension: n, name: "Lanczos start block")
        guard start.isFinite else { throw EstimationError.nonFinite(what: "Lanczos start block") }
        let s = start.rows
        let maxSteps = min(steps, n)
        let storeBasis = keepBasis || reorthogonalization != .none
        let capacity = storeBasis ? maxSteps + 1 : 2
        func slot(_ j: Int) -> Int { storeBasis ? j : j % 2 }

        // Workspaces: one basis (capacity × N) per probe, plus a projection buffer.
        let bases = UnsafeMutablePointer<Double>.allocate(capacity: max(1, s * capacity * n))
        defer { bases.deallocate() }
        let coefficients = UnsafeMutablePointer<Double>.allocate(capacity: capacity + 1)
        defer { coefficients.deallocate() }
        func vector(_ p: Int, _ j: Int) -> UnsafeMutablePointer<Double> { bases + (p * capacity + slot(j)) * n }

        var results = [LanczosResult](
            repeating: LanczosResult(alpha: [], beta: [], residualNorm: 0, startNorm: 0, brokeDown: false,
                                     stoppedEarly: false, basis: nil, residual: nil), count: s)
        var active: [Int] = []
        var normEstimate = [Double](repeating: 0, count: s)
        try start.storage.withUnsafeBufferPointer { x in
            for p in 0..<s {
                let row = x.baseAddress! + p * n
                let norm = try Double.nrm2(n: n, x: row, incx: 1)
                results[p].startNorm = norm
                guard norm > 0 else { continue }
                let v = vector(p, 0)
                for i in 0..<n { v[i] = row[i] / norm }
                active.append(p)
            }
        }
        let orthogonalityLevel = Double.ulpOfOne.squareRoot()
        var input = Matrix<Double>(rows: active.count, columns: n)
        var output = Matrix<Double>(rows: active.count, columns: n)
        var j = 0
        while j < maxSteps && !active.isEmpty {
            if input.rows != active.count {
                input = Matrix(rows: active.count, columns: n)
                output = Matrix(rows: active.count, columns: n)
            }
            input.storage.withUnsafeMutableBufferPointer { x in
                for (k, p) in active.enumerated() {
                    (x.baseAddress! + k * n).update(from: vector(p, j), count: n)
                }
            }
            try op.apply(input, into: &output)
            var finished: [Int] = []
            try output.storage.withUnsafeMutableBufferPointer { y in
                for (k, p) in active.enumerated() {
                    let w = y.baseAddress! + k * n
                    let v = vector(p, j)
                    let betaPrevious = j > 0 ? results[p].beta[j - 1] : 0
                    if j > 0 {
                        try Double.axpy(n: n, alpha: -betaPrevious, x: vector(p, j - 1), incx: 1, y: w, incy: 1)
                    }
                    let a = try Double.dot(n: n, x: w, incx: 1, y: v, incy: 1)
                    try Double.axpy(n: n, alpha: -a, x: v, incx: 1, y: w, incy: 1)
                    if reorthogonalization != .none {
                        let basis = bases + p * capacity * n
                        let count = j + 1
                        var passes = reorthogonalization == .full ? 2 : 0
                        if reorthogonalization == .partial {
                            let wNorm = try Double.nrm2(n: n, x: w, incx: 1)
                            try Double.gemv(.none, m: count, n: n, alpha: 1, a: basis, lda: n, x: w, incx: 1,
                                            beta: 0, y: coefficients, incy: 1)
                            var worst = 0.0
                            for i in 0..<count { worst = max(worst, abs(coefficients[i])) }
                            if worst > orthogonalityLevel * wNorm { passes = 2 }
                        }
                        for _ in 0..<passes {
                            try Double.gemv(.none, m: count, n: n, alpha: 1, a: basis, lda: n, x: w, incx: 1,
                                            beta: 0, y: coefficients, incy: 1)
                            try Double.gemv(.transpose, m: count, n: n, alpha: -1, a: basis, lda: n,
                                            x: coefficients, incx: 1, beta: 1, y: w, incy: 1)
                        }
                    }
                    let b = try Double.nrm2(n: n, x: w, incx: 1)
                    results[p].alpha.append(a)
                    results[p].beta.append(b)
                    normEstimate[p] = max(normEstimate[p], abs(a) + b + betaPrevious)
                    if b <= breakdownTolerance * normEstimate[p] || j + 1 == n {
                        results[p].brokeDown = true
                        finished.append(p)
                        // Keep r for the Lanczos relation even at breakdown.
                        if keepBasis { results[p].residual = Array(UnsafeBufferPointer(start: w, count: n)) }
                        continue
                    }
                    if keepBasis && j + 1 == maxSteps {
                        results[p].residual = Array(UnsafeBufferPointer(start: w, count: n))
                    }
                    if j + 1 < maxSteps {
                        let next = vector(p, j + 1)
                        let inverse = 1 / b
                        for i in 0..<n { next[i] = w[i] * inverse }
                        if let stop, try stop(p, results[p].alpha, results[p].beta) {
                            results[p].stoppedEarly = true
                            results[p].residual = keepBasis
                                ? (0..<n).map { next[$0] * b } : nil
                            finished.append(p)
                        }
                    }
                }
            }
            if !finished.isEmpty { active.removeAll { finished.contains($0) } }
            j += 1
        }
        for p in 0..<s where !results[p].alpha.isEmpty {
            let m = results[p].alpha.count
            results[p].residualNorm = results[p].beta[m - 1]
            results[p].beta.removeLast()
            if keepBasis {
                var basis = Matrix<Double>(rows: m, columns: n)
                basis.storage.withUnsafeMutableBufferPointer { b in
                    for i in 0..<m { (b.baseAddress! + i * n).update(from: vector(p, i), count: n) }
                }
                results[p].basis = basis
            }
        }
        return results
    }
}

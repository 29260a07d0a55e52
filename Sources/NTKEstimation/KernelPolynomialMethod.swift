import NTKFourier
import NTKLinearAlgebra

/// Spectral density by the kernel polynomial method (Weiße, Wellein, Alvermann & Fehske 2006,
/// Rev. Mod. Phys. 78, 275, §II): rescale B = (A − c I)/d to spectrum ⊂ [−1, 1] with bounds
/// from a short Lanczos run (θ_max + ‖r‖ and θ_min − ‖r‖, widened by `margin`), estimate the
/// Chebyshev moments μ_k = (1/N) tr T_k(B) with Hutchinson probes (Chebyshev recurrence
/// v_{k+1} = 2B v_k − v_{k−1}), damp them with the Jackson kernel g_k (eq. 71), and evaluate
/// φ(x) = [g_0μ_0 + 2 Σ_k g_kμ_k T_k(x)] / (π√(1 − x²)) on the G Chebyshev nodes
/// x_j = cos(π(j + ½)/G) with one DCT-III (eq. 81). Weights are Gauss–Chebyshev
/// (π√(1 − x_j²)/G, mapped to λ), so the integral is g_0μ_0 = (1/N)Σ_l ‖z_l‖²/N — exactly 1 for
/// Rademacher probes.
/// - Complexity: boundSteps + probes·(moments − 1) applications; O(G log G) for the DCT.
public struct KernelPolynomialMethod: Sendable {
    public var moments: Int
    public var probes: Int
    /// Number of Chebyshev nodes G (≥ moments).
    public var points: Int
    public var boundSteps: Int
    /// Relative widening of the spectral interval (keeps the spectrum inside (−1, 1)).
    public var margin: Double
    public var seed: UInt64

    public init(moments: Int = 64, probes: Int = 8, points: Int? = nil, boundSteps: Int = 20,
                margin: Double = 0.05, seed: UInt64 = 0) {
        self.moments = moments
        self.probes = probes
        self.points = points ?? 4 * moments
        self.boundSteps = boundSteps
        self.margin = margin
        self.seed = seed
    }

    /// The Jackson damping factors g_0…g_{M−1} (Weiße et al. 2006, eq. 71).
    public static func jackson(_ m: Int) -> [Double] {
        let q = Double.pi / Double(m + 1)
        let cot = Double.cos(q) / Double.sin(q)
        return (0..<m).map { k in
            let kk = Double(k)
            return ((Double(m) - kk + 1) * Double.cos(q * kk) + Double.sin(q * kk) * cot) / Double(m + 1)
        }
    }

    public func estimate(_ op: any SymmetricOperator) throws -> SpectralDensity {
        try require(moments >= 2, "KernelPolynomialMethod.moments", moments, "at least 2")
        try require(probes >= 1, "KernelPolynomialMethod.probes", probes, "at least 1")
        try require(points >= moments, "KernelPolynomialMethod.points", points, "at least moments (\(moments))")
        try require(boundSteps >= 1, "KernelPolynomialMethod.boundSteps", boundSteps, "at least 1")
        try require(margin > 0 && margin < 1, "KernelPolynomialMethod.margin", margin, "a value in (0, 1)")
        let counted = CountingOperator(op)
        let n = counted.dimension
        guard n > 0 else { throw EstimationError.emptyOperator }
        var generator = SeededGenerator(seed: seed)

        // Spectral bounds from Lanczos: each Ritz value is within ‖r‖ of an eigenvalue, and the
        // extreme Ritz values lie inside the spectrum, so [θ_min − β_m, θ_max + β_m] covers it.
        var boundStart = Matrix<Double>(rows: 1, columns: n)
        ProbeDistribution.gaussian.fill(&boundStart, using: &generator)
        let run = try Lanczos(steps: boundSteps).decompose(counted, start: boundStart)[0]
        let ritz = try GaussQuadrature(run)
        let slack = run.brokeDown ? 0 : run.residualNorm
        var low = (ritz.nodes.first ?? 0) - slack
        var high = (ritz.nodes.last ?? 0) + slack
        let spread = max(high - low, 1e-12 * max(abs(high), abs(low), 1))
        low -= margin * spread
        high += margin * spread
        let center = (high + low) / 2, halfWidth = (high - low) / 2

        // Chebyshev moments with a block of probes.
        var z = Matrix<Double>(rows: probes, columns: n)
        ProbeDistribution.rademacher.fill(&z, using: &generator)
        var previous = z
        var current = Matrix<Double>(rows: probes, columns: n)
        var image = Matrix<Double>(rows: probes, columns: n)
        var mu = [Double](repeating: 0, count: moments)
        func accumulate(_ k: Int, _ v: Matrix<Double>) throws {
            mu[k] = try BlockKernels.rowDots(z, v).reduce(0, +) / Double(probes * n)
        }
        try accumulate(0, previous)
        try counted.apply(previous, into: &image)
        for i in 0..<(probes * n) { current.storage[i] = (image.storage[i] - center * previous.storage[i]) / halfWidth }
        try accumulate(1, current)
        if moments > 2 {
            for k in 2..<moments {
                try counted.apply(current, into: &image)
                for i in 0..<(probes * n) {
                    let next = 2 * (image.storage[i] - center * current.storage[i]) / halfWidth - previous.storage[i]
                    previous.storage[i] = current.storage[i]
                    current.storage[i] = next
                }
                try accumulate(k, current)
            }
        }
        let g = KernelPolynomialMethod.jackson(moments)
        var input = [Double](repeating: 0, count: points)
        for k in 0..<moments { input[k] = g[k] * mu[k] }
        let y = try DCT.typeIII(input)
        var grid = [Double](repeating: 0, count: points)
        var values = [Double](repeating: 0, count: points)
        var weights = [Double](repeating: 0, count: points)
        for j in 0..<points {
            // Node j = G − 1 − i so that the output is ascending in λ.
            let i = points - 1 - j
            let x = Double.cos(Double.pi * (Double(i) + 0.5) / Double(points))
            let root = (1 - x * x).squareRoot()
            grid[j] = center + halfWidth * x
            values[j] = y[i] / (Double.pi * root * halfWidth)
            weights[j] = Double.pi * root * halfWidth / Double(points)
        }
        return SpectralDensity(points: grid, values: values, weights: weights, cost: counted.cost)
    }
}

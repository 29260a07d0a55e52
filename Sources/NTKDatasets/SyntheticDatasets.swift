import NTKLinearAlgebra

/// Seeded synthetic data sets: the same arguments and seed give the same data on every
/// platform (all randomness comes from `SeededGenerator`, all arithmetic in Double before a
/// final conversion to `Scalar`).
///
/// Random streams are separated (`SeededGenerator(seed:stream:)`) so that, e.g., changing the
/// noise level of a teacher–student set keeps its inputs and its teacher.
public enum SyntheticDatasets {
    /// The teacher network of `teacherStudent`.
    public enum TeacherActivation: String, Sendable, Hashable, CaseIterable {
        /// y = W₂ tanh(W₁x/√d)/√h.
        case tanh
        /// y = W x/√d.
        case linear
    }

    /// Teacher–student regression: inputs x ~ N(0, I_d) and targets from a random teacher
    /// with standard-normal weights in the NTK scaling, y = W₂ tanh(W₁x/√d)/√h (or W x/√d),
    /// plus N(0, noise²) label noise. The classic setting of Gardner & Derrida (1989) and of
    /// NTK/kernel-regression learning curves (e.g. Bordelon, Canatar, Pehlevan 2020).
    ///
    /// - Complexity: O(n·h·(d + k)) through two GEMMs.
    public static func teacherStudent<Scalar: BLASScalar>(
        count: Int, inputSize: Int, outputSize: Int = 1, hiddenWidth: Int = 32,
        activation: TeacherActivation = .tanh, noise: Double = 0, seed: UInt64,
        as _: Scalar.Type = Scalar.self
    ) throws(DatasetError) -> Dataset<Scalar> {
        try positive(count, "count")
        try positive(inputSize, "inputSize")
        try positive(outputSize, "outputSize")
        try positive(hiddenWidth, "hiddenWidth")
        try nonNegative(noise, "noise")
        var inputRandom = SeededGenerator(seed: seed, stream: 0)
        var teacherRandom = SeededGenerator(seed: seed, stream: 1)
        var noiseRandom = SeededGenerator(seed: seed, stream: 2)
        let x = gaussianMatrix(rows: count, columns: inputSize, &inputRandom)
        var y: Matrix<Double>
        do {
            switch activation {
            case .linear:
                let w = gaussianMatrix(rows: outputSize, columns: inputSize, &teacherRandom)
                y = try x.multiplied(by: w, transposeOther: true)
                scale(&y, by: 1 / Double(inputSize).squareRoot())
            case .tanh:
                let w1 = gaussianMatrix(rows: hiddenWidth, columns: inputSize, &teacherRandom)
                let w2 = gaussianMatrix(rows: outputSize, columns: hiddenWidth, &teacherRandom)
                var hidden = try x.multiplied(by: w1, transposeOther: true)
                let s = 1 / Double(inputSize).squareRoot()
                for i in hidden.storage.indices { hidden.storage[i] = Double.tanh(hidden.storage[i] * s) }
                y = try hidden.multiplied(by: w2, transposeOther: true)
                scale(&y, by: 1 / Double(hiddenWidth).squareRoot())
            }
        } catch {
            throw .invalidArgument(name: "teacher size", value: "\(error)", expected: "BLAS-sized dimensions")
        }
        if noise > 0 {
            for i in y.storage.indices { y.storage[i] += noise * noiseRandom.nextGaussian() }
        }
        return try Dataset(
            name: "teacher-student-\(activation.rawValue)", inputs: x.converted(), targets: y.converted())
    }

    /// Two interleaving half circles in the plane (scikit-learn's `make_moons`): ⌊n/2⌋ points
    /// (cos t, sin t) of class 0 and the rest (1 − cos t, ½ − sin t) of class 1, t evenly
    /// spaced in [0, π], plus N(0, noise²) noise on each coordinate, in seeded random order.
    public static func twoMoons<Scalar: BLASScalar>(
        count: Int, noise: Double = 0.1, seed: UInt64, as _: Scalar.Type = Scalar.self
    ) throws(DatasetError) -> Dataset<Scalar> {
        guard count >= 4 else {
            throw .invalidArgument(name: "count", value: "\(count)", expected: "≥ 4")
        }
        try nonNegative(noise, "noise")
        var random = SeededGenerator(seed: seed)
        let outer = count / 2, inner = count - outer
        var points: [(Double, Double, Int)] = []
        for i in 0..<outer {
            let t = Double.pi * Double(i) / Double(outer - 1)
            points.append((Double.cos(t), Double.sin(t), 0))
        }
        for i in 0..<inner {
            let t = Double.pi * Double(i) / Double(inner - 1)
            points.append((1 - Double.cos(t), 0.5 - Double.sin(t), 1))
        }
        return try planar(points, noise: noise, name: "two-moons", classCount: 2, &random)
    }

    /// k interleaved spiral arms: example i belongs to arm a = i mod k, at radius t ~ U(0, 1]
    /// and angle 2π·revolutions·t + 2πa/k, plus N(0, noise²) noise per coordinate, in seeded
    /// random order. Class counts differ by at most one.
    public static func spirals<Scalar: BLASScalar>(
        count: Int, arms: Int = 2, revolutions: Double = 1, noise: Double = 0.02, seed: UInt64,
        as _: Scalar.Type = Scalar.self
    ) throws(DatasetError) -> Dataset<Scalar> {
        guard arms >= 2 else { throw .invalidArgument(name: "arms", value: "\(arms)", expected: "≥ 2") }
        guard count >= arms else {
            throw .invalidArgument(name: "count", value: "\(count)", expected: "≥ arms (\(arms))")
        }
        guard revolutions > 0, revolutions.isFinite else {
            throw .invalidArgument(name: "revolutions", value: "\(revolutions)", expected: "a positive number")
        }
        try nonNegative(noise, "noise")
        var random = SeededGenerator(seed: seed)
        var points: [(Double, Double, Int)] = []
        for i in 0..<count {
            let arm = i % arms
            let t = 1 - random.nextUnit()  // in (0, 1]
            let angle = 2 * Double.pi * (revolutions * t + Double(arm) / Double(arms))
            points.append((t * Double.cos(angle), t * Double.sin(angle), arm))
        }
        return try planar(points, noise: noise, name: "spirals-\(arms)", classCount: arms, &random)
    }

    /// One-dimensional sinusoid regression: x ~ U(−π, π), y = A·sin(ωx + φ) + N(0, noise²)
    /// — the few-shot regression task of Finn, Abbeel, Levine (2017, MAML).
    public static func sinusoid<Scalar: BLASScalar>(
        count: Int, amplitude: Double = 1, frequency: Double = 1, phase: Double = 0,
        noise: Double = 0, seed: UInt64, as _: Scalar.Type = Scalar.self
    ) throws(DatasetError) -> Dataset<Scalar> {
        try positive(count, "count")
        try nonNegative(noise, "noise")
        for (name, value) in [("amplitude", amplitude), ("frequency", frequency), ("phase", phase)]
        where !value.isFinite {
            throw .invalidArgument(name: name, value: "\(value)", expected: "a finite number")
        }
        var random = SeededGenerator(seed: seed)
        var x = Matrix<Scalar>(rows: count, columns: 1)
        var y = Matrix<Scalar>(rows: count, columns: 1)
        for i in 0..<count {
            let xi = Double.pi * (2 * random.nextUnit() - 1)
            x.storage[i] = Scalar(xi)
            y.storage[i] = Scalar(amplitude * Double.sin(frequency * xi + phase) + noise * random.nextGaussian())
        }
        return try Dataset(name: "sinusoid", inputs: x, targets: y)
    }

    /// A stochastic block model graph (Holland, Laskey, Leinhardt 1983) for node
    /// classification: community c has `communitySizes[c]` consecutive nodes; each pair of
    /// nodes is joined independently with probability `pIn` inside a community and `pOut`
    /// across. Node features are x_i = signal·μ_{c(i)} + N(0, I), with μ_c uniform on the unit
    /// sphere of R^featureSize (the contextual SBM of Deshpande et al. 2018). Targets are
    /// one-hot communities.
    /// - Complexity: O(N²) edge draws.
    public static func stochasticBlockModel<Scalar: BLASScalar>(
        communitySizes: [Int], pIn: Double, pOut: Double, featureSize: Int = 8,
        featureSignal: Double = 1, seed: UInt64, as _: Scalar.Type = Scalar.self
    ) throws(DatasetError) -> Dataset<Scalar> {
        guard communitySizes.count >= 2, communitySizes.allSatisfy({ $0 > 0 }) else {
            throw .invalidArgument(
                name: "communitySizes", value: "\(communitySizes)", expected: "at least two positive sizes")
        }
        for (name, p) in [("pIn", pIn), ("pOut", pOut)] where !(0...1).contains(p) {
            throw .invalidArgument(name: name, value: "\(p)", expected: "a probability in [0, 1]")
        }
        try positive(featureSize, "featureSize")
        try nonNegative(featureSignal, "featureSignal")
        var graphRandom = SeededGenerator(seed: seed, stream: 0)
        var featureRandom = SeededGenerator(seed: seed, stream: 1)
        var labels: [Int] = []
        for (c, size) in communitySizes.enumerated() {
            labels.append(contentsOf: repeatElement(c, count: size))
        }
        let n = labels.count
        var edges: [(Int, Int)] = []
        for i in 0..<n {
            for j in (i + 1)..<n where graphRandom.nextUnit() < (labels[i] == labels[j] ? pIn : pOut) {
                edges.append((i, j))
            }
        }
        var means = [Double](repeating: 0, count: communitySizes.count * featureSize)
        for c in 0..<communitySizes.count {
            means.withUnsafeMutableBufferPointer { buffer in
                featureRandom.fillUniformOnSphere(
                    UnsafeMutableBufferPointer(rebasing: buffer[(c * featureSize)..<((c + 1) * featureSize)]),
                    radius: 1)
            }
        }
        var x = Matrix<Scalar>(rows: n, columns: featureSize)
        for i in 0..<n {
            for j in 0..<featureSize {
                x[i, j] = Scalar(featureSignal * means[labels[i] * featureSize + j] + featureRandom.nextGaussian())
            }
        }
        let graph = try Graph(nodeCount: n, edges: edges, name: "stochastic-block-model")
        return try Dataset.classification(
            name: "stochastic-block-model", inputs: x, labels: labels,
            classCount: communitySizes.count, graph: graph)
    }

    // MARK: Helpers

    private static func positive(_ value: Int, _ name: String) throws(DatasetError) {
        guard value > 0 else { throw .invalidArgument(name: name, value: "\(value)", expected: "≥ 1") }
    }

    private static func nonNegative(_ value: Double, _ name: String) throws(DatasetError) {
        guard value >= 0, value.isFinite else {
            throw .invalidArgument(name: name, value: "\(value)", expected: "a finite number ≥ 0")
        }
    }

    private static func gaussianMatrix(rows: Int, columns: Int, _ random: inout SeededGenerator) -> Matrix<Double> {
        var m = Matrix<Double>(rows: rows, columns: columns)
        m.storage.withUnsafeMutableBufferPointer { random.fillGaussian($0) }
        return m
    }

    private static func scale(_ m: inout Matrix<Double>, by factor: Double) {
        for i in m.storage.indices { m.storage[i] *= factor }
    }

    /// Labelled planar points plus isotropic noise, shuffled, as a classification set.
    private static func planar<Scalar: BLASScalar>(
        _ points: [(Double, Double, Int)], noise: Double, name: String, classCount: Int,
        _ random: inout SeededGenerator
    ) throws(DatasetError) -> Dataset<Scalar> {
        let order = Dataset<Scalar>.permutation(count: points.count, seed: random.next())
        var x = Matrix<Scalar>(rows: points.count, columns: 2)
        var labels = [Int](repeating: 0, count: points.count)
        for (row, i) in order.enumerated() {
            x[row, 0] = Scalar(points[i].0 + noise * random.nextGaussian())
            x[row, 1] = Scalar(points[i].1 + noise * random.nextGaussian())
            labels[row] = points[i].2
        }
        return try Dataset.classification(name: name, inputs: x, labels: labels, classCount: classCount)
    }
}

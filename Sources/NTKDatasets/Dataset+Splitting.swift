import NTKLinearAlgebra

extension Dataset {
    /// The examples at `indices`, in that order.
    ///
    /// For a data set with a graph the indices must be distinct and the result carries the
    /// subgraph they induce (renumbered). For node classification one usually keeps the whole
    /// graph and splits only the node indices: see `splitIndices(trainFraction:seed:)`.
    /// - Complexity: O(|indices|·(d + k)) (+ O(N + E) with a graph).
    public func subset(_ indices: [Int]) throws(DatasetError) -> Dataset {
        for i in indices where !(0..<count).contains(i) {
            throw .indexOutOfRange(dataset: name, index: i, count: count)
        }
        var subgraph: Graph?
        if let graph {
            guard Set(indices).count == indices.count else {
                throw .invalidArgument(
                    name: "indices", value: "\(indices.count) indices with repeats",
                    expected: "distinct node indices for a graph data set")
            }
            subgraph = graph.induced(by: indices)
        }
        let d = inputSize, k = outputSize
        var x = Matrix<Scalar>(rows: indices.count, columns: d)
        var y = Matrix<Scalar>(rows: indices.count, columns: k)
        for (row, i) in indices.enumerated() {
            x.storage.replaceSubrange((row * d)..<((row + 1) * d), with: inputs.storage[(i * d)..<((i + 1) * d)])
            y.storage.replaceSubrange((row * k)..<((row + 1) * k), with: targets.storage[(i * k)..<((i + 1) * k)])
        }
        return Dataset(
            unchecked: name, inputs: x, inputShape: inputShape, targets: y,
            labels: labels.map { l in indices.map { l[$0] } }, classCount: classCount, graph: subgraph)
    }

    /// A seeded random partition of `0..<count` into `round(trainFraction·count)` training
    /// and the remaining test indices (each part in random order).
    ///
    /// `trainFraction` must lie in the open interval (0, 1) and both parts must be non-empty.
    /// The permutation is a Fisher–Yates shuffle driven by `SeededGenerator(seed:)`, so the
    /// split is identical on every platform and toolchain.
    public func splitIndices(trainFraction: Double, seed: UInt64) throws(DatasetError)
        -> (train: [Int], test: [Int])
    {
        guard trainFraction > 0, trainFraction < 1 else {
            throw .invalidArgument(
                name: "trainFraction", value: "\(trainFraction)", expected: "a fraction in (0, 1)")
        }
        let trainCount = Int((trainFraction * Double(count)).rounded())
        guard trainCount > 0, trainCount < count else {
            throw .invalidArgument(
                name: "trainFraction", value: "\(trainFraction)",
                expected: "a fraction leaving both parts of \(count) examples non-empty")
        }
        let order = Dataset.permutation(count: count, seed: seed)
        return (Array(order[..<trainCount]), Array(order[trainCount...]))
    }

    /// A seeded random train/test split (see `splitIndices(trainFraction:seed:)`).
    /// For graph data sets each part carries its induced subgraph.
    public func split(trainFraction: Double, seed: UInt64) throws(DatasetError)
        -> (train: Dataset, test: Dataset)
    {
        let (train, test) = try splitIndices(trainFraction: trainFraction, seed: seed)
        return (try subset(train), try subset(test))
    }

    /// Consecutive mini-batches of `size` examples (the last one may be smaller), in data
    /// order or, with `shuffleSeed`, in a seeded random order. Every example appears in
    /// exactly one batch. For graph data sets each batch carries its induced subgraph.
    /// - Complexity: O(n·(d + k)).
    public func batches(size: Int, shuffleSeed: UInt64? = nil) throws(DatasetError) -> [Dataset] {
        guard size > 0 else {
            throw .invalidArgument(name: "batch size", value: "\(size)", expected: "≥ 1")
        }
        let order = shuffleSeed.map { Dataset.permutation(count: count, seed: $0) } ?? Array(0..<count)
        var result: [Dataset] = []
        var start = 0
        while start < count {
            let end = Swift.min(start + size, count)
            result.append(try subset(Array(order[start..<end])))
            start = end
        }
        return result
    }

    /// A uniformly random permutation of `0..<count` (Fisher–Yates; the index in `0..<m` is
    /// the high word of a 64×64-bit product, bias below m/2⁶⁴).
    static func permutation(count: Int, seed: UInt64) -> [Int] {
        var generator = SeededGenerator(seed: seed)
        var order = Array(0..<count)
        var i = count - 1
        while i > 0 {
            let j = Int(generator.next().multipliedFullWidth(by: UInt64(i + 1)).high)
            order.swapAt(i, j)
            i -= 1
        }
        return order
    }
}

import NTKLinearAlgebra

/// A supervised data set held in memory: n examples as rows of an input matrix and a target
/// matrix, with optional class labels and an optional graph over the examples (node-level
/// data sets, where example i is node i).
///
/// - `inputs` is n×d, row-major, each row one example flattened in C order from
///   `inputShape` (e.g. `[1, 8, 8]` or `[3, 32, 32]` for images, `[d]` for vectors).
/// - `targets` is n×k: one-hot rows for classification, regression values otherwise.
/// - `labels` (classification only) are the class indices in `0..<classCount`.
///
/// A value type: transformations (`subset`, `split`, `standardized`, `batches`) return new
/// data sets.
public struct Dataset<Scalar: BLASScalar>: Sendable, Equatable {
    /// A short name used in messages (e.g. "digits", "two-moons").
    public var name: String
    public internal(set) var inputs: Matrix<Scalar>
    /// Shape of one example; its product is `inputs.columns`.
    public internal(set) var inputShape: [Int]
    public internal(set) var targets: Matrix<Scalar>
    public internal(set) var labels: [Int]?
    public internal(set) var classCount: Int?
    /// Structure over the examples for node-level sets (`graph.nodeCount == count`).
    public internal(set) var graph: Graph?

    /// Number of examples n.
    public var count: Int { inputs.rows }
    /// Flattened input size d.
    public var inputSize: Int { inputs.columns }
    /// Target size k.
    public var outputSize: Int { targets.columns }

    /// Wraps inputs and targets, checking that every part agrees in size: `targets.rows`,
    /// `labels.count` and `graph.nodeCount` equal `inputs.rows`; the product of `inputShape`
    /// (default `[inputs.columns]`) equals `inputs.columns`; labels and `classCount` come
    /// together and every label lies in `0..<classCount`.
    public init(
        name: String, inputs: Matrix<Scalar>, inputShape: [Int]? = nil, targets: Matrix<Scalar>,
        labels: [Int]? = nil, classCount: Int? = nil, graph: Graph? = nil
    ) throws(DatasetError) {
        let n = inputs.rows
        let shape = inputShape ?? [inputs.columns]
        var product = 1
        for d in shape {
            let (p, overflow) = product.multipliedReportingOverflow(by: d)
            guard d >= 0, !overflow else {
                throw .inconsistent(dataset: name, reason: "input shape \(shape) is invalid")
            }
            product = p
        }
        guard product == inputs.columns else {
            throw .inconsistent(
                dataset: name,
                reason: "input shape \(shape) has \(product) elements, expected \(inputs.columns) (the input width)")
        }
        guard targets.rows == n else {
            throw .inconsistent(dataset: name, reason: "\(targets.rows) target rows for \(n) inputs")
        }
        switch (labels, classCount) {
        case (nil, nil):
            break
        case let (labels?, classCount?):
            guard classCount > 0 else {
                throw .invalidArgument(name: "classCount", value: "\(classCount)", expected: "≥ 1")
            }
            guard labels.count == n else {
                throw .inconsistent(dataset: name, reason: "\(labels.count) labels for \(n) inputs")
            }
            if let (i, label) = labels.enumerated().first(where: { !(0..<classCount).contains($0.element) }) {
                throw .labelOutOfRange(file: name, index: i, label: label, classCount: classCount)
            }
        default:
            throw .inconsistent(dataset: name, reason: "labels and classCount must be given together")
        }
        if let graph, graph.nodeCount != n {
            throw .inconsistent(dataset: name, reason: "graph has \(graph.nodeCount) nodes for \(n) inputs")
        }
        self.name = name
        self.inputs = inputs
        self.inputShape = shape
        self.targets = targets
        self.labels = labels
        self.classCount = classCount
        self.graph = graph
    }

    /// A classification set whose targets are the one-hot encodings of `labels`
    /// (n×classCount).
    public static func classification(
        name: String, inputs: Matrix<Scalar>, inputShape: [Int]? = nil, labels: [Int],
        classCount: Int, graph: Graph? = nil
    ) throws(DatasetError) -> Dataset {
        guard classCount > 0 else {
            throw .invalidArgument(name: "classCount", value: "\(classCount)", expected: "≥ 1")
        }
        var targets = Matrix<Scalar>(rows: labels.count, columns: classCount)
        for (i, label) in labels.enumerated() {
            guard (0..<classCount).contains(label) else {
                throw .labelOutOfRange(file: name, index: i, label: label, classCount: classCount)
            }
            targets[i, label] = 1
        }
        return try Dataset(
            name: name, inputs: inputs, inputShape: inputShape, targets: targets, labels: labels,
            classCount: classCount, graph: graph)
    }

    /// Number of examples of each class (`nil` without labels).
    public func classCounts() -> [Int]? {
        guard let labels, let classCount else { return nil }
        var counts = [Int](repeating: 0, count: classCount)
        for label in labels { counts[label] += 1 }
        return counts
    }

    /// The same data with the element type converted.
    public func converted<Other: BLASScalar>(to _: Other.Type = Other.self) -> Dataset<Other> {
        // Sizes were validated when `self` was built; conversion keeps them.
        Dataset<Other>(
            unchecked: name, inputs: inputs.converted(), inputShape: inputShape,
            targets: targets.converted(), labels: labels, classCount: classCount, graph: graph)
    }

    /// Memberwise initializer for parts already known to agree.
    init(
        unchecked name: String, inputs: Matrix<Scalar>, inputShape: [Int], targets: Matrix<Scalar>,
        labels: [Int]?, classCount: Int?, graph: Graph?
    ) {
        self.name = name
        self.inputs = inputs
        self.inputShape = inputShape
        self.targets = targets
        self.labels = labels
        self.classCount = classCount
        self.graph = graph
    }
}

import Foundation
import Testing
import NTKLinearAlgebra
@testable import NTKDatasets

@Suite("Dataset")
struct DatasetTests {
    /// 10 examples, input i = [i, 2i, −i], label i mod 3.
    private func small() throws -> Dataset<Double> {
        let x = Matrix<Double>(rows: 10, columns: 3) { i, j in Double(i) * [1, 2, -1][j] }
        return try Dataset.classification(name: "small", inputs: x, labels: (0..<10).map { $0 % 3 }, classCount: 3)
    }

    @Test func classificationBuildsOneHotTargets() throws {
        let d = try small()
        #expect(d.count == 10 && d.inputSize == 3 && d.outputSize == 3 && d.inputShape == [3])
        for i in 0..<10 {
            for c in 0..<3 { #expect(d.targets[i, c] == (c == i % 3 ? 1 : 0)) }
        }
        #expect(d.classCounts() == [4, 3, 3])
    }

    @Test func initRejectsInconsistentParts() throws {
        let x = Matrix<Float>(rows: 4, columns: 6)
        expectDatasetError("target rows", { () throws(DatasetError) in
            _ = try Dataset(name: "t", inputs: x, targets: Matrix(rows: 3, columns: 1))
        }, matches: { if case .inconsistent("t", _) = $0 { true } else { false } })
        expectDatasetError("input shape", { () throws(DatasetError) in
            _ = try Dataset(name: "t", inputs: x, inputShape: [2, 2], targets: Matrix(rows: 4, columns: 1))
        }, matches: { if case .inconsistent("t", _) = $0 { true } else { false } })
        expectDatasetError("label range", { () throws(DatasetError) in
            _ = try Dataset.classification(name: "t", inputs: x, labels: [0, 1, 2, 1], classCount: 2)
        }, matches: { $0 == .labelOutOfRange(file: "t", index: 2, label: 2, classCount: 2) })
        expectDatasetError("label count", { () throws(DatasetError) in
            _ = try Dataset.classification(name: "t", inputs: x, labels: [0, 1], classCount: 2)
        }, matches: { if case .inconsistent("t", _) = $0 { true } else { false } })
        expectDatasetError("graph size", { () throws(DatasetError) in
            _ = try Dataset(
                name: "t", inputs: x, targets: Matrix(rows: 4, columns: 1),
                graph: try Graph(nodeCount: 5, edges: [(0, 1)]))
        }, matches: { if case .inconsistent("t", _) = $0 { true } else { false } })
    }

    @Test func subsetKeepsRowsAndLabels() throws {
        let d = try small()
        let s = try d.subset([7, 2, 2])
        #expect(s.count == 3 && s.labels == [1, 2, 2])
        #expect(s.inputs.row(0) == [7, 14, -7])
        #expect(s.targets.row(1) == [0, 0, 1])
        expectDatasetError("index 10", { () throws(DatasetError) in _ = try d.subset([0, 10]) },
                           matches: { $0 == .indexOutOfRange(dataset: "small", index: 10, count: 10) })
    }

    @Test func splitIsAPartitionAndDeterministic() throws {
        let d = try small()
        let (train, test) = try d.split(trainFraction: 0.7, seed: 5)
        #expect(train.count == 7 && test.count == 3)
        // Every example appears exactly once across the parts (input row 0 identifies it).
        let ids = (train.inputs.storage.enumerated().filter { $0.offset % 3 == 0 }.map(\.element)
            + test.inputs.storage.enumerated().filter { $0.offset % 3 == 0 }.map(\.element)).map { Int($0) }
        #expect(ids.sorted() == Array(0..<10))
        let again = try d.split(trainFraction: 0.7, seed: 5)
        #expect(again.train == train && again.test == test)
        let other = try d.splitIndices(trainFraction: 0.7, seed: 6)
        #expect(other.train != (try d.splitIndices(trainFraction: 0.7, seed: 5)).train)
        for bad in [0.0, 1.0, -0.1, .nan, 0.01] {
            expectDatasetError("fraction \(bad)", { () throws(DatasetError) in
                _ = try d.split(trainFraction: bad, seed: 1)
            }, matches: { if case .invalidArgument("trainFraction", _, _) = $0 { true } else { false } })
        }
    }

    @Test func permutationIsUniformEnough() {
        // Position of element 0 over 3000 seeded permutations of 5: each of 5 positions has
        // expected count 600, standard deviation √(3000·0.2·0.8) ≈ 21.9; allow 5σ.
        var counts = [Int](repeating: 0, count: 5)
        for seed in 0..<3000 {
            let p = Dataset<Double>.permutation(count: 5, seed: UInt64(seed))
            #expect(p.sorted() == [0, 1, 2, 3, 4])
            counts[p.firstIndex(of: 0) ?? 0] += 1
        }
        let sigma = (3000 * 0.2 * 0.8).squareRoot()
        for c in counts { #expect(abs(Double(c) - 600) <= 5 * sigma) }
    }

    @Test func batchesCoverEveryExampleOnce() throws {
        let d = try small()
        let ordered = try d.batches(size: 4)
        #expect(ordered.map(\.count) == [4, 4, 2])
        #expect(ordered[1].labels == [1, 2, 0, 1])  // examples 4…7
        let shuffled = try d.batches(size: 3, shuffleSeed: 9)
        #expect(shuffled.map(\.count) == [3, 3, 3, 1])
        let firsts = shuffled.flatMap { b in (0..<b.count).map { Int(b.inputs[$0, 0]) } }
        #expect(firsts.sorted() == Array(0..<10))
        #expect(firsts != Array(0..<10))
        #expect(try d.batches(size: 3, shuffleSeed: 9) == shuffled)
        expectDatasetError("size 0", { () throws(DatasetError) in _ = try d.batches(size: 0) },
                           matches: { if case .invalidArgument = $0 { true } else { false } })
    }

    @Test func standardizedHasZeroMeanUnitVariance() throws {
        var x = Matrix<Float>(rows: 50, columns: 3)
        var g = SeededGenerator(seed: 3)
        for i in 0..<50 {
            x[i, 0] = Float(5 + 3 * g.nextGaussian())
            x[i, 1] = Float(-2 + 0.1 * g.nextGaussian())
            x[i, 2] = 7  // constant: only centred
        }
        let d = try Dataset(name: "s", inputs: x, targets: Matrix(rows: 50, columns: 1))
        let z = try d.standardized()
        let stats = z.featureStatistics()
        // Float rounding of values of size O(10): c·n·ε with c = 10.
        let tolerance = 10 * 50 * Double(Float.ulpOfOne)
        for j in 0..<3 { #expect(abs(stats.mean[j]) <= tolerance) }
        for j in 0..<2 { #expect(abs(stats.standardDeviation[j] - 1) <= tolerance) }
        #expect(stats.standardDeviation[2] <= tolerance)
        // Test data standardized with training statistics.
        let trainStats = d.featureStatistics()
        let again = try d.standardized(using: trainStats)
        #expect(again == z)
        expectDatasetError("statistics size", { () throws(DatasetError) in
            _ = try d.standardized(using: FeatureStatistics(mean: [0], standardDeviation: [1]))
        }, matches: { if case .inconsistent("s", _) = $0 { true } else { false } })
    }

    @Test func graphValidationAndInducedSubgraph() throws {
        let g = try Graph(nodeCount: 4, edges: [(1, 0), (2, 3), (1, 2)])
        #expect(g.edges == [.init(source: 0, target: 1), .init(source: 1, target: 2), .init(source: 2, target: 3)])
        #expect(g.degrees() == [1, 2, 2, 1])
        let a: Matrix<Double> = g.adjacencyMatrix()
        #expect(a == a.transposed() && a.storage.reduce(0, +) == 6)
        let sub = g.induced(by: [3, 2, 0])
        #expect(sub.nodeCount == 3 && sub.edges == [.init(source: 0, target: 1)])
        expectDatasetError("self loop", { () throws(DatasetError) in _ = try Graph(nodeCount: 3, edges: [(1, 1)]) },
                           matches: { if case .inconsistent = $0 { true } else { false } })
        expectDatasetError("duplicate", { () throws(DatasetError) in
            _ = try Graph(nodeCount: 3, edges: [(0, 1), (1, 0)])
        }, matches: { if case .inconsistent = $0 { true } else { false } })
        expectDatasetError("node range", { () throws(DatasetError) in _ = try Graph(nodeCount: 3, edges: [(0, 3)]) },
                           matches: { $0 == .indexOutOfRange(dataset: "graph", index: 3, count: 3) })
    }

    @Test func convertedKeepsValues() throws {
        let d = try small()
        let f: Dataset<Float> = d.converted()
        #expect(f.labels == d.labels && f.inputShape == d.inputShape)
        for i in d.inputs.storage.indices {
            #expect(abs(Double(f.inputs.storage[i]) - d.inputs.storage[i]) <= 10 * Double(Float.ulpOfOne))
        }
    }
}

import Foundation
import Testing
import NTKLinearAlgebra
@testable import NTKDatasets

@Suite("EmbeddedDatasets")
struct EmbeddedDatasetsTests {
    @Test func digitsShapesAndChecksums() throws {
        let d = try EmbeddedDatasets.digits(as: Double.self)
        #expect(d.count == 1797 && d.inputSize == 64 && d.inputShape == [1, 8, 8] && d.outputSize == 10)
        // Figures printed by Resources/make_resources.py from scikit-learn's digits.csv.gz.
        #expect(d.classCounts() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180])
        #expect(d.labels?.first == 0 && d.labels?.last == 8)
        // Sums of values k/16 (exact in binary): the tolerance c·n·ε covers summation order.
        let first = d.inputs.row(0).reduce(0, +)
        #expect(abs(first - 294.0 / 16) <= 64 * Double.ulpOfOne * 294 / 16)
        let total = d.inputs.storage.reduce(0, +)
        #expect(abs(total - 561_718.0 / 16) <= Double(d.inputs.storage.count) * Double.ulpOfOne * 561_718 / 16)
        #expect(d.inputs.storage.allSatisfy { (0...1).contains($0) })
        #expect(d.inputs.storage.contains(1))  // some pixel has the full count 16
        #expect(d.targets[0, 0] == 1)
    }

    @Test func digitsSplitIsStableUnderSeed() throws {
        let d = try EmbeddedDatasets.digits(as: Float.self)
        let a = try d.split(trainFraction: 0.8, seed: 2024)
        let b = try d.split(trainFraction: 0.8, seed: 2024)
        #expect(a.train.count == 1438 && a.test.count == 359)
        #expect(a.train == b.train && a.test == b.test)
        // Stratification is not promised, but a random 359-example test set has every class.
        #expect(a.test.classCounts()?.allSatisfy { $0 > 0 } == true)
    }

    @Test func karateClubGraph() throws {
        let d = try EmbeddedDatasets.karateClub(as: Double.self)
        let graph = try #require(d.graph)
        #expect(graph.nodeCount == 34 && graph.edges.count == 78)
        #expect(d.classCounts() == [17, 17] && d.inputs == .identity(34))
        let degrees = graph.degrees()
        #expect(degrees.reduce(0, +) == 156)
        // The two leaders: Mr. Hi (node 0, degree 16, faction 0), the officer (node 33, 17, faction 1).
        #expect(degrees[0] == 16 && degrees[33] == 17)
        #expect(d.labels?[0] == 0 && d.labels?[33] == 1)
        let byDegree = try EmbeddedDatasets.karateClub(features: .degree, as: Float.self)
        #expect(byDegree.inputSize == 1 && abs(byDegree.inputs[33, 0] - 1) <= Float.ulpOfOne)
        #expect(abs(byDegree.inputs[0, 0] - 16 / 17) <= Float.ulpOfOne)
    }

    @Test func karateParserRejectsMalformedLines() {
        expectDatasetError("record", { () throws(DatasetError) in
            _ = try EmbeddedDatasets.parseKarate("node 0 0\nnode 1 1\nlink 0 1\n", file: "k")
        }, matches: { if case .malformed("k", _) = $0 { true } else { false } })
        expectDatasetError("numbering", { () throws(DatasetError) in
            _ = try EmbeddedDatasets.parseKarate("node 0 0\nnode 5 1\n", file: "k")
        }, matches: { if case .malformed("k", _) = $0 { true } else { false } })
        expectDatasetError("edge range", { () throws(DatasetError) in
            _ = try EmbeddedDatasets.parseKarate("node 0 0\nnode 1 1\nedge 0 2\n", file: "k")
        }, matches: { $0 == .indexOutOfRange(dataset: "k", index: 2, count: 2) })
    }
}

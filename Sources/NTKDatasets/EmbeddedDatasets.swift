import Foundation
import NTKLinearAlgebra
import NTKFormats

/// Small real data sets shipped inside the package (SwiftPM resources, ≈ 120 KB), so that
/// examples and tests run offline. Provenance, licenses and a regeneration script are in
/// `Sources/NTKDatasets/Resources/README.md`.
public enum EmbeddedDatasets {
    /// Node features of the karate-club graph.
    public enum KarateFeatures: String, Sendable, Hashable, CaseIterable {
        /// One-hot node identity (34 features), the featureless-graph convention of Kipf &
        /// Welling (2017, GCN).
        case identity
        /// One feature per node: its degree divided by the largest degree.
        case degree
    }

    /// The UCI ML hand-written digits, 8×8, as distributed with scikit-learn: 1797 images of
    /// the digits 0–9 whose pixels are counts 0–16 of "on" pixels in 4×4 blocks of 32×32
    /// bitmaps. Inputs are the 64 pixels scaled to [0, 1] by 1/16 (input shape [1, 8, 8]),
    /// targets one-hot over 10 classes, in the original order.
    ///
    /// Data: E. Alpaydin and C. Kaynak, "Optical Recognition of Handwritten Digits", UCI
    /// Machine Learning Repository, 1998, https://doi.org/10.24432/C50P49. License: CC BY 4.0.
    public static func digits<Scalar: BLASScalar>(as _: Scalar.Type = Scalar.self) throws(DatasetError)
        -> Dataset<Scalar>
    {
        let images = try npy(resource("digits_images.npy"))
        let labels = try npy(resource("digits_labels.npy"))
        guard images.shape == [1797, 64], labels.shape == [1797] else {
            throw .malformed(
                file: "digits", reason: "embedded arrays have shapes \(images.shape), \(labels.shape) (expected [1797, 64], [1797])")
        }
        var x = Matrix<Scalar>(rows: 1797, columns: 64)
        for i in images.values.indices { x.storage[i] = Scalar(images.values[i] / 16) }
        return try Dataset.classification(
            name: "digits", inputs: x, inputShape: [1, 8, 8], labels: labels.values.map { Int($0) },
            classCount: 10)
    }

    /// Zachary's karate club: 34 members of a university karate club, 78 friendship ties,
    /// and the faction each member joined when the club split (0 = Mr. Hi, 1 = Officer; 17
    /// each) — the classic node-classification graph. Targets are one-hot factions; the graph
    /// is attached.
    ///
    /// Data: W. W. Zachary, "An information flow model for conflict and fission in small
    /// groups", Journal of Anthropological Research 33(4):452–473, 1977 (as in networkx's
    /// `karate_club_graph`).
    public static func karateClub<Scalar: BLASScalar>(
        features: KarateFeatures = .identity, as _: Scalar.Type = Scalar.self
    ) throws(DatasetError) -> Dataset<Scalar> {
        let url = try resource("karate_club.txt")
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw .io(file: url.path, message: "cannot read the file (\(error.localizedDescription))")
        }
        let (graph, labels) = try parseKarate(text, file: url.path)
        let n = graph.nodeCount
        let x: Matrix<Scalar>
        switch features {
        case .identity:
            x = .identity(n)
        case .degree:
            let degrees = graph.degrees()
            let largest = Double(max(1, degrees.max() ?? 1))
            var m = Matrix<Scalar>(rows: n, columns: 1)
            for i in 0..<n { m.storage[i] = Scalar(Double(degrees[i]) / largest) }
            x = m
        }
        return try Dataset.classification(
            name: "karate-club", inputs: x, labels: labels, classCount: 2, graph: graph)
    }

    /// Parses the `node i f` / `edge u v` text format of `karate_club.txt`.
    static func parseKarate(_ text: String, file: String) throws(DatasetError) -> (Graph, [Int]) {
        var factions: [Int: Int] = [:]
        var pairs: [(Int, Int)] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let fields = line.split(separator: " ")
            if fields.isEmpty || fields[0].hasPrefix("#") { continue }
            guard fields.count == 3, let a = Int(fields[1]), let b = Int(fields[2]) else {
                throw .malformed(file: file, reason: "line \(number + 1): expected 'node i f' or 'edge u v', found '\(line)'")
            }
            switch fields[0] {
            case "node":
                guard factions[a] == nil, b == 0 || b == 1 else {
                    throw .malformed(file: file, reason: "line \(number + 1): repeated node or faction not 0/1")
                }
                factions[a] = b
            case "edge":
                pairs.append((a, b))
            default:
                throw .malformed(file: file, reason: "line \(number + 1): unknown record '\(fields[0])'")
            }
        }
        let n = factions.count
        guard n > 0, factions.keys.allSatisfy({ (0..<n).contains($0) }) else {
            throw .malformed(file: file, reason: "nodes must be numbered 0..<\(n)")
        }
        let graph = try Graph(nodeCount: n, edges: pairs, name: file)
        return (graph, (0..<n).map { factions[$0] ?? 0 })
    }

    private static func resource(_ name: String) throws(DatasetError) -> URL {
        guard let directory = Bundle.module.url(forResource: "Resources", withExtension: nil) else {
            throw .io(file: name, message: "the NTKDatasets resource bundle is missing")
        }
        let url = directory.appendingPathComponent(name)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw .io(file: url.path, message: "embedded data file is missing from the resource bundle")
        }
        return url
    }

    private static func npy(_ url: URL) throws(DatasetError) -> NPYArray {
        do throws(NPYError) {
            return try NPY.read(url, requireFinite: true)
        } catch {
            throw .npy(error)
        }
    }
}

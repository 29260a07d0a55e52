import NTKLinearAlgebra

/// The renormalized adjacency of a graph convolution (Kipf & Welling 2017, arXiv:1609.02907,
/// eq. 2): Â = D^{-1/2}(A + I)D^{-1/2} with D_nn = 1 + deg(n), for an undirected graph given by
/// an edge list, in compressed sparse row form (columns sorted within a row). Â is symmetric
/// with eigenvalues in (−1, 1]; applying it to [N, F] features costs 2·nnz·F flops.
public struct GraphAdjacency: Sendable, Hashable {
    public let nodes: Int
    /// Row n's entries are `columns[rowStarts[n]..<rowStarts[n + 1]]`, `values[…]`.
    public let rowStarts: [Int]
    public let columns: [Int]
    public let values: [Double]

    /// Â = D^{-1/2}(A + I)D^{-1/2} from an undirected edge list.
    ///
    /// - Complexity: O(N + |E| log |E|).
    /// - Throws: `NetworkError.invalidLayer` (field "edge_index") naming the first edge with a
    ///   node index outside 0..<nodes.
    public init(nodes: Int, edges: [(Int, Int)]) throws {
        guard nodes > 0 else {
            throw NetworkError.invalidLayer(layer: "gcn", field: "num_nodes", message: "got \(nodes), expected a positive size")
        }
        var neighbours = [Set<Int>](repeating: [], count: nodes)
        for (k, (u, v)) in edges.enumerated() {
            guard (0..<nodes).contains(u), (0..<nodes).contains(v) else {
                throw NetworkError.invalidLayer(
                    layer: "gcn", field: "edge_index",
                    message: "edge \(k) = (\(u), \(v)) has a node index outside 0..<\(nodes)")
            }
            neighbours[u].insert(v)
            neighbours[v].insert(u)
        }
        for n in 0..<nodes { neighbours[n].insert(n) }
        let inverseRoot = neighbours.map { 1 / Double($0.count).squareRoot() }
        var rowStarts = [0], columns: [Int] = [], values: [Double] = []
        for n in 0..<nodes {
            for m in neighbours[n].sorted() {
                columns.append(m)
                values.append(inverseRoot[n] * inverseRoot[m])
            }
            rowStarts.append(columns.count)
        }
        self.nodes = nodes
        self.rowStarts = rowStarts
        self.columns = columns
        self.values = values
    }

    /// Â as a dense row-major N×N array (for tests and small graphs).
    public var dense: [Double] {
        var a = [Double](repeating: 0, count: nodes * nodes)
        for n in 0..<nodes {
            for e in rowStarts[n]..<rowStarts[n + 1] { a[n * nodes + columns[e]] = values[e] }
        }
        return a
    }
}

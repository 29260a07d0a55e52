import NTKLinearAlgebra

/// An undirected, unweighted graph on nodes `0..<nodeCount`, stored as an edge list (each
/// edge once, `source < target`, no self-loops, no duplicates) — the form node-level data
/// sets (karate club, stochastic block model) ship their structure in.
public struct Graph: Sendable, Equatable {
    /// One undirected edge with `source < target`.
    public struct Edge: Sendable, Hashable {
        public var source: Int
        public var target: Int
    }

    public private(set) var nodeCount: Int
    /// Edges sorted by (source, target).
    public private(set) var edges: [Edge]

    /// Builds a graph from node pairs in any order and orientation.
    ///
    /// Throws if a node is outside `0..<nodeCount`, for a self-loop or for a repeated edge.
    /// - Complexity: O(E log E).
    public init(nodeCount: Int, edges pairs: [(Int, Int)], name: String = "graph")
        throws(DatasetError)
    {
        guard nodeCount >= 0 else {
            throw .invalidArgument(name: "nodeCount", value: "\(nodeCount)", expected: "≥ 0")
        }
        var seen = Set<Edge>()
        var edges: [Edge] = []
        edges.reserveCapacity(pairs.count)
        for (u, v) in pairs {
            for node in [u, v] where !(0..<nodeCount).contains(node) {
                throw .indexOutOfRange(dataset: name, index: node, count: nodeCount)
            }
            guard u != v else {
                throw .inconsistent(dataset: name, reason: "self-loop at node \(u) (expected none)")
            }
            let e = Edge(source: min(u, v), target: max(u, v))
            guard seen.insert(e).inserted else {
                throw .inconsistent(
                    dataset: name, reason: "edge \(e.source)–\(e.target) is listed twice (expected once)")
            }
            edges.append(e)
        }
        self.nodeCount = nodeCount
        self.edges = edges.sorted { ($0.source, $0.target) < ($1.source, $1.target) }
    }

    /// Number of neighbours of each node.
    /// - Complexity: O(N + E).
    public func degrees() -> [Int] {
        var d = [Int](repeating: 0, count: nodeCount)
        for e in edges {
            d[e.source] += 1
            d[e.target] += 1
        }
        return d
    }

    /// The symmetric 0/1 adjacency matrix A (N×N, zero diagonal).
    /// - Complexity: O(N² + E) time and memory.
    public func adjacencyMatrix<Scalar: BLASScalar>(_: Scalar.Type = Scalar.self) -> Matrix<Scalar> {
        var a = Matrix<Scalar>(rows: nodeCount, columns: nodeCount)
        for e in edges {
            a[e.source, e.target] = 1
            a[e.target, e.source] = 1
        }
        return a
    }

    /// The subgraph induced by `nodes` (distinct, in range), renumbered so that `nodes[i]`
    /// becomes node i.
    /// - Complexity: O(N + E).
    public func induced(by nodes: [Int]) -> Graph {
        var newIndex = [Int](repeating: -1, count: nodeCount)
        for (i, node) in nodes.enumerated() { newIndex[node] = i }
        var kept: [Edge] = []
        for e in edges {
            let u = newIndex[e.source], v = newIndex[e.target]
            if u >= 0 && v >= 0 { kept.append(Edge(source: min(u, v), target: max(u, v))) }
        }
        var g = self
        g.nodeCount = nodes.count
        g.edges = kept.sorted { ($0.source, $0.target) < ($1.source, $1.target) }
        return g
    }
}

import NTKLinearAlgebra

extension Network {
    /// A node-level GCN (Kipf & Welling 2017, arXiv:1609.02907) on a fixed graph: input node
    /// features [N, inputFeatures], layers GCN → φ → … → GCN (widths `hiddenSizes`, then
    /// `classes`), output the [N, classes] node logits flattened, so k = N·classes.
    ///
    /// - Complexity: per example and forward Σ_layers 2·(nnz·F_in + N·F_in·F_out) flops.
    /// - Throws: `NetworkError.invalidLayer` for an invalid size or edge.
    public static func gcnNodeModel(
        nodes: Int, edges: [(Int, Int)], inputFeatures: Int, hiddenSizes: [Int], classes: Int,
        activation: ActivationFunction = .tanh, parameterization: Parameterization = .standard, seed: UInt64 = 0
    ) throws -> Network {
        let adjacency = try GraphAdjacency(nodes: nodes, edges: edges)
        var layers = try gcnStack(adjacency, inputFeatures, hiddenSizes, activation, parameterization)
        layers.append(try GraphConvolution<Scalar>(
            adjacency: adjacency, inFeatures: hiddenSizes.last ?? inputFeatures, outFeatures: classes,
            parameterization: parameterization))
        layers.append(Flatten<Scalar>(inputShape: [nodes, classes]))
        return try Network(inputShape: [nodes, inputFeatures], layers: layers, seed: seed)
    }

    /// A graph-level GCN: GCN → φ for each of `hiddenSizes` (at least one), mean over nodes
    /// (`NodeMeanPool`), then Linear → `outputSize` (k = outputSize per graph).
    ///
    /// - Throws: `NetworkError.invalidLayer` for an invalid size or edge, or empty `hiddenSizes`.
    public static func gcnGraphModel(
        nodes: Int, edges: [(Int, Int)], inputFeatures: Int, hiddenSizes: [Int], outputSize: Int,
        activation: ActivationFunction = .tanh, parameterization: Parameterization = .standard, seed: UInt64 = 0
    ) throws -> Network {
        guard let width = hiddenSizes.last else {
            throw NetworkError.invalidLayer(layer: "gcn_graph_model", field: "hidden_sizes", message: "got [], expected at least one GCN layer")
        }
        let adjacency = try GraphAdjacency(nodes: nodes, edges: edges)
        var layers = try gcnStack(adjacency, inputFeatures, hiddenSizes, activation, parameterization)
        layers.append(try NodeMeanPool<Scalar>(nodes: nodes, features: width))
        layers.append(try Linear<Scalar>(inFeatures: width, outFeatures: outputSize, parameterization: parameterization))
        return try Network(inputShape: [nodes, inputFeatures], layers: layers, seed: seed)
    }

    /// GCN → φ for each hidden width.
    static func gcnStack(
        _ adjacency: GraphAdjacency, _ inputFeatures: Int, _ hiddenSizes: [Int], _ activation: ActivationFunction,
        _ parameterization: Parameterization
    ) throws -> [any Layer<Scalar>] {
        var layers: [any Layer<Scalar>] = []
        var width = inputFeatures
        for hidden in hiddenSizes {
            layers.append(try GraphConvolution<Scalar>(
                adjacency: adjacency, inFeatures: width, outFeatures: hidden, parameterization: parameterization))
            layers.append(Activation<Scalar>(activation, shape: [adjacency.nodes, hidden]))
            width = hidden
        }
        return layers
    }
}

import NTKLinearAlgebra

/// Mean over the leading axis of a [N, F] example: y = (1/N) Σ_n x[n, :] ∈ R^F — the
/// graph-level readout of a GCN (mean over nodes) and the sequence pooling of a transformer
/// encoder (mean over tokens). Linear, so ẏ = (1/N) Σ_n ẋ[n, :] and x̄[n, :] = ȳ / N.
///
/// - Complexity: O(b·s·N·F) per pass; no parameters, no saved state, no allocation.
public struct NodeMeanPool<Scalar: BLASScalar>: ParameterFreeLayer {
    public let nodes: Int
    public let features: Int

    /// - Throws: `NetworkError.invalidLayer` if a size is not positive.
    public init(nodes: Int, features: Int) throws {
        for (field, value) in [("num_nodes", nodes), ("features", features)] where value <= 0 {
            throw NetworkError.invalidLayer(layer: "node_mean_pool", field: field, message: "got \(value), expected a positive size")
        }
        inputShape = [nodes, features]
        outputShape = [features]
        self.nodes = nodes
        self.features = features
    }

    public let inputShape: [Int]
    public let outputShape: [Int]

    public func converted<Other: BLASScalar>(to: Other.Type) throws -> any Layer<Other> {
        try NodeMeanPool<Other>(nodes: nodes, features: features)
    }

    /// out[r, :] = (1/N) Σ_n in[r, n, :] for `count` rows r.
    func pool(_ input: UnsafePointer<Scalar>, _ output: UnsafeMutablePointer<Scalar>, count: Int) {
        let F = features, scale = 1 / Scalar(nodes)
        for r in 0..<count {
            let y = output + r * F, x = input + r * nodes * F
            y.update(repeating: 0, count: F)
            for n in 0..<nodes {
                let row = x + n * F
                for f in 0..<F { y[f] += row[f] }
            }
            for f in 0..<F { y[f] *= scale }
        }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(
        parameters: UnsafePointer<Scalar>, input: UnsafePointer<Scalar>, batch: Int,
        output: UnsafeMutablePointer<Scalar>, saved: UnsafeMutablePointer<Scalar>
    ) {
        pool(input, output, count: batch)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func jvp(
        _ state: LayerState<Scalar>, parameterTangents: UnsafePointer<Scalar>?, parameterStride: Int,
        inputTangents: UnsafePointer<Scalar>?, block s: Int,
        outputTangents: UnsafeMutablePointer<Scalar>, scratch: UnsafeMutablePointer<Scalar>
    ) {
        guard let inputTangents else {
            outputTangents.update(repeating: 0, count: state.batch * s * features)
            return
        }
        pool(inputTangents, outputTangents, count: state.batch * s)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func vjp(
        _ state: LayerState<Scalar>, outputCotangents: UnsafePointer<Scalar>, block s: Int,
        parameterCotangents: UnsafeMutablePointer<Scalar>?, parameterStride: Int,
        inputCotangents: UnsafeMutablePointer<Scalar>?, scratch: UnsafeMutablePointer<Scalar>
    ) {
        guard let inputCotangents else { return }
        let F = features, scale = 1 / Scalar(nodes)
        for r in 0..<(state.batch * s) {
            let y = outputCotangents + r * F, x = inputCotangents + r * nodes * F
            for n in 0..<nodes {
                let row = x + n * F
                for f in 0..<F { row[f] = scale * y[f] }
            }
        }
    }
}

import NTKLinearAlgebra

/// A graph convolution layer (Kipf & Welling 2017, arXiv:1609.02907) on a fixed graph of N
/// nodes: for node features X [N, F] per example,
///
///     Y = Â X Wᵀ + b,   Â = D^{-1/2} (A + I) D^{-1/2},   D_nn = 1 + deg(n),
///
/// with W [G, F] and b [G] (PyTorch Geometric `GCNConv(in_channels, out_channels)` names
/// "lin.weight", "bias"). The edge list is undirected: each pair (u, v) adds A_uv = A_vu = 1
/// (duplicates and self-loops in the list are ignored, the self-loop comes from + I). Â is
/// symmetric and stored once in CSR (`GraphAdjacency`, nnz = N + 2·|E|).
///
/// The forward pass saves ÂX [b, N, F]; since Â is fixed and symmetric,
/// - JVP: Ẏ = (Â Ẋ) Wᵀ + (Â X) Ẇᵀ + ḃ,
/// - VJP: W̄ += Ȳᵀ (ÂX), b̄ += Σ Ȳ, X̄ = Â (Ȳ W),
/// with the dense parts done by `TokenAffine` (GEMMs over all b·s·N rows).
///
/// Initialization: standard = Glorot-uniform weight, bound √(6/(F + G)), zero bias (PyG's
/// defaults); `.ntk(σ_w, σ_b)` = N(0, 1) with forward multipliers σ_w/√F and σ_b.
///
/// - Complexity: forward 2·b·nnz·F + 2·b·N·F·G flops; JVP and VJP ≈ 2·b·s·(nnz·F + 2·N·F·G).
public struct GraphConvolution<Scalar: BLASScalar>: Layer {
    public let adjacency: GraphAdjacency
    public let inFeatures: Int
    public let outFeatures: Int
    public let parameterization: Parameterization
    let affine: TokenAffine<Scalar>
    let values: [Scalar]

    /// - Throws: `NetworkError.invalidLayer` if a size is not positive or an edge is out of range.
    public init(
        nodes: Int, edges: [(Int, Int)], inFeatures: Int, outFeatures: Int, parameterization: Parameterization = .standard
    ) throws {
        try self.init(adjacency: GraphAdjacency(nodes: nodes, edges: edges), inFeatures: inFeatures, outFeatures: outFeatures,
                      parameterization: parameterization)
    }

    /// A layer sharing an already built Â (e.g. the layers of one GCN).
    public init(adjacency: GraphAdjacency, inFeatures: Int, outFeatures: Int, parameterization: Parameterization = .standard) throws {
        for (field, value) in [("in_channels", inFeatures), ("out_channels", outFeatures)] where value <= 0 {
            throw NetworkError.invalidLayer(layer: "gcn", field: field, message: "got \(value), expected a positive size")
        }
        guard SizeLimit.product([inFeatures, outFeatures]).flatMap({ SizeLimit.sum([$0, outFeatures]) }) != nil,
            SizeLimit.product([adjacency.nodes, max(inFeatures, outFeatures)]) != nil
        else {
            throw NetworkError.invalidLayer(
                layer: "gcn", field: "out_features",
                message: "\(inFeatures) × \(outFeatures) weights (or \(adjacency.nodes) nodes of them) overflow the integer range")
        }
        inputShape = [adjacency.nodes, inFeatures]
        outputShape = [adjacency.nodes, outFeatures]
        self.adjacency = adjacency
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        self.parameterization = parameterization
        let m = parameterization.multipliers(fanIn: inFeatures)
        affine = TokenAffine(
            rows: adjacency.nodes, inFeatures: inFeatures, outFeatures: outFeatures, hasBias: true,
            weightMultiplier: Scalar(m.weight), biasMultiplier: Scalar(m.bias))
        values = adjacency.values.map { Scalar($0) }
    }

    public var nodes: Int { adjacency.nodes }
    public let inputShape: [Int]
    public let outputShape: [Int]
    public var parameterCount: Int { affine.parameterCount }
    public var parameterTensors: [ParameterTensor] {
        [ParameterTensor(name: "lin.weight", shape: [outFeatures, inFeatures], offset: 0),
         ParameterTensor(name: "bias", shape: [outFeatures], offset: affine.weightCount)]
    }

    /// Rebuilt from the shared `adjacency` (Double), so Â's values are rounded once into `Other`.
    public func converted<Other: BLASScalar>(to: Other.Type) throws -> any Layer<Other> {
        try GraphConvolution<Other>(
            adjacency: adjacency, inFeatures: inFeatures, outFeatures: outFeatures, parameterization: parameterization)
    }

    public func initialize(parameters: UnsafeMutableBufferPointer<Scalar>, using generator: inout SeededGenerator) {
        switch parameterization {
        case .standard:
            let bound = (6.0 / Double(inFeatures + outFeatures)).squareRoot()
            generator.fillUniform(UnsafeMutableBufferPointer(rebasing: parameters[0..<affine.weightCount]), low: -bound, high: bound)
            for j in affine.weightCount..<parameterCount { parameters[j] = 0 }
        case .ntk, .meanField:
            generator.fillGaussian(parameters)
        }
    }

    public func savedCount(batch: Int) -> Int { batch * nodes * inFeatures }
    public func scratchCount(batch: Int, block s: Int) -> Int {
        batch * s * nodes * inFeatures + affine.scratchCount(batch: batch, block: s)
    }

    /// out[r] = Â in[r] for `count` [N, F] matrices (SpMM, O(count·nnz·F)).
    func propagate(_ input: UnsafePointer<Scalar>, _ output: UnsafeMutablePointer<Scalar>, count: Int) {
        let N = nodes, F = inFeatures
        values.withUnsafeBufferPointer { v in
            adjacency.columns.withUnsafeBufferPointer { c in
                adjacency.rowStarts.withUnsafeBufferPointer { r in
                    for k in 0..<count {
                        let x = input + k * N * F, y = output + k * N * F
                        for n in 0..<N {
                            let row = y + n * F
                            row.update(repeating: 0, count: F)
                            for e in r[n]..<r[n + 1] {
                                let a = v[e], src = x + c[e] * F
                                for f in 0..<F { row[f] += a * src[f] }
                            }
                        }
                    }
                }
            }
        }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(
        parameters: UnsafePointer<Scalar>, input: UnsafePointer<Scalar>, batch: Int,
        output: UnsafeMutablePointer<Scalar>, saved: UnsafeMutablePointer<Scalar>
    ) throws {
        propagate(input, saved, count: batch)
        try affine.forward(parameters: parameters, input: saved, batch: batch, output: output)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func jvp(
        _ state: LayerState<Scalar>, parameterTangents: UnsafePointer<Scalar>?, parameterStride: Int,
        inputTangents: UnsafePointer<Scalar>?, block s: Int,
        outputTangents: UnsafeMutablePointer<Scalar>, scratch: UnsafeMutablePointer<Scalar>
    ) throws {
        let b = state.batch
        var mixed: UnsafePointer<Scalar>? = nil
        if let inputTangents {
            propagate(inputTangents, scratch, count: b * s)
            mixed = UnsafePointer(scratch)
        }
        try affine.jvp(
            parameters: state.parameters, input: state.saved, batch: b, parameterTangents: parameterTangents,
            parameterStride: parameterStride, inputTangents: mixed, block: s, outputTangents: outputTangents,
            scratch: scratch + b * s * nodes * inFeatures)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func vjp(
        _ state: LayerState<Scalar>, outputCotangents: UnsafePointer<Scalar>, block s: Int,
        parameterCotangents: UnsafeMutablePointer<Scalar>?, parameterStride: Int,
        inputCotangents: UnsafeMutablePointer<Scalar>?, scratch: UnsafeMutablePointer<Scalar>
    ) throws {
        let b = state.batch
        try affine.vjp(
            parameters: state.parameters, input: state.saved, batch: b, outputCotangents: outputCotangents, block: s,
            parameterCotangents: parameterCotangents, parameterStride: parameterStride,
            inputCotangents: inputCotangents == nil ? nil : scratch, scratch: scratch + b * s * nodes * inFeatures)
        if let inputCotangents { propagate(scratch, inputCotangents, count: b * s) }
    }
}

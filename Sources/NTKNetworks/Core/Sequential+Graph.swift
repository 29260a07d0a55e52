import NTKLinearAlgebra

/// How the layers of a graph (`Sequential(inputShape:layers:inputs:)`) take their inputs, with
/// everything the passes need precomputed: node 0 is the graph's input, node j + 1 the output of
/// layer j.
///
/// Memory, per example: the saved region holds the node outputs a_1 … a_{n−1} (as for a chain),
/// then the gathered input `[x_0 | x_1 | …]` of every merge layer, then the layers' own state.
/// Scratch, per example and vector: one tangent (or cotangent) buffer per node 1 … n−1, then one
/// buffer of the largest layer input (a merge layer's gathered tangent, or an input cotangent to
/// be added into a node read by several layers), then the largest layer scratch.
public struct LayerWiring: Sendable, Hashable {
    /// Per layer, the nodes it reads.
    public let sources: [[Int]]
    /// Per layer, the per-example offset of its gathered input within the gathered region (merge layers only).
    let gatherOffsets: [Int?]
    /// Per-example elements of all gathered inputs.
    let gatheredCount: Int
    /// Per node 0 … n−1, its per-example size, and the per-(example, vector) offset of its
    /// tangent buffer (nodes 1 … n−1; entry 0 unused).
    let nodeSizes: [Int]
    let tangentOffsets: [Int]
    let tangentCount: Int
    /// The largest layer input, per example.
    let maxInput: Int
    /// Per node: a cotangent may be written straight into it (exactly one reader, not a merge layer).
    let directWrite: [Bool]
    /// Per layer: a parameterized layer is at or upstream of it (its tangent can be nonzero
    /// with a zero input tangent).
    let reachesParameters: [Bool]

    init<Scalar>(inputShape: [Int], layers: [any Layer<Scalar>], inputs: [[Int]]) throws {
        let n = layers.count
        guard inputs.count == n else {
            throw NetworkError.invalidLayer(
                layer: "graph", field: "inputs", message: "got \(inputs.count) input lists for \(n) layers; expected one per layer")
        }
        var shapes = [inputShape]
        var gatherOffsets: [Int?] = [], gathered = 0, maxInput = 0
        var readers = [Int](repeating: 0, count: n + 1), mergeReaders = [Bool](repeating: false, count: n + 1)
        var reaches = [Bool]()
        for (k, layer) in layers.enumerated() {
            let sources = inputs[k]
            guard !sources.isEmpty, sources.allSatisfy({ (0...k).contains($0) }) else {
                throw NetworkError.invalidLayer(
                    layer: "\(k)", field: "inputs",
                    message: "reads nodes \(sources); expected a nonempty list of nodes 0…\(k) (0 = the input, j + 1 = layer j's output)")
            }
            if let merge = layer as? any MergeLayer<Scalar> {
                let got = sources.map { shapes[$0] }
                guard merge.inputShapes == got else {
                    throw NetworkError.invalidLayer(
                        layer: "\(k)", field: "inputs",
                        message: "the merge layer expects input shapes \(merge.inputShapes), but its inputs have shapes \(got)")
                }
                gatherOffsets.append(gathered)
                gathered += layer.inputSize
                for j in sources { mergeReaders[j] = true }
            } else {
                guard sources.count == 1 else {
                    throw NetworkError.invalidLayer(
                        layer: "\(k)", field: "inputs", message: "reads \(sources.count) nodes; expected 1 (only merge layers read several)")
                }
                guard layer.inputShape == shapes[sources[0]] else {
                    throw NetworkError.invalidLayer(
                        layer: "\(k)", field: "input_shape",
                        message: "the layer expects input shape \(layer.inputShape), but node \(sources[0]) has shape \(shapes[sources[0]])")
                }
                gatherOffsets.append(nil)
            }
            for j in sources { readers[j] += 1 }
            maxInput = max(maxInput, layer.inputSize)
            reaches.append(layer.parameterCount > 0 || sources.contains { $0 > 0 && reaches[$0 - 1] })
            shapes.append(layer.outputShape)
        }
        sources = inputs
        self.gatherOffsets = gatherOffsets
        gatheredCount = gathered
        nodeSizes = shapes.dropLast().map { $0.reduce(1, *) }
        var offsets = [0, 0]
        for j in 1..<max(n, 1) { offsets.append(offsets[j] + nodeSizes[j]) }
        tangentOffsets = Array(offsets.prefix(n))
        tangentCount = offsets[offsets.count - 1]
        self.maxInput = maxInput
        directWrite = (0..<n).map { readers[$0] == 1 && !mergeReaders[$0] }
        reachesParameters = reaches
    }
}

extension Sequential {
    /// Node j's activations (`[b, |node j|]`): the input, an intermediate, or the output (j = n).
    @inline(__always)
    func node(_ j: Int, in state: LayerState<Scalar>) -> UnsafePointer<Scalar> {
        j == 0 ? state.input : (j == layers.count ? state.output : state.saved + state.batch * activationOffsets[j - 1])
    }

    /// The input layer k reads in a graph: its source node, or its gathered input (merge layers).
    @inline(__always)
    func graphInput(of k: Int, in state: LayerState<Scalar>) -> UnsafePointer<Scalar> {
        let wiring = self.wiring!
        if let offset = wiring.gatherOffsets[k] {
            return state.saved + state.batch * (activationOffsets[activationOffsets.count - 1] + offset)
        }
        return node(wiring.sources[k][0], in: state)
    }

    /// Copies the sources of merge layer k into `[rows, |x_0| + |x_1| + …]`; a source given as
    /// nil (a zero tangent) is written as zeros. `stride`: rows per example of the sources (1 for
    /// activations, s for tangents).
    @inline(__always)
    func gather(_ k: Int, rows: Int, sources: (Int) -> UnsafePointer<Scalar>?, into destination: UnsafeMutablePointer<Scalar>) {
        let wiring = self.wiring!, width = layers[k].inputSize
        var offset = 0
        for j in wiring.sources[k] {
            let size = wiring.nodeSizes[j]
            if let source = sources(j) {
                for r in 0..<rows { (destination + r * width + offset).update(from: source + r * size, count: size) }
            } else {
                for r in 0..<rows { (destination + r * width + offset).update(repeating: 0, count: size) }
            }
            offset += size
        }
    }

    func graphForward(
        parameters: UnsafePointer<Scalar>, input: UnsafePointer<Scalar>, batch b: Int,
        output: UnsafeMutablePointer<Scalar>, saved: UnsafeMutablePointer<Scalar>
    ) throws {
        let n = layers.count
        let state = LayerState(parameters: parameters, input: input, output: output, saved: saved, batch: b)
        var layerSaved = saved + b * intermediateCount
        for k in 0..<n {
            if wiring!.gatherOffsets[k] != nil {
                gather(k, rows: b, sources: { node($0, in: state) }, into: UnsafeMutablePointer(mutating: graphInput(of: k, in: state)))
            }
            let y = k == n - 1 ? output : saved + b * activationOffsets[k]
            try layers[k].forward(
                parameters: parameters + parameterOffsets[k], input: graphInput(of: k, in: state), batch: b,
                output: y, saved: layerSaved)
            layerSaved += layers[k].savedCount(batch: b)
        }
    }

    func graphJVP(
        _ state: LayerState<Scalar>, parameterTangents: UnsafePointer<Scalar>?, parameterStride: Int,
        inputTangents: UnsafePointer<Scalar>?, block s: Int,
        outputTangents: UnsafeMutablePointer<Scalar>, scratch: UnsafeMutablePointer<Scalar>
    ) throws {
        let wiring = self.wiring!, b = state.batch, n = layers.count
        // Layer k's tangent is nonzero only below a nonzero input tangent or a parameterized layer.
        let computed = { (k: Int) -> Bool in
            inputTangents != nil || (parameterTangents != nil && wiring.reachesParameters[k])
        }
        let gathered = scratch + b * s * wiring.tangentCount
        let layerScratch = gathered + b * s * wiring.maxInput
        func tangent(_ j: Int) -> UnsafePointer<Scalar>? {
            j == 0 ? inputTangents : (computed(j - 1) ? UnsafePointer(scratch + b * s * wiring.tangentOffsets[j]) : nil)
        }
        if !computed(n - 1) {
            outputTangents.update(repeating: 0, count: b * s * outputSize)
            return
        }
        var layerSaved = state.saved + b * intermediateCount
        for k in 0..<n {
            defer { layerSaved += layers[k].savedCount(batch: b) }
            guard computed(k) else { continue }
            var tangentIn: UnsafePointer<Scalar>?
            if wiring.gatherOffsets[k] != nil {
                gather(k, rows: b * s, sources: tangent, into: gathered)
                tangentIn = wiring.sources[k].contains { tangent($0) != nil } ? UnsafePointer(gathered) : nil
            } else {
                tangentIn = tangent(wiring.sources[k][0])
            }
            try layers[k].jvp(
                self.state(of: k, in: state, layerSaved: layerSaved),
                parameterTangents: parameterTangents.map { $0 + parameterOffsets[k] }, parameterStride: parameterStride,
                inputTangents: tangentIn, block: s,
                outputTangents: k == n - 1 ? outputTangents : scratch + b * s * wiring.tangentOffsets[k + 1],
                scratch: layerScratch)
        }
    }

    func graphVJP(
        _ state: LayerState<Scalar>, outputCotangents: UnsafePointer<Scalar>, block s: Int,
        parameterCotangents: UnsafeMutablePointer<Scalar>?, parameterStride: Int,
        inputCotangents: UnsafeMutablePointer<Scalar>?, scratch: UnsafeMutablePointer<Scalar>
    ) throws {
        try graphVJP(state, outputCotangents: outputCotangents, block: s, parameterCotangents: parameterCotangents,
                     parameterStride: parameterStride, inputCotangents: inputCotangents, scratch: scratch, visit: nil)
    }

    /// The graph's reverse pass. `visit(k, ȳ_k)` sees the output cotangent of every layer the
    /// pass reaches (every layer at or upstream-reachable of a parameter, or all with an input
    /// cotangent) before its VJP runs; `Network.backpropSignals` copies δ's from there.
    func graphVJP(
        _ state: LayerState<Scalar>, outputCotangents: UnsafePointer<Scalar>, block s: Int,
        parameterCotangents: UnsafeMutablePointer<Scalar>?, parameterStride: Int,
        inputCotangents: UnsafeMutablePointer<Scalar>?, scratch: UnsafeMutablePointer<Scalar>,
        visit: ((Int, UnsafePointer<Scalar>) throws -> Void)?
    ) throws {
        let wiring = self.wiring!, b = state.batch, n = layers.count
        let processed = { (k: Int) -> Bool in inputCotangents != nil || wiring.reachesParameters[k] }
        let needs = { (j: Int) -> Bool in j == 0 ? inputCotangents != nil : processed(j - 1) }
        func cotangent(_ j: Int) -> UnsafeMutablePointer<Scalar> {
            j == 0 ? inputCotangents! : scratch + b * s * wiring.tangentOffsets[j]
        }
        let temporary = scratch + b * s * wiring.tangentCount
        let layerScratch = temporary + b * s * wiring.maxInput
        for j in 0..<n where needs(j) && !wiring.directWrite[j] {
            cotangent(j).update(repeating: 0, count: b * s * wiring.nodeSizes[j])
        }
        var layerSaved = state.saved + savedCount(batch: b)
        for k in stride(from: n - 1, through: 0, by: -1) {
            layerSaved -= layers[k].savedCount(batch: b)
            guard processed(k) else { continue }
            let cotangentOut = k == n - 1 ? outputCotangents : UnsafePointer(cotangent(k + 1))
            try visit?(k, cotangentOut)
            let sources = wiring.sources[k]
            let propagate = sources.contains(where: needs)
            let parameters = layers[k].parameterCount > 0 ? parameterCotangents.map { $0 + parameterOffsets[k] } : nil
            if !propagate && parameters == nil { continue }
            let direct = propagate && wiring.gatherOffsets[k] == nil && wiring.directWrite[sources[0]]
            let destination: UnsafeMutablePointer<Scalar>? = propagate ? (direct ? cotangent(sources[0]) : temporary) : nil
            try layers[k].vjp(
                self.state(of: k, in: state, layerSaved: layerSaved), outputCotangents: cotangentOut, block: s,
                parameterCotangents: parameters, parameterStride: parameterStride, inputCotangents: destination,
                scratch: layerScratch)
            guard propagate, !direct else { continue }
            // Add the input cotangent [b·s, |x_0| + …] into the sources that need it.
            let width = layers[k].inputSize
            var offset = 0
            for j in sources {
                let size = wiring.nodeSizes[j]
                if needs(j) {
                    let target = cotangent(j)
                    for r in 0..<(b * s) {
                        let from = temporary + r * width + offset, to = target + r * size
                        for e in 0..<size { to[e] += from[e] }
                    }
                }
                offset += size
            }
        }
    }
}

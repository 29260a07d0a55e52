import NTKLinearAlgebra

/// One non-trainable tensor of a layer (a PyTorch *buffer*, such as BatchNorm's
/// `running_mean`): its `state_dict` name suffix, its shape and its current values
/// (row-major, in `Double` whatever the layer's precision, so that loading and converting
/// never round them).
public struct BufferTensor: Sendable, Hashable {
    public var name: String
    public var shape: [Int]
    public var values: [Double]
    public var count: Int { shape.reduce(1, *) }

    public init(name: String, shape: [Int], values: [Double]) {
        self.name = name
        self.shape = shape
        self.values = values
    }
}

/// A layer with buffers: state that is part of the model (saved in the `state_dict`) but not
/// of θ. Buffers are constants of every pass — the NTK is taken with respect to θ only — and
/// are stored in the layer value itself, so a layer with new buffer values is a new layer
/// (`replacingBuffers(_:)`).
///
/// `Sequential` and `Residual` conform and forward their children's buffers with their name
/// prefixes ("3.running_mean", "2.layers.0.running_var"), so `Network.bufferTensors` lists
/// every buffer of a model under its PyTorch `state_dict` name.
public protocol BufferedLayer<Scalar>: Layer {
    /// The buffers, in a fixed order, with `state_dict` names, shapes and current values.
    var bufferTensors: [BufferTensor] { get }

    /// `state_dict` names this layer accepts in a weights file and ignores (e.g. BatchNorm's
    /// int64 `num_batches_tracked`, which only matters in training mode); never required.
    var ignoredStateNames: [String] { get }

    /// This layer with the buffers named in `values` replaced (names as in `bufferTensors`);
    /// buffers not named keep their values.
    ///
    /// - Throws: `NetworkError.sizeMismatch` if a value array has the wrong count,
    ///   `NetworkError.invalidLayer` if a name is not a buffer of this layer or a value is
    ///   invalid for it (e.g. a negative running variance).
    func replacingBuffers(_ values: [String: [Double]]) throws -> Self
}

extension BufferedLayer {
    public var ignoredStateNames: [String] { [] }
}

extension Layer {
    /// The layer's buffers if it is a `BufferedLayer`, else none.
    var buffersIfAny: [BufferTensor] { (self as? any BufferedLayer<Scalar>)?.bufferTensors ?? [] }
    /// The layer's ignored `state_dict` names if it is a `BufferedLayer`, else none.
    var ignoredStateNamesIfAny: [String] { (self as? any BufferedLayer<Scalar>)?.ignoredStateNames ?? [] }
}

/// Splits `values` by the child name prefix `prefix` ("3.", "layers."): the entries under it,
/// with the prefix removed.
func buffers(_ values: [String: [Double]], under prefix: String) -> [String: [Double]] {
    var result: [String: [Double]] = [:]
    for (name, value) in values where name.hasPrefix(prefix) { result[String(name.dropFirst(prefix.count))] = value }
    return result
}

extension Sequential: BufferedLayer {
    /// The buffers of every buffered layer, prefixed with its index ("k.running_mean").
    public var bufferTensors: [BufferTensor] {
        var tensors: [BufferTensor] = []
        for (k, layer) in layers.enumerated() {
            for t in layer.buffersIfAny { tensors.append(BufferTensor(name: "\(k).\(t.name)", shape: t.shape, values: t.values)) }
        }
        return tensors
    }

    public var ignoredStateNames: [String] {
        layers.enumerated().flatMap { k, layer in layer.ignoredStateNamesIfAny.map { "\(k).\($0)" } }
    }

    /// The chain with each named buffer replaced in its layer (rebuilt through `mapLayers`).
    ///
    /// - Throws: `NetworkError.invalidLayer` naming a buffer that no layer has, or rethrown from
    ///   the layer with `field` the buffer's name in this chain ("3.running_var").
    public func replacingBuffers(_ values: [String: [Double]]) throws -> Sequential<Scalar> {
        if values.isEmpty { return self }
        let known = Set(bufferTensors.map(\.name))
        if let unknown = values.keys.sorted().first(where: { !known.contains($0) }) {
            throw NetworkError.invalidLayer(
                layer: "sequential", field: unknown, message: "not a buffer of this chain (buffers: \(known.sorted().joined(separator: ", ")))")
        }
        return try mapLayers { k, layer in
            let own = buffers(values, under: "\(k).")
            guard !own.isEmpty, let buffered = layer as? any BufferedLayer<Scalar> else { return layer }
            do {
                return try buffered.replacingBuffers(own)
            } catch let NetworkError.invalidLayer(name, field, message) {
                // The field becomes the buffer's name in this chain ("3.running_var").
                throw NetworkError.invalidLayer(layer: name, field: "\(k).\(field)", message: message)
            }
        }
    }
}

extension Residual: BufferedLayer {
    /// The body's buffers with the prefix "layers.".
    public var bufferTensors: [BufferTensor] {
        body.bufferTensors.map { BufferTensor(name: "layers.\($0.name)", shape: $0.shape, values: $0.values) }
    }

    public var ignoredStateNames: [String] { body.ignoredStateNames.map { "layers.\($0)" } }

    public func replacingBuffers(_ values: [String: [Double]]) throws -> Residual<Scalar> {
        if values.isEmpty { return self }
        let own = buffers(values, under: "layers.")
        if let unknown = values.keys.sorted().first(where: { !$0.hasPrefix("layers.") }) {
            throw NetworkError.invalidLayer(layer: "residual", field: unknown, message: "not a buffer of this residual block")
        }
        do {
            return try Residual(body: body.replacingBuffers(own))
        } catch let NetworkError.invalidLayer(name, field, message) {
            throw NetworkError.invalidLayer(layer: name, field: "layers.\(field)", message: message)
        }
    }
}

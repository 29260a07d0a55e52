import NTKLinearAlgebra

/// The backprop signals of one batch: for every top-level layer l of a network that owns
/// parameters, δ_{ic,l} = ∂f_c(x_i)/∂y_{i,l}, the gradient of output c of example i with
/// respect to the layer's output, stored as `[batch, k, out_l]` (example, output, feature).
///
/// With them, ∂f_c(x_i)/∂θ_l = δ_{ic,l}ᵀ ∂y_{i,l}/∂θ_l for any layer, so the NTK factors
/// through per-layer parameter-only JVPs and VJPs (see `Network.backpropSignals`).
/// The signals are valid for the parameter values and the forward cache they were computed from.
///
/// Memory: `capacity · k · (Σ_l out_l + k)` scalars (the last term holds the identity cotangents).
/// Thread safety: read-only after `Network.backpropSignals(cache:workspace:into:)`; that call
/// writes it and must not run concurrently with another use.
public final class BackpropSignals<Scalar: BLASScalar>: @unchecked Sendable {
    /// Maximum batch size the buffers hold.
    public let capacity: Int
    /// k: outputs per example.
    public let outputCount: Int
    /// Indices (in `Network.layers`) of the top-level layers that own parameters, ascending.
    public let layerIndices: [Int]
    /// Per-example output size out_l of each layer in `layerIndices`.
    public let layerSizes: [Int]
    /// Examples of the last fill (0 before the first).
    public internal(set) var batch: Int = 0
    /// Slot of top-level layer l in `layerIndices`, or nil when it has no parameters.
    let slots: [Int?]
    /// Start of each slot's region (capacity · k · out_l scalars each), then the identity.
    let offsets: [Int]
    let storage: UnsafeMutablePointer<Scalar>
    let count: Int

    init(capacity: Int, outputCount: Int, layers: [any Layer<Scalar>]) {
        self.capacity = capacity
        self.outputCount = outputCount
        var indices: [Int] = [], sizes: [Int] = [], slots: [Int?] = [], offsets = [0]
        for (l, layer) in layers.enumerated() {
            if layer.parameterCount > 0 {
                slots.append(indices.count)
                indices.append(l)
                sizes.append(layer.outputSize)
                offsets.append(offsets[offsets.count - 1] + capacity * outputCount * layer.outputSize)
            } else {
                slots.append(nil)
            }
        }
        layerIndices = indices
        layerSizes = sizes
        self.slots = slots
        self.offsets = offsets
        count = offsets[offsets.count - 1] + capacity * outputCount * outputCount
        storage = .allocate(capacity: max(1, count))
        storage.initialize(repeating: 0, count: max(1, count))
    }

    deinit { storage.deallocate() }

    /// Bytes held.
    public var byteCount: Int { count * MemoryLayout<Scalar>.stride }

    /// δ_l of top-level layer `layer`, `[batch, k, out_l]`, or nil if that layer has no
    /// parameters (or the index is out of range). A view valid while the signals live.
    public func signals(layer: Int) -> UnsafeBufferPointer<Scalar>? {
        guard layer >= 0, layer < slots.count, let slot = slots[layer] else { return nil }
        return UnsafeBufferPointer(start: storage + offsets[slot], count: batch * outputCount * layerSizes[slot])
    }

    func mutableSignals(slot: Int) -> UnsafeMutablePointer<Scalar> { storage + offsets[slot] }

    /// The identity cotangents [capacity, k, k] region.
    var identity: UnsafeMutablePointer<Scalar> { storage + offsets[offsets.count - 1] }
}

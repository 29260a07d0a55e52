import Foundation
import NTKLinearAlgebra

extension Network {
    /// Loads θ from a safetensors file whose tensor names and shapes are PyTorch's
    /// `state_dict()` of the equivalent `nn.Sequential` ("0.weight" [out, in], conv
    /// [out, in, kh, kw], "i.bias" [out], LayerNorm "i.weight"/"i.bias", residual sub-layers
    /// "i.layers.j.weight"). F32 or F64 into either `Scalar`.
    ///
    /// Nothing is written unless every tensor is valid (θ is replaced at the end).
    /// - Parameter strict: refuse tensors the network does not have (like PyTorch's
    ///   `load_state_dict(strict=True)`).
    /// - Throws: `SafetensorsError` naming the tensor: missing, wrong shape, wrong dtype, NaN/Inf,
    ///   unexpected (strict), plus every format error of `Safetensors.init(data:)`.
    public mutating func loadParameters(from file: Safetensors, strict: Bool = true) throws(SafetensorsError) {
        var updated = parameters
        let tensors = parameterTensors
        for tensor in tensors {
            let values: [Scalar] = try file.values(tensor.name, shape: tensor.shape)
            for j in 0..<tensor.count { updated[tensor.offset + j] = values[j] }
        }
        if strict {
            let names = Set(tensors.map(\.name))
            if let extra = file.entries.keys.sorted().first(where: { !names.contains($0) }) {
                throw .unexpectedTensor(name: extra)
            }
        }
        parameters = updated
    }

    /// Loads θ from a safetensors file on disk (see `loadParameters(from:strict:)`).
    public mutating func loadParameters(contentsOf url: URL, strict: Bool = true) throws(SafetensorsError) {
        try loadParameters(from: Safetensors(contentsOf: url), strict: strict)
    }

    /// θ as safetensors bytes with PyTorch `state_dict` names, in `dtype`.
    public func safetensorsData(dtype: Safetensors.DType = .f32, metadata: [String: String] = [:]) throws -> Data {
        let tensors = parameterTensors.map { t in
            (name: t.name, shape: t.shape, values: Array(parameters[t.offset..<(t.offset + t.count)]))
        }
        return try Safetensors.encode(tensors, dtype: dtype, metadata: metadata)
    }

    /// Writes θ to `url` as safetensors (atomically: a failed write leaves no half file).
    public func saveParameters(to url: URL, dtype: Safetensors.DType = .f32, metadata: [String: String] = [:]) throws {
        let data = try safetensorsData(dtype: dtype, metadata: metadata)
        do {
            try data.write(to: url, options: .atomic)
        } catch {
            throw SafetensorsError.io(path: url.path, message: "cannot write: \(error.localizedDescription)")
        }
    }
}

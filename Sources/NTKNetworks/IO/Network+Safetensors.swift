import Foundation
import NTKLinearAlgebra
import NTKFormats

extension Network {
    /// Loads θ — and the buffers, when the file has them — from a safetensors file whose
    /// tensor names and shapes are PyTorch's `state_dict()` of the equivalent `nn.Sequential`
    /// ("0.weight" [out, in], conv [out, in, kh, kw], "i.bias" [out], LayerNorm/BatchNorm
    /// "i.weight"/"i.bias", residual sub-layers "i.layers.j.weight"). F32 or F64 into either
    /// `Scalar`.
    ///
    /// Buffers (`bufferTensors`, e.g. BatchNorm's "i.running_mean" and "i.running_var") are read
    /// when present (F32 or F64, read into `Double`) and keep their current values when absent.
    /// Names in `ignoredStateNames` (BatchNorm's "i.num_batches_tracked", int64 in PyTorch) are
    /// accepted whatever their dtype and ignored; they are never required.
    ///
    /// Nothing is written unless every tensor is valid (the network is replaced at the end).
    /// - Parameter strict: refuse tensors the network does not have (like PyTorch's
    ///   `load_state_dict(strict=True)`).
    /// - Throws: `SafetensorsError` naming the tensor: missing parameter, wrong shape, wrong
    ///   dtype, NaN/Inf, a buffer value the layer refuses (`invalidValue`, e.g. a negative
    ///   running variance), unexpected (strict), plus every format error of `Safetensors.init(data:)`.
    public mutating func loadParameters(from file: Safetensors, strict: Bool = true) throws(SafetensorsError) {
        var updated = parameters
        let tensors = parameterTensors
        for tensor in tensors {
            let values: [Scalar] = try file.values(tensor.name, shape: tensor.shape)
            for j in 0..<tensor.count { updated[tensor.offset + j] = values[j] }
        }
        let buffers = bufferTensors
        var bufferValues: [String: [Double]] = [:]
        for buffer in buffers where file.entries[buffer.name] != nil {
            bufferValues[buffer.name] = try file.values(buffer.name, as: Double.self, shape: buffer.shape)
        }
        if strict {
            let names = Set(tensors.map(\.name)).union(buffers.map(\.name)).union(ignoredStateNames)
            if let extra = file.entries.keys.sorted().first(where: { !names.contains($0) }) {
                throw .unexpectedTensor(name: extra)
            }
        }
        if bufferValues.isEmpty {
            parameters = updated
            return
        }
        do {
            self = try Network(body: body.replacingBuffers(bufferValues), parameters: updated)
        } catch let NetworkError.invalidLayer(_, field, message) {
            throw .invalidValue(name: field, message: message)
        } catch {
            throw .invalidValue(name: bufferValues.keys.sorted().joined(separator: ", "), message: "\(error)")
        }
    }

    /// Loads θ from a safetensors file on disk (see `loadParameters(from:strict:)`).
    public mutating func loadParameters(contentsOf url: URL, strict: Bool = true) throws(SafetensorsError) {
        try loadParameters(from: Safetensors(contentsOf: url), strict: strict)
    }

    /// θ and the buffers as safetensors bytes with PyTorch `state_dict` names, in `dtype`.
    /// (PyTorch's `num_batches_tracked` is not written: `load_state_dict` fills it in when absent.)
    public func safetensorsData(dtype: Safetensors.DType = .f32, metadata: [String: String] = [:]) throws -> Data {
        var tensors = parameterTensors.map { t in
            (name: t.name, shape: t.shape, values: Array(parameters[t.offset..<(t.offset + t.count)]).map { Double($0) })
        }
        for buffer in bufferTensors { tensors.append((name: buffer.name, shape: buffer.shape, values: buffer.values)) }
        return try Safetensors.encode(tensors, dtype: dtype, metadata: metadata)
    }

    /// Writes θ and the buffers to `url` as safetensors (atomically: a failed write leaves no half file).
    public func saveParameters(to url: URL, dtype: Safetensors.DType = .f32, metadata: [String: String] = [:]) throws {
        let data = try safetensorsData(dtype: dtype, metadata: metadata)
        do {
            try data.write(to: url, options: .atomic)
        } catch {
            throw SafetensorsError.io(path: url.path, message: "cannot write: \(error.localizedDescription)")
        }
    }
}

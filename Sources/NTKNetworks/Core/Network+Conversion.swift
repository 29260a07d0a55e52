import NTKLinearAlgebra

extension Network {
    /// The same network in precision `Other`, e.g. a `Network<Float>` as a `Network<Double>`
    /// for the exact dense NTK path (`ExactNTK`, `StructuredExactNTK`), which is Double-only.
    ///
    /// What is converted:
    /// - The architecture: every layer is rebuilt in `Other` by `Layer.converted(to:)` with the
    ///   same shapes, hyper-parameters, parameterization and flags (bias, causal mask,
    ///   activation, graph adjacency, …), so `parameterCount`, `parameterTensors` (names,
    ///   shapes, offsets), `inputShape` and `outputShape` are unchanged. Precision-dependent
    ///   constants (forward multipliers such as σ_w/√fan_in, Â's values) are recomputed from
    ///   their `Double` definitions in `Other`, i.e. the result is the network one would have
    ///   built in `Other` directly, not a rounding of the `Scalar` constants.
    /// - θ, element-wise: `Other(θ_i)` with IEEE round-to-nearest-even. From `Float` to
    ///   `Double` this is **exact** (every Float is a Double): a Float network converted to
    ///   Double has bit-identical parameters and computes the same function, without the Float
    ///   round-off of the passes; Float → Double → Float and, for Float-representable θ,
    ///   Double → Float → Double return θ bit for bit. From `Double` to `Float`
    ///   each θ_i is rounded (relative error ≤ 2⁻²⁴; values below Float's subnormal range round
    ///   to ±0).
    ///
    /// Non-finite parameters stay non-finite (the forward pass refuses them as before).
    /// No forward caches or workspaces are carried over: make new ones from the result.
    ///
    /// - Complexity: O(P) plus rebuilding the layers (O(nnz) for a graph convolution).
    /// - Throws: `NetworkError.nonFinite` naming the first parameter whose finite value
    ///   overflows `Other` (|θ_i| above `Other.greatestFiniteMagnitude`, e.g. 1e39 as Float);
    ///   `NetworkError` from a layer that cannot be rebuilt (none of the library's layers).
    // Pre-specialized: unspecialized, the element loop's generic conversions cost ~0.5 µs per
    // parameter (45 ms of a 0.57 s kernel-Lanczos estimate at P = 85k, measured).
    @_specialize(where Scalar == Float, Other == Double)
    @_specialize(where Scalar == Double, Other == Float)
    @_specialize(where Scalar == Double, Other == Double)
    @_specialize(where Scalar == Float, Other == Float)
    public func converted<Other: BLASScalar>(to: Other.Type) throws -> Network<Other> {
        let convertedBody = try body.convertedChain(to: Other.self)
        var convertedParameters = [Other]()
        convertedParameters.reserveCapacity(parameters.count)
        for i in parameters.indices {
            let value = parameters[i]
            let rounded = Other(value)
            if value.isFinite && !rounded.isFinite {
                let tensor = parameterTensors.first { $0.offset <= i && i < $0.offset + $0.count }
                let name = tensor.map { "parameter \(i) (\($0.name)[\(i - $0.offset)])" } ?? "parameter \(i)"
                throw NetworkError.nonFinite(
                    name: "\(name) = \(value) converted to \(Other.precisionName) (overflow)")
            }
            convertedParameters.append(rounded)
        }
        return try Network<Other>(body: convertedBody, parameters: convertedParameters)
    }
}

import NTKLinearAlgebra

/// y = x ⊙ a + c with constant tensors a (scale) and c (shift) broadcast to the example shape
/// by NumPy's rules — how an ONNX `Mul`, `Add`, `Sub` or `Div` of an activation by a constant
/// is represented (x − d is c = −d, x / d is a = 1/d). No parameters.
///
/// The layer is affine in x: ẏ = a ⊙ ẋ, x̄ = a ⊙ ȳ.
/// - Complexity: O(b·s·features) per pass; the broadcast a and c are stored expanded
///   (2·features values).
public struct ConstantAffine<Scalar: BLASScalar>: ParameterFreeLayer {
    public let inputShape: [Int]
    public let scale: ConstantTensor
    public let shift: ConstantTensor
    /// a and c broadcast to the example shape.
    let expandedScale: [Scalar]
    let expandedShift: [Scalar]

    /// - Parameters:
    ///   - scale: a (default the scalar 1).
    ///   - shift: c (default the scalar 0).
    /// - Throws: `NetworkError.invalidLayer` naming `scale` or `shift` if it does not broadcast
    ///   to `inputShape` or holds a non-finite value.
    public init(inputShape: [Int], scale: ConstantTensor = ConstantTensor(scalar: 1), shift: ConstantTensor = ConstantTensor(scalar: 0)) throws {
        func expand(_ tensor: ConstantTensor, _ field: String) throws -> [Scalar] {
            guard let values = tensor.broadcast(to: inputShape) else {
                throw NetworkError.invalidLayer(
                    layer: "constant_affine", field: field,
                    message: "shape \(tensor.shape) does not broadcast to the input shape \(inputShape) (NumPy rules; the output keeps the input's shape)")
            }
            if let bad = tensor.values.firstIndex(where: { !$0.isFinite }) {
                throw NetworkError.invalidLayer(layer: "constant_affine", field: field, message: "element \(bad) is \(tensor.values[bad]), expected finite values")
            }
            return values.map { Scalar($0) }
        }
        guard SizeLimit.product(inputShape) != nil else {
            throw NetworkError.invalidLayer(layer: "constant_affine", field: "input_shape", message: "got \(inputShape), whose product overflows the integer range")
        }
        self.inputShape = inputShape
        self.scale = scale
        self.shift = shift
        expandedScale = try expand(scale, "scale")
        expandedShift = try expand(shift, "shift")
    }

    public var outputShape: [Int] { inputShape }

    /// Rebuilt from the `Double` constants.
    public func converted<Other: BLASScalar>(to: Other.Type) throws -> any Layer<Other> {
        try ConstantAffine<Other>(inputShape: inputShape, scale: scale, shift: shift)
    }

    /// out = a ⊙ v for `count` consecutive examples.
    @inline(__always)
    func scaled(_ v: UnsafePointer<Scalar>, into out: UnsafeMutablePointer<Scalar>, count: Int) {
        let F = inputSize
        expandedScale.withUnsafeBufferPointer { a in
            for e in 0..<count {
                let src = v + e * F, dst = out + e * F
                for j in 0..<F { dst[j] = a[j] * src[j] }
            }
        }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(
        parameters: UnsafePointer<Scalar>, input: UnsafePointer<Scalar>, batch: Int,
        output: UnsafeMutablePointer<Scalar>, saved: UnsafeMutablePointer<Scalar>
    ) {
        let F = inputSize
        expandedScale.withUnsafeBufferPointer { a in
            expandedShift.withUnsafeBufferPointer { c in
                for i in 0..<batch {
                    let x = input + i * F, y = output + i * F
                    for j in 0..<F { y[j] = x[j] * a[j] + c[j] }
                }
            }
        }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func jvp(
        _ state: LayerState<Scalar>, parameterTangents: UnsafePointer<Scalar>?, parameterStride: Int,
        inputTangents: UnsafePointer<Scalar>?, block s: Int,
        outputTangents: UnsafeMutablePointer<Scalar>, scratch: UnsafeMutablePointer<Scalar>
    ) {
        guard let inputTangents else {
            outputTangents.update(repeating: 0, count: state.batch * s * inputSize)
            return
        }
        scaled(inputTangents, into: outputTangents, count: state.batch * s)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func vjp(
        _ state: LayerState<Scalar>, outputCotangents: UnsafePointer<Scalar>, block s: Int,
        parameterCotangents: UnsafeMutablePointer<Scalar>?, parameterStride: Int,
        inputCotangents: UnsafeMutablePointer<Scalar>?, scratch: UnsafeMutablePointer<Scalar>
    ) {
        guard let inputCotangents else { return }
        scaled(outputCotangents, into: inputCotangents, count: state.batch * s)
    }
}

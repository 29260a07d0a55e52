import NTKLinearAlgebra

/// An elementwise nonlinearity y = φ(x) on any shape. The forward pass records φ'(x), so
/// that the JVP (ẏ = φ'(x) ⊙ ẋ) and VJP (x̄ = φ'(x) ⊙ ȳ) cost one multiply per element and
/// evaluate no transcendental function.
///
/// - Complexity: forward O(b·n) function evaluations; JVP/VJP b·s·n multiplies.
public struct Activation<Scalar: BLASScalar>: ParameterFreeLayer {
    public let function: ActivationFunction
    public let inputShape: [Int]

    public init(_ function: ActivationFunction, shape: [Int]) {
        self.function = function
        self.inputShape = shape
    }

    public var outputShape: [Int] { inputShape }
    public func savedCount(batch: Int) -> Int { batch * inputSize }

    public func converted<Other: BLASScalar>(to: Other.Type) throws -> any Layer<Other> {
        Activation<Other>(function, shape: inputShape)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forward(
        parameters: UnsafePointer<Scalar>, input: UnsafePointer<Scalar>, batch: Int,
        output: UnsafeMutablePointer<Scalar>, saved: UnsafeMutablePointer<Scalar>
    ) throws {
        for j in 0..<(batch * inputSize) {
            let (y, d) = function.valueAndDerivative(input[j])
            output[j] = y
            saved[j] = d
        }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func jvp(
        _ state: LayerState<Scalar>, parameterTangents: UnsafePointer<Scalar>?, parameterStride: Int,
        inputTangents: UnsafePointer<Scalar>?, block s: Int,
        outputTangents: UnsafeMutablePointer<Scalar>, scratch: UnsafeMutablePointer<Scalar>
    ) throws {
        let n = inputSize
        guard let inputTangents else {
            outputTangents.update(repeating: 0, count: state.batch * s * n)
            return
        }
        Self.scale(state.saved, inputTangents, into: outputTangents, batch: state.batch, block: s, features: n)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func vjp(
        _ state: LayerState<Scalar>, outputCotangents: UnsafePointer<Scalar>, block s: Int,
        parameterCotangents: UnsafeMutablePointer<Scalar>?, parameterStride: Int,
        inputCotangents: UnsafeMutablePointer<Scalar>?, scratch: UnsafeMutablePointer<Scalar>
    ) throws {
        guard let inputCotangents else { return }
        Self.scale(state.saved, outputCotangents, into: inputCotangents, batch: state.batch, block: s, features: inputSize)
    }

    /// out[i, t, :] = d[i, :] ⊙ v[i, t, :].
    @inlinable
    static func scale(
        _ d: UnsafePointer<Scalar>, _ v: UnsafePointer<Scalar>, into out: UnsafeMutablePointer<Scalar>,
        batch: Int, block s: Int, features n: Int
    ) {
        for i in 0..<batch {
            let di = d + i * n
            for t in 0..<s {
                let offset = (i * s + t) * n
                let vi = v + offset, oi = out + offset
                for j in 0..<n { oi[j] = di[j] * vi[j] }
            }
        }
    }
}

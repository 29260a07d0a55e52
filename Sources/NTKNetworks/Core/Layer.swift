import NTKLinearAlgebra

/// A differentiable layer with hand-written forward, Jacobian-vector product (JVP, forward
/// mode) and vector-Jacobian product (VJP, reverse mode) rules, each for a *block* of `s`
/// vectors at once so that the work is GEMM-shaped.
///
/// A layer is a value (shapes, hyper-parameters, parameterization); its parameters live
/// outside it, in a slice of the network's flat parameter vector θ ∈ R^P
/// (`parameterCount` elements, laid out as described by `parameterTensors`).
///
/// ## Memory layouts (all row-major, shared by every layer)
/// - Activations of a batch of `b` examples: `[b, features]`, features in C order
///   (e.g. `[C, H, W]` flattened, like PyTorch).
/// - Activation tangents/cotangents of a block of `s` vectors: `[b, s, features]`
///   (example-major, then block index, then features).
/// - Parameter tangents/cotangents of a block: `s × P` row-major; a layer receives the base
///   of its own slice (`pointer + offset`) and the stride `P` between the `s` vectors.
///
/// ## Buffers
/// The caller (a `Sequential` or `Network`) preallocates everything: `savedCount(batch:)`
/// elements of per-layer state written by `forward` and read by `jvp`/`vjp` (e.g. the
/// activation derivative or im2col columns), and `scratchCount(batch:block:)` elements of
/// scratch for one derivative call. Layers must not allocate in `forward`, `jvp` or `vjp`.
///
/// Shapes should be stored properties: `inputSize`/`outputSize` are read in the passes and
/// must not build arrays there.
///
/// ## Adding a layer
/// 1. A `struct` conforming to `Layer` (generic over `Scalar: BLASScalar`), constructed with
///    its full input shape so that `outputShape` is known.
/// 2. Implement the three passes against the layouts above; use `Scalar.gemm` for anything
///    matrix-shaped, with the `s` block folded into the GEMM dimensions.
/// 3. Mark `forward`, `jvp` and `vjp` with `@_specialize(where Scalar == Float)` and
///    `@_specialize(where Scalar == Double)`: the chain calls layers through `any Layer`, and
///    without pre-specialization the elementwise loops run as unspecialized generic code
///    (measured 30–40× slower).
/// 4. Expose its parameter tensors with PyTorch `state_dict` names and shapes.
/// 5. Implement `converted(to:)` by rebuilding the layer in the other precision from its
///    stored hyper-parameters (never by converting derived `Scalar` state such as multipliers).
/// 6. Add a `LayerSpec` case (JSON type, decode/encode, `makeLayer`) and call the generic
///    derivative-check harness (`DerivativeHarness.check`) in the tests.
/// 7. State that PyTorch keeps in the `state_dict` but does not train (buffers such as
///    BatchNorm's running statistics) is a constant of the passes: conform to `BufferedLayer`
///    so that weights files load and save it.
public protocol Layer<Scalar>: Sendable {
    associatedtype Scalar: BLASScalar

    /// Shape of one input example (e.g. `[64]` or `[C, H, W]`).
    var inputShape: [Int] { get }
    /// Shape of one output example.
    var outputShape: [Int] { get }
    /// Number of parameters this layer owns in θ.
    var parameterCount: Int { get }
    /// The layer's parameter tensors, in the order they are stored in its slice, with
    /// PyTorch `state_dict` name suffixes ("weight", "bias", "layers.0.weight", …) and shapes.
    var parameterTensors: [ParameterTensor] { get }

    /// The same layer in precision `Other`: same shapes, hyper-parameters, parameterization,
    /// flags and parameter layout (`parameterCount`, `parameterTensors`), rebuilt with
    /// `Other`'s initializer (composite layers convert their children) so that
    /// precision-dependent state (forward multipliers, the normalized adjacency of a graph
    /// convolution, …) is recomputed from the layer's `Double` hyper-parameters in `Other`,
    /// exactly as if the layer had been built in `Other`.
    /// Parameters live outside layers: `Network.converted(to:)` converts θ.
    ///
    /// - Throws: `NetworkError` if rebuilding fails (it does not for a layer built by its own
    ///   initializer, whose arguments were validated then).
    func converted<Other: BLASScalar>(to: Other.Type) throws -> any Layer<Other>

    /// Writes initial parameter values into `parameters` (`parameterCount` elements) following
    /// the layer's parameterization.
    func initialize(parameters: UnsafeMutableBufferPointer<Scalar>, using generator: inout SeededGenerator)

    /// Elements of per-layer state that `forward` records for the derivative passes.
    func savedCount(batch: Int) -> Int
    /// Elements of scratch one `jvp` or `vjp` call needs for `batch` examples and `block` vectors.
    func scratchCount(batch: Int, block: Int) -> Int

    /// y = f(θ, x) for `batch` examples: `input` [b, in] → `output` [b, out]; records `saved`.
    func forward(
        parameters: UnsafePointer<Scalar>, input: UnsafePointer<Scalar>, batch: Int,
        output: UnsafeMutablePointer<Scalar>, saved: UnsafeMutablePointer<Scalar>) throws

    /// ẏ = ∂f/∂θ · θ̇ + ∂f/∂x · ẋ for a block of `block` vectors.
    ///
    /// - Parameters:
    ///   - parameterTangents: base of this layer's slice in an s × P block (stride
    ///     `parameterStride`), or nil for zero parameter tangents.
    ///   - inputTangents: [b, s, in], or nil for zero input tangents.
    ///   - outputTangents: [b, s, out], overwritten.
    func jvp(
        _ state: LayerState<Scalar>, parameterTangents: UnsafePointer<Scalar>?, parameterStride: Int,
        inputTangents: UnsafePointer<Scalar>?, block: Int,
        outputTangents: UnsafeMutablePointer<Scalar>, scratch: UnsafeMutablePointer<Scalar>) throws

    /// θ̄ += (∂f/∂θ)ᵀ ȳ and x̄ = (∂f/∂x)ᵀ ȳ for a block of `block` vectors.
    ///
    /// - Parameters:
    ///   - outputCotangents: [b, s, out].
    ///   - parameterCotangents: base of this layer's slice in an s × P block (stride
    ///     `parameterStride`), ACCUMULATED into; nil skips the parameter part.
    ///   - inputCotangents: [b, s, in], overwritten; nil skips the input part (first layer).
    func vjp(
        _ state: LayerState<Scalar>, outputCotangents: UnsafePointer<Scalar>, block: Int,
        parameterCotangents: UnsafeMutablePointer<Scalar>?, parameterStride: Int,
        inputCotangents: UnsafeMutablePointer<Scalar>?, scratch: UnsafeMutablePointer<Scalar>) throws
}

/// A layer without parameters (activations, pooling, reshapes, merges, …): no tensors, nothing
/// to initialize, and by default no saved state or scratch (a layer that needs them says so).
public protocol ParameterFreeLayer<Scalar>: Layer {}

extension ParameterFreeLayer {
    public var parameterCount: Int { 0 }
    public var parameterTensors: [ParameterTensor] { [] }
    public func initialize(parameters: UnsafeMutableBufferPointer<Scalar>, using generator: inout SeededGenerator) {}
    public func savedCount(batch: Int) -> Int { 0 }
    public func scratchCount(batch: Int, block: Int) -> Int { 0 }
}

/// A parameter-free layer whose passes copy each example's elements unchanged (its output
/// is its input with another shape: `Flatten`, `Reshape`, `Dropout` in evaluation mode): the
/// forward pass, the JVP and the VJP are one copy each.
public protocol ElementCopyLayer<Scalar>: ParameterFreeLayer {}

extension ElementCopyLayer {
    // Raw memory copies: no generic element loops, so no specialization is needed (a protocol
    // extension cannot carry @_specialize), and 0.0 is all-zero bits in Float and Double.
    @inline(__always)
    func copy(_ source: UnsafePointer<Scalar>, to destination: UnsafeMutablePointer<Scalar>, count: Int) {
        UnsafeMutableRawPointer(destination).copyMemory(from: source, byteCount: count * MemoryLayout<Scalar>.stride)
    }

    public func forward(
        parameters: UnsafePointer<Scalar>, input: UnsafePointer<Scalar>, batch: Int,
        output: UnsafeMutablePointer<Scalar>, saved: UnsafeMutablePointer<Scalar>
    ) {
        copy(input, to: output, count: batch * inputSize)
    }

    public func jvp(
        _ state: LayerState<Scalar>, parameterTangents: UnsafePointer<Scalar>?, parameterStride: Int,
        inputTangents: UnsafePointer<Scalar>?, block s: Int,
        outputTangents: UnsafeMutablePointer<Scalar>, scratch: UnsafeMutablePointer<Scalar>
    ) {
        let count = state.batch * s * inputSize
        if let inputTangents {
            copy(inputTangents, to: outputTangents, count: count)
        } else {
            UnsafeMutableRawPointer(outputTangents).initializeMemory(
                as: UInt8.self, repeating: 0, count: count * MemoryLayout<Scalar>.stride)
        }
    }

    public func vjp(
        _ state: LayerState<Scalar>, outputCotangents: UnsafePointer<Scalar>, block s: Int,
        parameterCotangents: UnsafeMutablePointer<Scalar>?, parameterStride: Int,
        inputCotangents: UnsafeMutablePointer<Scalar>?, scratch: UnsafeMutablePointer<Scalar>
    ) {
        if let inputCotangents { copy(outputCotangents, to: inputCotangents, count: state.batch * s * inputSize) }
    }
}

extension Layer {
    /// Elements of one input example.
    public var inputSize: Int { inputShape.reduce(1, *) }
    /// Elements of one output example.
    public var outputSize: Int { outputShape.reduce(1, *) }
}

/// What a layer's derivative passes read from the forward pass: its parameter slice, its
/// input and output activations and its saved state, for `batch` examples.
public struct LayerState<Scalar: BLASScalar> {
    public var parameters: UnsafePointer<Scalar>
    public var input: UnsafePointer<Scalar>
    public var output: UnsafePointer<Scalar>
    public var saved: UnsafePointer<Scalar>
    public var batch: Int

    public init(
        parameters: UnsafePointer<Scalar>, input: UnsafePointer<Scalar>, output: UnsafePointer<Scalar>,
        saved: UnsafePointer<Scalar>, batch: Int
    ) {
        self.parameters = parameters
        self.input = input
        self.output = output
        self.saved = saved
        self.batch = batch
    }
}

/// One named parameter tensor of a layer: its PyTorch `state_dict` name suffix, its shape in
/// PyTorch's convention (row-major, identical to the storage order in θ), and its offset
/// within the layer's slice.
public struct ParameterTensor: Sendable, Hashable {
    public var name: String
    public var shape: [Int]
    public var offset: Int
    public var count: Int { shape.reduce(1, *) }

    public init(name: String, shape: [Int], offset: Int) {
        self.name = name
        self.shape = shape
        self.offset = offset
    }
}

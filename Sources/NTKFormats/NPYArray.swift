import NTKLinearAlgebra
/// The element types of `.npy` files that `NPY` reads. Floating-point types are also written.
///
/// Raw values are NumPy's `descr` strings (little-endian `<`, or `|` where byte order does not
/// apply); `'<u1'` is accepted on reading as a synonym of `'|u1'`.
public enum NPYType: String, Sendable, Hashable, CaseIterable {
    case float32 = "<f4"
    case float64 = "<f8"
    case int64 = "<i8"
    case int32 = "<i4"
    case uint8 = "|u1"

    /// Bytes per element.
    public var itemSize: Int {
        switch self {
        case .float32, .int32: return 4
        case .float64, .int64: return 8
        case .uint8: return 1
        }
    }

    /// Whether the type is a floating-point type (and can hold NaN or infinity).
    public var isFloatingPoint: Bool { self == .float32 || self == .float64 }

    /// Parses a `descr` string; `nil` for anything unsupported (big-endian, complex, …).
    public init?(descr: String) {
        if descr == "<u1" || descr == "|u1" { self = .uint8; return }
        self.init(rawValue: descr)
    }
}

/// An n-dimensional array read from a `.npy` file: C-order (row-major) elements widened to
/// `Double` — exactly, since every supported dtype embeds in Double except integers beyond
/// 2⁵³, which the reader refuses.
public struct NPYArray: Sendable, Equatable {
    /// Dimensions, outermost first; `[]` for a 0-d (scalar) array.
    public var shape: [Int]
    /// Elements in C order; `values.count` is the product of `shape`.
    public var values: [Double]
    /// The element type stored in the file.
    public var dtype: NPYType
    /// Where the array came from (file path or a caller-given name), for error messages.
    public var source: String

    /// Wraps `values`; throws if their count is not the product of `shape`.
    public init(shape: [Int], values: [Double], dtype: NPYType, source: String = "<array>")
        throws(NPYError)
    {
        guard shape.allSatisfy({ $0 >= 0 }), NPY.elementCount(shape) == values.count else {
            throw .shapeMismatch(file: source, shape: shape, count: values.count)
        }
        self.shape = shape
        self.values = values
        self.dtype = dtype
        self.source = source
    }

    /// The array as a matrix: the first dimension becomes the rows and the remaining
    /// dimensions are flattened (C order) into the columns. A 1-d array of length n is an
    /// n×1 column; a 0-d array is 1×1.
    ///
    /// Throws `notRepresentable` if a finite value overflows `Scalar` (e.g. 1e300 as Float);
    /// NaN and infinities are carried over unchanged (read with `requireFinite` to refuse
    /// them).
    /// - Complexity: O(count).
    public func matrix<Scalar: BLASScalar>(_: Scalar.Type = Scalar.self) throws(NPYError)
        -> Matrix<Scalar>
    {
        let rows = shape.first ?? 1
        let columns = shape.count <= 1 ? 1 : NPY.elementCount(Array(shape.dropFirst())) ?? 0
        var m = Matrix<Scalar>(rows: rows, columns: columns)
        for (i, v) in values.enumerated() {
            let s = Scalar(v)
            if v.isFinite && !s.isFinite {
                throw .notRepresentable(
                    file: source, index: i, value: "\(v)", type: Scalar.precisionName)
            }
            m.storage[i] = s
        }
        return m
    }
}

import Foundation
import NTKLinearAlgebra

/// The element types this reader converts: floating point for activations and weights,
/// integers and booleans for shapes, indices and masks (ONNX `TensorProto.DataType`).
public enum ONNXElementType: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case float32, float64, int32, int64, bool

    /// The type of ONNX's `TensorProto.DataType` value `dataType`, or `nil` if unsupported.
    public init?(dataType: Int) {
        switch dataType {
        case 1: self = .float32
        case 11: self = .float64
        case 6: self = .int32
        case 7: self = .int64
        case 9: self = .bool
        default: return nil
        }
    }

    /// ONNX's `TensorProto.DataType` value.
    public var dataType: Int {
        switch self {
        case .float32: 1
        case .float64: 11
        case .int32: 6
        case .int64: 7
        case .bool: 9
        }
    }

    /// Bytes per element in `raw_data`.
    public var byteSize: Int {
        switch self {
        case .float32, .int32: 4
        case .float64, .int64: 8
        case .bool: 1
        }
    }

    /// Whether values are stored as `ONNXTensor.Values.floating`.
    public var isFloatingPoint: Bool { self == .float32 || self == .float64 }

    public var description: String { rawValue }

    /// ONNX's name of a `TensorProto.DataType` value ("FLOAT16", "STRING", …).
    static func onnxName(_ dataType: Int) -> String {
        let names = [
            0: "UNDEFINED", 1: "FLOAT", 2: "UINT8", 3: "INT8", 4: "UINT16", 5: "INT16", 6: "INT32", 7: "INT64",
            8: "STRING", 9: "BOOL", 10: "FLOAT16", 11: "DOUBLE", 12: "UINT32", 13: "UINT64", 14: "COMPLEX64",
            15: "COMPLEX128", 16: "BFLOAT16", 17: "FLOAT8E4M3FN", 18: "FLOAT8E4M3FNUZ", 19: "FLOAT8E5M2",
            20: "FLOAT8E5M2FNUZ", 21: "UINT4", 22: "INT4", 23: "FLOAT4E2M1",
        ]
        return names[dataType] ?? "data type \(dataType)"
    }
}

/// A constant tensor of an ONNX graph (an initializer, a `Constant` node's value, a tensor
/// attribute, or a value computed by constant folding), row-major like NumPy.
public struct ONNXTensor: Sendable, Hashable {
    /// The values, flattened row-major: floating-point types as `Double` (float32 values are
    /// exact in Double), integer and boolean types as `Int64` (booleans 0 or 1).
    public enum Values: Sendable, Hashable {
        case floating([Double])
        case integer([Int64])
        /// float32 initializers as read from the file, 4 bytes per value (a 25M-parameter model
        /// is then 100 MB in memory, not 200); ``normalized`` and ``ONNXTensor/doubles`` widen them.
        case float32([Float])

        /// The number of values.
        public var count: Int {
            switch self {
            case let .floating(v): v.count
            case let .integer(v): v.count
            case let .float32(v): v.count
            }
        }

        /// `.float32` widened to `.floating` (exact); the other cases unchanged. Shape
        /// arithmetic and constant folding see only `.floating` and `.integer`.
        public var normalized: Values {
            if case let .float32(v) = self { return .floating(v.map(Double.init)) }
            return self
        }
    }

    /// The tensor's name (empty for an unnamed attribute tensor).
    public var name: String
    public var elementType: ONNXElementType
    /// The dimensions (empty for a scalar).
    public var dims: [Int]
    public var values: Values

    /// A tensor; `values` must hold `dims`' product of values, of the kind `elementType` uses.
    /// - Throws: `ONNXError.valueCount` or `.sizeLimit` otherwise.
    public init(name: String, elementType: ONNXElementType, dims: [Int], values: Values) throws(ONNXError) {
        let count: Int
        do { count = try SizeLimit.product(dims, "the elements of tensor \"\(name)\"") } catch { throw .sizeLimit(error) }
        switch (values, elementType.isFloatingPoint) {
        case (.floating, true), (.float32, true), (.integer, false): break
        default:
            throw .valueCount(tensor: name, field: "values of the wrong kind for \(elementType)", dims: dims,
                              expected: count, got: 0)
        }
        guard values.count == count else {
            throw .valueCount(tensor: name, field: "values", dims: dims, expected: count, got: values.count)
        }
        self.init(unchecked: name, elementType, dims, values)
    }

    init(unchecked name: String, _ elementType: ONNXElementType, _ dims: [Int], _ values: Values) {
        self.name = name
        self.elementType = elementType
        self.dims = dims
        self.values = values
    }

    /// The number of elements (the product of `dims`; 1 for a scalar).
    public var count: Int { values.count }

    /// The values as `Double` (integers converted).
    public var doubles: [Double] {
        switch values {
        case let .floating(v): v
        case let .integer(v): v.map(Double.init)
        case let .float32(v): v.map(Double.init)
        }
    }

    /// The values of an integer or boolean tensor, `nil` for a floating-point one.
    public var integers: [Int64]? {
        if case let .integer(v) = values { return v }
        return nil
    }
}

extension ONNXTensor {
    /// Decodes and validates a `TensorProto`: element type, dims (non-negative, product
    /// overflow-checked and within memory), storage (no external data or segments) and that
    /// `raw_data` (little-endian) or the typed field holds exactly the elements the dims need.
    /// `label` names the tensor in errors when it has no name.
    init(proto: Onnx_TensorProto, label: String) throws(ONNXError) {
        let name = proto.name.isEmpty ? label : proto.name
        if !proto.externalData.isEmpty || proto.dataLocation == .external {
            let location = proto.externalData.first { $0.key == "location" }?.value ?? "an external file"
            throw .unsupportedStorage(
                tensor: name, message: "data stored externally (\(location)); expected data inside the model (save without external data)")
        }
        if proto.hasSegment { throw .unsupportedStorage(tensor: name, message: "segmented tensors are not supported; expected one segment") }
        guard let type = ONNXElementType(dataType: Int(proto.dataType)) else {
            throw .unsupportedElementType(tensor: name, dataType: ONNXElementType.onnxName(Int(proto.dataType)))
        }
        guard proto.dims.allSatisfy({ $0 >= 0 }) else { throw .negativeDimension(tensor: name, dims: proto.dims) }
        let dims = proto.dims.map { Int($0) }
        let count: Int
        do {
            count = try SizeLimit.product(dims, "the elements of tensor \"\(name)\"")
            try SizeLimit.checkAllocation("tensor \"\(name)\"", count: count, bytesPerElement: 8)
        } catch { throw .sizeLimit(error) }

        if proto.hasRawData {
            let (bytes, overflow) = count.multipliedReportingOverflow(by: type.byteSize)
            let raw = proto.rawData
            guard !overflow, bytes == raw.count else {
                throw .rawDataSize(tensor: name, dims: dims, elementType: type, expected: overflow ? .max : bytes, got: raw.count)
            }
            self.init(unchecked: name, type, dims, Self.decodeLittleEndian(raw, type: type, count: count))
            return
        }
        let values: Values
        let got: Int
        let field: String
        switch type {
        case .float32:
            (values, got, field) = (.float32(proto.floatData), proto.floatData.count, "float_data")
        case .float64:
            (values, got, field) = (.floating(proto.doubleData), proto.doubleData.count, "double_data")
        case .int64:
            (values, got, field) = (.integer(proto.int64Data), proto.int64Data.count, "int64_data")
        case .int32:
            (values, got, field) = (.integer(proto.int32Data.map(Int64.init)), proto.int32Data.count, "int32_data")
        case .bool:
            (values, got, field) = (.integer(proto.int32Data.map { $0 != 0 ? 1 : 0 }), proto.int32Data.count, "int32_data")
        }
        guard got == count else { throw .valueCount(tensor: name, field: field, dims: dims, expected: count, got: got) }
        self.init(unchecked: name, type, dims, values)
    }

    /// `count` little-endian values of `type` from `raw` (whose size has been checked).
    static func decodeLittleEndian(_ raw: Data, type: ONNXElementType, count: Int) -> Values {
        raw.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) -> Values in
            switch type {
            case .float32:
                return .float32((0..<count).map {
                    Float(bitPattern: UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)))
                })
            case .float64:
                return .floating((0..<count).map {
                    Double(bitPattern: UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self)))
                })
            case .int32:
                return .integer((0..<count).map {
                    Int64(Int32(littleEndian: buffer.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self)))
                })
            case .int64:
                return .integer((0..<count).map {
                    Int64(littleEndian: buffer.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self))
                })
            case .bool:
                return .integer((0..<count).map { buffer[$0] != 0 ? 1 : 0 })
            }
        }
    }
}

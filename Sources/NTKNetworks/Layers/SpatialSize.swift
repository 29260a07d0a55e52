/// A (height, width) pair for kernel sizes, strides and padding. In JSON it is either one
/// integer (used for both, like PyTorch's `kernel_size=3`) or a two-element array `[h, w]`.
public struct SpatialSize: Sendable, Hashable, ExpressibleByIntegerLiteral {
    public var height: Int
    public var width: Int

    public init(_ height: Int, _ width: Int) {
        self.height = height
        self.width = width
    }

    public init(integerLiteral value: Int) { self.init(value, value) }

    var pair: (Int, Int) { (height, width) }
}

extension SpatialSize: Codable {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let value = try? c.decode(Int.self) {
            self.init(value, value)
            return
        }
        let values = try c.decode([Int].self)
        guard values.count == 2 else {
            throw DecodingError.dataCorruptedError(
                in: c, debugDescription: "got \(values.count) values, expected an integer or [height, width]")
        }
        self.init(values[0], values[1])
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        if height == width { try c.encode(height) } else { try c.encode([height, width]) }
    }
}

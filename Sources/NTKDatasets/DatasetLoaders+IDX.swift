import Foundation
import NTKLinearAlgebra

extension DatasetLoaders {
    /// Reads an IDX file (the format of MNIST; LeCun, Cortes, Burges,
    /// http://yann.lecun.com/exdb/mnist/): two zero bytes, a type byte (0x08 = unsigned
    /// byte, the only type supported here), the number of dimensions, then each dimension as
    /// a big-endian UInt32, then the elements in C order.
    /// - Complexity: O(file size).
    public static func readIDX(_ url: URL) throws(DatasetError) -> (shape: [Int], values: [UInt8]) {
        let file = url.path
        let bytes = try contents(of: url)
        guard bytes.count >= 4 else { throw .truncated(file: file, expectedBytes: 4, actualBytes: bytes.count) }
        guard bytes[0] == 0, bytes[1] == 0 else {
            throw .badMagic(
                file: file, expected: "0x0000 then a type byte and a dimension count",
                found: String(format: "0x%02X%02X%02X%02X", bytes[0], bytes[1], bytes[2], bytes[3]))
        }
        guard bytes[2] == 0x08 else {
            throw .malformed(
                file: file,
                reason: String(format: "IDX element type 0x%02X is not supported (expected 0x08, unsigned byte)", bytes[2]))
        }
        let rank = Int(bytes[3])
        guard rank >= 1 else { throw .malformed(file: file, reason: "IDX file has 0 dimensions (expected ≥ 1)") }
        let headerSize = 4 + 4 * rank
        guard bytes.count >= headerSize else {
            throw .truncated(file: file, expectedBytes: headerSize, actualBytes: bytes.count)
        }
        var shape: [Int] = []
        var count = 1
        for k in 0..<rank {
            var d = 0
            for b in 0..<4 { d = d << 8 | Int(bytes[4 + 4 * k + b]) }
            shape.append(d)
            let (p, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow, p <= Int.max - headerSize else {
                throw .malformed(file: file, reason: "IDX shape \(shape) is too large")
            }
            count = p
        }
        try checkLength(bytes.count, expected: headerSize + count, file: file)
        return (shape, Array(bytes[headerSize...]))
    }

    /// An image-classification set from an IDX image file (shape [n, rows, columns], or any
    /// [n, …]) and an IDX label file (shape [n]), as MNIST ships (`train-images-idx3-ubyte`,
    /// `train-labels-idx1-ubyte`). Pixels are scaled to [0, 1] by 1/255; the input shape of
    /// one example is [1, rows, columns] (channel first) for rank-3 image files; targets are
    /// one-hot.
    public static func idx<Scalar: BLASScalar>(
        images: URL, labels: URL, classCount: Int = 10, name: String = "idx",
        as _: Scalar.Type = Scalar.self
    ) throws(DatasetError) -> Dataset<Scalar> {
        let (imageShape, pixels) = try readIDX(images)
        let (labelShape, labelBytes) = try readIDX(labels)
        guard imageShape.count >= 2 else {
            throw .malformed(
                file: images.path, reason: "image file has shape \(imageShape) (expected [n, rows, columns])")
        }
        guard labelShape.count == 1 else {
            throw .malformed(file: labels.path, reason: "label file has shape \(labelShape) (expected [n])")
        }
        let n = imageShape[0]
        guard labelShape[0] == n else {
            throw .inconsistent(
                dataset: name, reason: "\(labels.path) has \(labelShape[0]) labels for \(n) images in \(images.path)")
        }
        var x = Matrix<Scalar>(rows: n, columns: imageShape.dropFirst().reduce(1, *))
        for i in pixels.indices { x.storage[i] = Scalar(pixels[i]) / 255 }
        let exampleShape = imageShape.count == 3 ? [1] + imageShape.dropFirst() : Array(imageShape.dropFirst())
        var classLabels: [Int] = []
        classLabels.reserveCapacity(n)
        for (i, b) in labelBytes.enumerated() {
            guard Int(b) < classCount else {
                throw .labelOutOfRange(file: labels.path, index: i, label: Int(b), classCount: classCount)
            }
            classLabels.append(Int(b))
        }
        return try Dataset.classification(
            name: name, inputs: x, inputShape: exampleShape, labels: classLabels, classCount: classCount)
    }
}

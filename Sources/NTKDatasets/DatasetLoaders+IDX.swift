import Foundation
import NTKCompression
import NTKLinearAlgebra

extension DatasetLoaders {
    /// The default bound on the decompressed size of a gzip-compressed IDX file: 1 GiB
    /// (Fashion-MNIST's largest file, the training images, is 47,040,016 bytes).
    public static let defaultMaxDecompressedBytes = 1 << 30

    /// Reads an IDX file (the format of MNIST; LeCun, Cortes, Burges,
    /// http://yann.lecun.com/exdb/mnist/): two zero bytes, a type byte (0x08 = unsigned
    /// byte, the only type supported here), the number of dimensions, then each dimension as
    /// a big-endian UInt32, then the elements in C order.
    ///
    /// gzip-compressed files (`train-images-idx3-ubyte.gz`, as MNIST and Fashion-MNIST are
    /// distributed) are inflated transparently; they are recognized by their magic bytes
    /// 0x1f 0x8b, not by the file name. A compressed file that inflates to more than
    /// `maxDecompressedBytes` is refused (`.malformed`) before it can exhaust memory.
    /// - Complexity: O(file size), O(decompressed size) for gzip files.
    public static func readIDX(
        _ url: URL, maxDecompressedBytes: Int = defaultMaxDecompressedBytes
    ) throws(DatasetError) -> (shape: [Int], values: [UInt8]) {
        let file = url.path
        var bytes = try contents(of: url)
        if Gzip.isGzip(bytes) {
            guard maxDecompressedBytes >= 0 else {
                throw .invalidArgument(name: "maxDecompressedBytes", value: "\(maxDecompressedBytes)", expected: "≥ 0")
            }
            do throws(GzipError) {
                bytes = [UInt8](try Gzip.decompress(Data(bytes), maxOutputBytes: maxDecompressedBytes))
            } catch {
                // Corrupt, truncated or too large: the file is not a usable IDX file.
                throw .malformed(file: file, reason: error.description)
            }
        }
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
    /// one-hot. Files may be gzip-compressed (see `readIDX`). With `limit` (≥ 1), only the
    /// first `min(limit, n)` examples are kept, and only they are converted to `Scalar`.
    public static func idx<Scalar: BLASScalar>(
        images: URL, labels: URL, classCount: Int = 10, name: String = "idx", limit: Int? = nil,
        as _: Scalar.Type = Scalar.self
    ) throws(DatasetError) -> Dataset<Scalar> {
        if let limit, limit < 1 {
            throw .invalidArgument(name: "limit", value: "\(limit)", expected: "≥ 1 (or nil for every example)")
        }
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
        let kept = min(n, limit ?? n)
        let exampleSize = imageShape.dropFirst().reduce(1, *)
        var x = Matrix<Scalar>(rows: kept, columns: exampleSize)
        for i in 0..<(kept * exampleSize) { x.storage[i] = Scalar(pixels[i]) / 255 }
        let exampleShape = imageShape.count == 3 ? [1] + imageShape.dropFirst() : Array(imageShape.dropFirst())
        var classLabels: [Int] = []
        classLabels.reserveCapacity(kept)
        for (i, b) in labelBytes.enumerated() {
            guard Int(b) < classCount else {
                throw .labelOutOfRange(file: labels.path, index: i, label: Int(b), classCount: classCount)
            }
            if i < kept { classLabels.append(Int(b)) }
        }
        return try Dataset.classification(
            name: name, inputs: x, inputShape: exampleShape, labels: classLabels, classCount: classCount)
    }
}

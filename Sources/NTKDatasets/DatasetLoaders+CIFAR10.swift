import Foundation
import NTKLinearAlgebra

extension DatasetLoaders {
    /// Bytes of one record of the CIFAR-10 binary version: a label byte, then a 32×32 image
    /// as 1024 red, 1024 green and 1024 blue bytes (row-major per channel).
    public static let cifar10RecordSize = 1 + 3 * 32 * 32

    /// Loads CIFAR-10 binary batch files (`data_batch_1.bin` … `test_batch.bin`; Krizhevsky,
    /// "Learning Multiple Layers of Features from Tiny Images", 2009) in the given order.
    /// Pixels are scaled to [0, 1] by 1/255, each example has input shape [3, 32, 32]
    /// (channel first, as stored), targets are one-hot over 10 classes.
    ///
    /// A file whose length is not a positive multiple of 3073 bytes is `truncated`; a label
    /// byte ≥ 10 is `labelOutOfRange`.
    /// - Complexity: O(total file size).
    public static func cifar10<Scalar: BLASScalar>(
        batches: [URL], name: String = "cifar-10", as _: Scalar.Type = Scalar.self
    ) throws(DatasetError) -> Dataset<Scalar> {
        guard !batches.isEmpty else {
            throw .invalidArgument(name: "batches", value: "[]", expected: "at least one batch file")
        }
        let recordSize = cifar10RecordSize, imageSize = recordSize - 1
        var files: [[UInt8]] = []
        var total = 0
        for url in batches {
            let bytes = try contents(of: url)
            guard !bytes.isEmpty else {
                throw .truncated(file: url.path, expectedBytes: recordSize, actualBytes: 0)
            }
            let remainder = bytes.count % recordSize
            guard remainder == 0 else {
                throw .truncated(
                    file: url.path, expectedBytes: bytes.count + recordSize - remainder, actualBytes: bytes.count)
            }
            total += bytes.count / recordSize
            files.append(bytes)
        }
        var x = Matrix<Scalar>(rows: total, columns: imageSize)
        var labels: [Int] = []
        labels.reserveCapacity(total)
        var row = 0
        for (url, bytes) in zip(batches, files) {
            for r in 0..<(bytes.count / recordSize) {
                let base = r * recordSize
                let label = Int(bytes[base])
                guard label < 10 else {
                    throw .labelOutOfRange(file: url.path, index: r, label: label, classCount: 10)
                }
                labels.append(label)
                for j in 0..<imageSize { x.storage[row * imageSize + j] = Scalar(bytes[base + 1 + j]) / 255 }
                row += 1
            }
        }
        return try Dataset.classification(
            name: name, inputs: x, inputShape: [3, 32, 32], labels: labels, classCount: 10)
    }
}

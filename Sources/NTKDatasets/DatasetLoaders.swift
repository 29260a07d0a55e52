import Foundation
import NTKLinearAlgebra

/// Loaders of data sets stored in common binary formats: IDX (MNIST, Fashion-MNIST),
/// the CIFAR-10 binary version, and NumPy `.npy` arrays. Files are read whole; every size
/// field is checked against the file length, so a truncated or padded file is a typed
/// `DatasetError`, never a crash or a silently shortened data set.
public enum DatasetLoaders {
    /// The bytes of `url`, or `.io` naming the file.
    static func contents(of url: URL) throws(DatasetError) -> [UInt8] {
        do {
            return [UInt8](try Data(contentsOf: url))
        } catch {
            throw .io(file: url.path, message: "cannot read the file (\(error.localizedDescription))")
        }
    }

    /// Checks that `actual` bytes are exactly the `expected` ones.
    static func checkLength(_ actual: Int, expected: Int, file: String) throws(DatasetError) {
        if actual < expected { throw .truncated(file: file, expectedBytes: expected, actualBytes: actual) }
        if actual > expected { throw .trailingData(file: file, expectedBytes: expected, actualBytes: actual) }
    }
}

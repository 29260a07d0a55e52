import Foundation
import NTKLinearAlgebra

/// Data sets that Debian packages install under `/usr/share/datasets`, read where the
/// package puts them. Nothing is downloaded: a missing package is a `DatasetError` naming
/// the package to install.
public enum DebianDatasets {
    /// Which half of a data set with a fixed train/test split.
    public enum Split: String, Sendable, Hashable, CaseIterable {
        case train
        case test
    }

    /// Where Debian's `dataset-fashion-mnist` package installs its files (`dpkg -L
    /// dataset-fashion-mnist`).
    public static let fashionMNISTDirectory = URL(fileURLWithPath: "/usr/share/datasets/fashion-mnist", isDirectory: true)

    /// The Debian package providing Fashion-MNIST.
    public static let fashionMNISTPackage = "dataset-fashion-mnist"

    /// The gzip-compressed IDX image and label files of a Fashion-MNIST split, as named in
    /// Debian's package (and the upstream distribution).
    public static func fashionMNISTFiles(split: Split) -> (images: String, labels: String) {
        switch split {
        case .train: ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
        case .test: ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
        }
    }

    /// Fashion-MNIST (Xiao, Rasul, Vollgraf 2017, arXiv:1708.07747): 28×28 grey-scale images
    /// of Zalando articles in 10 classes (0 T-shirt/top, 1 trouser, 2 pullover, 3 dress,
    /// 4 coat, 5 sandal, 6 shirt, 7 sneaker, 8 bag, 9 ankle boot); 60,000 training and
    /// 10,000 test images. Inputs are pixels scaled to [0, 1] by 1/255 (input shape
    /// [1, 28, 28]), targets one-hot over 10 classes, in the files' order; the name is
    /// "fashion-mnist". License: MIT.
    ///
    /// - Parameters:
    ///   - split: `.train` (`train-*`) or `.test` (`t10k-*`).
    ///   - limit: keep only the first `limit` (≥ 1) examples, or all of them if fewer.
    ///   - directory: where the four `.gz` files are; default
    ///     `/usr/share/datasets/fashion-mnist`, where Debian's `dataset-fashion-mnist`
    ///     package installs them.
    /// - Throws: `.io` naming the missing file and the package when the files are absent;
    ///   `.invalidArgument` for `limit < 1`; the errors of `DatasetLoaders.idx` for
    ///   unreadable or inconsistent files, and `.malformed` if the images are not 28×28.
    public static func fashionMNIST<Scalar: BLASScalar>(
        split: Split, limit: Int? = nil, directory: URL? = nil, as _: Scalar.Type = Scalar.self
    ) throws(DatasetError) -> Dataset<Scalar> {
        if let limit, limit < 1 {
            throw .invalidArgument(name: "limit", value: "\(limit)", expected: "≥ 1 (or nil for every example)")
        }
        let directory = directory ?? fashionMNISTDirectory
        let names = fashionMNISTFiles(split: split)
        let images = directory.appendingPathComponent(names.images)
        let labels = directory.appendingPathComponent(names.labels)
        for url in [images, labels] where !FileManager.default.fileExists(atPath: url.path) {
            throw .io(
                file: url.path,
                message: "Fashion-MNIST not found: install Debian's \(fashionMNISTPackage) package "
                    + "(apt-get install \(fashionMNISTPackage))")
        }
        let dataset = try DatasetLoaders.idx(
            images: images, labels: labels, classCount: 10, name: "fashion-mnist", limit: limit, as: Scalar.self)
        guard dataset.inputShape == [1, 28, 28] else {
            throw .malformed(
                file: images.path,
                reason: "Fashion-MNIST examples have shape \(dataset.inputShape) (expected [1, 28, 28])")
        }
        return dataset
    }
}

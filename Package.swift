// swift-tools-version: 6.1
// NTKSpectra — matrix-free spectra of the empirical neural tangent kernel.
// Module map and dependency rules: see README.md ("Module map").
import PackageDescription

let package = Package(
    name: "NTKSpectra",
    products: [
        .library(name: "NTKLinearAlgebra", targets: ["NTKLinearAlgebra"]),
        .library(name: "NTKFourier", targets: ["NTKFourier"]),
        .library(name: "NTKEstimation", targets: ["NTKEstimation"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-numerics", from: "1.1.1"),
    ],
    targets: [
        // System libraries (Debian: libopenblas-dev, liblapacke-dev, libfftw3-dev).
        .systemLibrary(
            name: "COpenBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(
            name: "CLAPACKE", pkgConfig: "lapacke",
            providers: [.apt(["liblapacke-dev"])]),
        .systemLibrary(
            name: "CFFTW", pkgConfig: "fftw3",
            providers: [.apt(["libfftw3-dev"])]),

        // The only modules that import C.
        .target(
            name: "NTKLinearAlgebra",
            dependencies: [
                "COpenBLAS", "CLAPACKE",
                .product(name: "RealModule", package: "swift-numerics"),
            ]),
        .target(name: "NTKFourier", dependencies: ["CFFTW"]),
        .target(name: "NTKEstimation", dependencies: ["NTKLinearAlgebra", "NTKFourier"]),

        .testTarget(name: "NTKLinearAlgebraTests", dependencies: ["NTKLinearAlgebra"]),
        .testTarget(name: "NTKFourierTests", dependencies: ["NTKFourier", "NTKLinearAlgebra"]),
        .testTarget(
            name: "NTKEstimationTests",
            dependencies: ["NTKEstimation", "NTKLinearAlgebra", "NTKFourier"]),
    ],
    swiftLanguageModes: [.v6]
)

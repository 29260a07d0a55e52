// swift-tools-version: 6.1
// NTKSpectra — matrix-free spectra of the empirical neural tangent kernel.
// Module map and dependency rules: see README.md ("Module map").
import PackageDescription

let package = Package(
    name: "NTKSpectra",
    products: [
        .library(name: "NTKLinearAlgebra", targets: ["NTKLinearAlgebra"]),
        .library(name: "NTKFourier", targets: ["NTKFourier"]),
        .library(name: "NTKNetworks", targets: ["NTKNetworks"]),
        .library(name: "NTKSpectra", targets: ["NTKSpectra"]),
        .executable(name: "ntk-spectra", targets: ["ntk-spectra"]),
        .library(name: "NTKDatasets", targets: ["NTKDatasets"]),
        .library(name: "NTKEstimation", targets: ["NTKEstimation"]),
        .library(name: "NTKCompression", targets: ["NTKCompression"]),
        // The command-line options and commands, for tools built on them (Distributed/'s ntk-spectra-mpi).
        .library(name: "NTKSpectraCLI", targets: ["NTKSpectraCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-numerics", from: "1.1.1"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        // `swift package generate-documentation` (the DocC catalogs under Sources/*/*.docc).
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        // System libraries (Debian: libopenblas-dev, liblapacke-dev, libfftw3-dev, zlib1g-dev).
        .systemLibrary(
            name: "COpenBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(
            name: "CLAPACKE", pkgConfig: "lapacke",
            providers: [.apt(["liblapacke-dev"])]),
        .systemLibrary(
            name: "CFFTW", pkgConfig: "fftw3",
            providers: [.apt(["libfftw3-dev"])]),
        .systemLibrary(
            name: "CZlib", pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]),

        // The only modules that import C.
        .target(
            name: "NTKLinearAlgebra",
            dependencies: [
                "COpenBLAS", "CLAPACKE",
                .product(name: "RealModule", package: "swift-numerics"),
            ]),
        .target(name: "NTKFourier", dependencies: ["CFFTW"]),
        .target(name: "NTKCompression", dependencies: ["CZlib"]),
        .target(name: "NTKNetworks", dependencies: ["NTKLinearAlgebra"]),
        .target(name: "NTKSpectra", dependencies: ["NTKLinearAlgebra", "NTKNetworks", "NTKEstimation"]),
        .target(
            name: "NTKSpectraCLI",
            dependencies: [
                "NTKSpectra", "NTKNetworks", "NTKDatasets", "NTKEstimation", "NTKLinearAlgebra",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .executableTarget(name: "ntk-spectra", dependencies: ["NTKSpectraCLI", "NTKLinearAlgebra"]),
        .target(
            name: "NTKDatasets", dependencies: ["NTKLinearAlgebra", "NTKCompression"],
            exclude: ["Resources/make_resources.py"],
            resources: [.copy("Resources")]),
        .target(name: "NTKEstimation", dependencies: ["NTKLinearAlgebra", "NTKFourier"]),

        .testTarget(
            name: "NTKLinearAlgebraTests", dependencies: ["NTKLinearAlgebra"],
            resources: [.copy("Fixtures")]),
        .testTarget(name: "NTKFourierTests", dependencies: ["NTKFourier", "NTKLinearAlgebra"]),
        .testTarget(
            name: "NTKNetworksTests", dependencies: ["NTKNetworks", "NTKLinearAlgebra"],
            resources: [.copy("Fixtures")]),
        .testTarget(
            name: "NTKSpectraTests",
            dependencies: ["NTKSpectra", "NTKNetworks", "NTKLinearAlgebra", "NTKEstimation", "NTKDatasets"],
            resources: [.copy("Fixtures")]),
        .testTarget(name: "NTKSpectraCLITests", dependencies: ["NTKSpectraCLI", "NTKLinearAlgebra", "NTKEstimation"]),
        .testTarget(
            name: "NTKDatasetsTests", dependencies: ["NTKDatasets", "NTKLinearAlgebra", "NTKCompression"],
            exclude: ["Fixtures/make_idx_gz_fixtures.py"],
            resources: [.copy("Fixtures")]),
        .testTarget(
            name: "NTKEstimationTests",
            dependencies: ["NTKEstimation", "NTKLinearAlgebra", "NTKFourier"]),
    ],
    swiftLanguageModes: [.v6]
)

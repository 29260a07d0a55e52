// swift-tools-version: 6.1
// Paper reproductions with NTKSpectra: `Papers/run NAME [--quick]` builds this package in
// release mode and runs one reproduction (see README.md for the index). CI builds it and runs
// every reproduction's `--quick` smoke version.
import PackageDescription

let package = Package(
    name: "NTKSpectraPapers",
    dependencies: [
        .package(name: "NTKSpectra", path: ".."),
    ],
    targets: [
        .executableTarget(
            name: "papers",
            dependencies: [
                .product(name: "NTKSpectra", package: "NTKSpectra"),
                .product(name: "NTKNetworks", package: "NTKSpectra"),
                .product(name: "NTKDatasets", package: "NTKSpectra"),
                .product(name: "NTKLinearAlgebra", package: "NTKSpectra"),
                .product(name: "NTKEstimation", package: "NTKSpectra"),
            ],
            path: "Sources/papers"),
    ],
    swiftLanguageModes: [.v6]
)

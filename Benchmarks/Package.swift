// swift-tools-version: 6.1
// Benchmarks for NTKSpectra: run in release mode, e.g. `swift run -c release gemm-peak`.
// CI builds this package (so it never rots) but does not run it.
import PackageDescription

let package = Package(
    name: "NTKSpectraBenchmarks",
    dependencies: [
        .package(name: "NTKSpectra", path: ".."),
    ],
    targets: [
        .executableTarget(
            name: "gemm-peak",
            dependencies: [.product(name: "NTKLinearAlgebra", package: "NTKSpectra")],
            path: "Sources/GemmPeak"),
        .executableTarget(
            name: "network-passes",
            dependencies: [
                .product(name: "NTKLinearAlgebra", package: "NTKSpectra"),
                .product(name: "NTKNetworks", package: "NTKSpectra"),
            ],
            path: "Sources/NetworkPasses"),
        .executableTarget(
            name: "pass-allocations",
            dependencies: [
                .product(name: "NTKLinearAlgebra", package: "NTKSpectra"),
                .product(name: "NTKNetworks", package: "NTKSpectra"),
            ],
            path: "Sources/PassAllocations"),
        .executableTarget(
            name: "onnx-import",
            dependencies: [
                .product(name: "NTKONNX", package: "NTKSpectra"),
                .product(name: "NTKSpectra", package: "NTKSpectra"),
                .product(name: "NTKNetworks", package: "NTKSpectra"),
                .product(name: "NTKLinearAlgebra", package: "NTKSpectra"),
            ],
            path: "Sources/ONNXImport"),
        .executableTarget(
            name: "structured-matvec",
            dependencies: [
                .product(name: "NTKSpectra", package: "NTKSpectra"),
                .product(name: "NTKNetworks", package: "NTKSpectra"),
                .product(name: "NTKLinearAlgebra", package: "NTKSpectra"),
            ],
            path: "Sources/StructuredMatvec"),
        .executableTarget(
            name: "calibration",
            dependencies: [
                .product(name: "NTKSpectra", package: "NTKSpectra"),
                .product(name: "NTKEstimation", package: "NTKSpectra"),
                .product(name: "NTKNetworks", package: "NTKSpectra"),
                .product(name: "NTKDatasets", package: "NTKSpectra"),
                .product(name: "NTKLinearAlgebra", package: "NTKSpectra"),
            ],
            path: "Sources/Calibration"),
        .executableTarget(
            name: "accuracy-cost",
            dependencies: [
                .product(name: "NTKSpectra", package: "NTKSpectra"),
                .product(name: "NTKEstimation", package: "NTKSpectra"),
                .product(name: "NTKNetworks", package: "NTKSpectra"),
                .product(name: "NTKDatasets", package: "NTKSpectra"),
                .product(name: "NTKLinearAlgebra", package: "NTKSpectra"),
            ],
            path: "Sources/AccuracyCost"),
        .executableTarget(
            name: "route-costs",
            dependencies: [
                .product(name: "NTKSpectra", package: "NTKSpectra"),
                .product(name: "NTKNetworks", package: "NTKSpectra"),
                .product(name: "NTKLinearAlgebra", package: "NTKSpectra"),
            ],
            path: "Sources/RouteCosts"),
        .executableTarget(
            name: "warm-start",
            dependencies: [
                .product(name: "NTKSpectra", package: "NTKSpectra"),
                .product(name: "NTKEstimation", package: "NTKSpectra"),
                .product(name: "NTKNetworks", package: "NTKSpectra"),
                .product(name: "NTKDatasets", package: "NTKSpectra"),
                .product(name: "NTKLinearAlgebra", package: "NTKSpectra"),
            ],
            path: "Sources/WarmStart"),
    ],
    swiftLanguageModes: [.v6]
)

// swift-tools-version: 6.1
// libFuzzer targets for the file-format readers: NPY, safetensors, the JSON model spec, ONNX.
// Build and run with `Fuzz/run` (it passes the sanitizer flags; none are in this file).
import PackageDescription

let package = Package(
    name: "NTKSpectraFuzz",
    dependencies: [.package(name: "NTKSpectra", path: "..")],
    targets: [
        .target(name: "FuzzSupport", path: "Sources/FuzzSupport"),
        .executableTarget(
            name: "fuzz-npy",
            dependencies: ["FuzzSupport", .product(name: "NTKFormats", package: "NTKSpectra")],
            path: "Sources/fuzz-npy"),
        .executableTarget(
            name: "fuzz-safetensors",
            dependencies: ["FuzzSupport", .product(name: "NTKFormats", package: "NTKSpectra")],
            path: "Sources/fuzz-safetensors"),
        .executableTarget(
            name: "fuzz-modelspec",
            dependencies: ["FuzzSupport", .product(name: "NTKNetworks", package: "NTKSpectra")],
            path: "Sources/fuzz-modelspec"),
        .executableTarget(
            name: "fuzz-onnx",
            dependencies: ["FuzzSupport", .product(name: "NTKONNX", package: "NTKSpectra")],
            path: "Sources/fuzz-onnx"),
    ],
    swiftLanguageModes: [.v6]
)

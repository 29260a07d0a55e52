// swift-tools-version: 6.1
// NTKSpectra over MPI: data-parallel NTK products and `ntk-spectra-mpi` (run under mpirun).
// A nested package so that the main package builds and tests on machines without Open MPI;
// this one needs Debian's libopenmpi-dev and libscalapack-openmpi-dev (and openmpi-bin to run). See README.md.
import PackageDescription

let package = Package(
    name: "NTKSpectraDistributed",
    products: [
        .library(name: "NTKDistributed", targets: ["NTKDistributed"]),
        .executable(name: "ntk-spectra-mpi", targets: ["ntk-spectra-mpi"]),
    ],
    dependencies: [
        .package(name: "NTKSpectra", path: ".."),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // Open MPI (Debian: libopenmpi-dev); pkg-config "ompi-c".
        .systemLibrary(
            name: "CMPI", pkgConfig: "ompi-c",
            providers: [.apt(["libopenmpi-dev"])]),
        // ScaLAPACK + BLACS over Open MPI (Debian: libscalapack-openmpi-dev); pkg-config
        // "scalapack-openmpi". Only the link line: the shim declares the entry points it calls.
        .systemLibrary(
            name: "CScaLAPACK", pkgConfig: "scalapack-openmpi",
            providers: [.apt(["libscalapack-openmpi-dev"])]),
        // Plain-C wrappers of the MPI calls used (Open MPI's handles are macros Swift cannot import)
        // and of ScaLAPACK's distributed eigensolver. With CMPI and CScaLAPACK, the only C here.
        .target(name: "_NTKMPIShims", dependencies: ["CMPI", "CScaLAPACK"]),
        .target(
            name: "NTKDistributed",
            dependencies: [
                "_NTKMPIShims",
                .product(name: "NTKSpectra", package: "NTKSpectra"),
                .product(name: "NTKEstimation", package: "NTKSpectra"),
                .product(name: "NTKNetworks", package: "NTKSpectra"),
                .product(name: "NTKLinearAlgebra", package: "NTKSpectra"),
            ]),
        .target(
            name: "NTKSpectraMPICLI",
            dependencies: [
                "NTKDistributed",
                .product(name: "NTKSpectraCLI", package: "NTKSpectra"),
                .product(name: "NTKSpectra", package: "NTKSpectra"),
                .product(name: "NTKEstimation", package: "NTKSpectra"),
                .product(name: "NTKNetworks", package: "NTKSpectra"),
                .product(name: "NTKLinearAlgebra", package: "NTKSpectra"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .executableTarget(
            name: "ntk-spectra-mpi",
            dependencies: ["NTKSpectraMPICLI", .product(name: "NTKLinearAlgebra", package: "NTKSpectra")]),
        .testTarget(
            name: "NTKDistributedTests",
            dependencies: [
                "NTKDistributed",
                .product(name: "NTKSpectra", package: "NTKSpectra"),
                .product(name: "NTKNetworks", package: "NTKSpectra"),
                .product(name: "NTKLinearAlgebra", package: "NTKSpectra"),
            ]),
    ],
    swiftLanguageModes: [.v6]
)

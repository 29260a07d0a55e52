// NTKSpectra is the library's umbrella: `import NTKSpectra` brings the NTK operators, estimators
// and monitor (this module) together with the modules their interfaces use — matrices and BLAS
// (NTKLinearAlgebra), networks and training (NTKNetworks), the estimators (NTKEstimation) and
// records and file formats (NTKFormats). Data sets (NTKDatasets), ONNX import (NTKONNX) and the
// command line (NTKSpectraCLI) are imported on their own: they pull in data files, protobuf and
// argument parsing that a training loop does not need.
@_exported import NTKEstimation
@_exported import NTKFormats
@_exported import NTKLinearAlgebra
@_exported import NTKNetworks

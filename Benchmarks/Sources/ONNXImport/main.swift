// Import time and memory of an ONNX model (issue #14 target: a 25M-parameter file in ≤ 2 s,
// memory ≤ 2× the weights).
//
//   swift run -c release onnx-import MODEL.onnx [--precision float|double] [--repeats R]
//
// Prints one JSON line: read and import seconds (median of R; the first run is also reported
// alone, as a user's one import is cold), the weights' bytes in the file, the process's peak
// resident memory after the imports and its ratio to the weights, the parameter count.
import Foundation
import NTKLinearAlgebra
import NTKNetworks
import NTKONNX
import NTKSpectra

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

var arguments = Array(CommandLine.arguments.dropFirst())
guard let path = arguments.first else {
    FileHandle.standardError.write(Data("usage: onnx-import MODEL.onnx [--precision float|double] [--repeats R]\n".utf8))
    exit(2)
}
var precision = "float", repeats = 3
if let i = arguments.firstIndex(of: "--precision"), i + 1 < arguments.count { precision = arguments[i + 1] }
if let i = arguments.firstIndex(of: "--repeats"), i + 1 < arguments.count, let r = Int(arguments[i + 1]) { repeats = max(1, r) }

let baseline = ResidentMemory.currentBytes() ?? 0
var readTimes: [Double] = [], importTimes: [Double] = []
var parameters = 0, weightBytes = 0
do {
    for _ in 0..<repeats {
        var model: ONNXModel?
        readTimes.append(try seconds { model = try ONNXModel(contentsOf: URL(fileURLWithPath: path)) })
        if arguments.contains("--phases") {
            print("after read: current \(ResidentMemory.currentBytes() ?? 0), peak \(ResidentMemory.peakBytes() ?? 0)")
        }
        weightBytes = model!.initializers.reduce(0) { $0 + $1.count * ($1.elementType == .float64 ? 8 : 4) }
        importTimes.append(try seconds {
            if precision == "double" {
                parameters = try ONNXImporter.network(model.take()!, as: Double.self).parameterCount
            } else {
                parameters = try ONNXImporter.network(model.take()!, as: Float.self).parameterCount
            }
        })
    }
} catch {
    FileHandle.standardError.write(Data("onnx-import: \(error)\n".utf8))
    exit(1)
}
let peak = ResidentMemory.peakBytes() ?? 0
if arguments.contains("--phases") { print("after import: current \(ResidentMemory.currentBytes() ?? 0), peak \(peak)") }
let total = zip(readTimes, importTimes).map(+)
let fields: [(String, String)] = [
    ("file", "\"\(path)\""), ("precision", "\"\(precision)\""), ("parameters", "\(parameters)"),
    ("weight_bytes", "\(weightBytes)"), ("repeats", "\(repeats)"),
    ("read_seconds_median", "\(median(readTimes))"), ("import_seconds_median", "\(median(importTimes))"),
    ("total_seconds_median", "\(median(total))"), ("total_seconds_first", "\(total[0])"),
    ("peak_resident_bytes", "\(peak)"), ("baseline_resident_bytes", "\(baseline)"),
    ("peak_over_weights", "\(Double(peak - baseline) / Double(max(weightBytes, 1)))"),
    ("openblas_core", "\"\(BLASThreads.coreName)\""),
]
print("{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}")

import Foundation
import FuzzSupport
import NTKONNX

/// One input: any bytes given to the ONNX reader, then, for a valid model, its shape
/// arithmetic folded at batch size 2 (symbolic dimensions set to 3). Errors are the expected
/// outcome; a crash, a trap or a sanitizer report is a bug.
@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ start: UnsafePointer<UInt8>?, _ count: Int) -> Int32 {
    let data = start.map { Data(bytes: $0, count: count) } ?? Data()
    if let model = try? ONNXModel(data: data) {
        var symbols: [String: Int] = [:]
        for input in model.inputs {
            for case let .symbolic(name) in input.shape ?? [] { symbols[name] = 3 }
        }
        if let shapes = try? model.inputShapes(batchSize: 2, dimensions: symbols) {
            _ = try? model.foldConstants(inputShapes: shapes, maximumFoldedElements: 1 << 16)
        }
        // The importer too: every failure must be a thrown error, never a crash.
        _ = try? ONNXImporter.network(model, as: Double.self)
    }
    return 0
}

@_cdecl("fuzz_onnx_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runFuzzer(argc: argc, argv: argv, callback: testOneInput)
}

import Foundation
import FuzzSupport
import NTKFormats

/// One input: any bytes given to the reader. Errors are the expected outcome; a crash, a trap
/// or a sanitizer report is a bug.
@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ start: UnsafePointer<UInt8>?, _ count: Int) -> Int32 {
    let data = start.map { Data(bytes: $0, count: count) } ?? Data()
    _ = try? NPY.read(data: data, source: "fuzz", requireFinite: true)
    return 0
}

@_cdecl("fuzz_npy_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runFuzzer(argc: argc, argv: argv, callback: testOneInput)
}

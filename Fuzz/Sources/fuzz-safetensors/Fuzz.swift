import Foundation
import FuzzSupport
import NTKFormats

/// One input: any bytes given to the reader. Errors are the expected outcome; a crash, a trap
/// or a sanitizer report is a bug.
@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ start: UnsafePointer<UInt8>?, _ count: Int) -> Int32 {
    let data = start.map { Data(bytes: $0, count: count) } ?? Data()
    if let file = try? Safetensors(data: data) {
        for name in file.entries.keys { _ = try? file.values(name, as: Double.self) }
    }
    return 0
}

@_cdecl("fuzz_safetensors_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runFuzzer(argc: argc, argv: argv, callback: testOneInput)
}

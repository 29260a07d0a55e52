import Foundation
import FuzzSupport
import NTKNetworks

/// One input: any bytes given to the reader. Errors are the expected outcome; a crash, a trap
/// or a sanitizer report is a bug.
@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ start: UnsafePointer<UInt8>?, _ count: Int) -> Int32 {
    let data = start.map { Data(bytes: $0, count: count) } ?? Data()
    if let spec = try? ModelSpec.decode(json: data) { _ = try? spec.makeNetwork(Float.self, seed: 0) }
    return 0
}

@_cdecl("fuzz_modelspec_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runFuzzer(argc: argc, argv: argv, callback: testOneInput)
}

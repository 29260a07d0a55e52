import Foundation
import FuzzSupport
import NTKNetworks

/// The largest parameter vector a fuzz input may initialize (16 MB of floats).
let maximumParameters = 4_000_000

/// One input: any bytes given to the reader. Errors are the expected outcome; a crash, a trap
/// or a sanitizer report is a bug.
@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ start: UnsafePointer<UInt8>?, _ count: Int) -> Int32 {
    let data = start.map { Data(bytes: $0, count: count) } ?? Data()
    // Parameter vectors beyond `maximumParameters` are valid models, only slow to initialize under
    // AddressSanitizer (a 250M-parameter transformer layer took over libFuzzer's 20 s timeout):
    // the body is still built and shape-checked, and the allocation checks of large and
    // overflowing sizes are unit tests ("Hardening: sizes from a spec").
    guard let spec = try? ModelSpec.decode(json: data), let body = try? spec.makeBody(Float.self) else { return 0 }
    if body.parameterCount <= maximumParameters { _ = try? spec.makeNetwork(Float.self, seed: 0) }
    return 0
}

@_cdecl("fuzz_modelspec_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runFuzzer(argc: argc, argv: argv, callback: testOneInput)
}

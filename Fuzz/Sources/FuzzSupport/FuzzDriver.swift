/// libFuzzer's driver entry (compiler-rt's `LLVMFuzzerRunDriver`, linked by `-sanitize=fuzzer`).
/// SwiftPM names an executable's entry point `<module>_main` and aliases `main` to it, so each
/// fuzz target defines that entry and hands libFuzzer its arguments and the one-input callback.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32

/// Runs libFuzzer with the process's arguments and `callback` as the target.
public func runFuzzer(
    argc: Int32, argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
    callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32 {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv, callback)
}

// GEMM peak of the BLASScalar wrapper: the physical limit later performance work is judged
// against. Usage: gemm-peak [n=2048] [repeats=5]. Prints median GFLOP/s for sgemm and dgemm
// at 1 and 2 OpenBLAS threads, with the OpenBLAS core in use.
import Foundation
import NTKLinearAlgebra

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : 0.5 * (s[s.count / 2 - 1] + s[s.count / 2])
}

func measure<T: BLASScalar>(_: T.Type, n: Int, repeats: Int) throws -> Double {
    var g = SeededGenerator(seed: 1)
    let a = [T].gaussian(count: n * n, using: &g), b = [T].gaussian(count: n * n, using: &g)
    var c = [T](repeating: 0, count: n * n)
    var times: [Double] = []
    for r in 0...repeats {
        let start = DispatchTime.now().uptimeNanoseconds
        try c.withUnsafeMutableBufferPointer { cp in
            try T.gemm(.none, .none, m: n, n: n, k: n, alpha: 1, a: a, lda: n, b: b, ldb: n, beta: 0,
                       c: cp.baseAddress!, ldc: n)
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        if r > 0 { times.append(seconds) }  // first call warms up
    }
    return 2 * pow(Double(n), 3) / median(times) * 1e-9
}

let args = CommandLine.arguments.dropFirst().compactMap { Int($0) }
let n = args.first ?? 2048
let repeats = args.count > 1 ? args[1] : 5
print("openblas_core=\(BLASThreads.coreName) n=\(n) repeats=\(repeats) (median GFLOP/s)")
for threads in [1, 2] {
    try BLASThreads.set(threads)
    let s = try measure(Float.self, n: n, repeats: repeats)
    let d = try measure(Double.self, n: n, repeats: repeats)
    print(String(format: "threads=%d  sgemm %.1f GFLOP/s  dgemm %.1f GFLOP/s", threads, s, d))
}

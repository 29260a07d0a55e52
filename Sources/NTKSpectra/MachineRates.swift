import Dispatch
import NTKLinearAlgebra
import Synchronization

/// Throughputs of this machine that the route cost model multiplies flop and byte counts by:
/// double and single precision GEMM (flop/s) and the memory bandwidth a matrix–vector
/// product streams at (bytes/s), with the OpenBLAS core and thread count they were measured on.
///
/// `measured()` times three small BLAS calls once per process (≈ 20–40 ms) and caches the
/// result; later changes of the OpenBLAS thread count are not re-measured.
public struct MachineRates: Sendable, Codable, Equatable {
    public var doubleGEMM: Double
    public var floatGEMM: Double
    public var memoryBandwidth: Double
    public var openBLASCore: String
    public var threads: Int

    public init(doubleGEMM: Double, floatGEMM: Double, memoryBandwidth: Double, openBLASCore: String = "", threads: Int = 1) {
        self.doubleGEMM = doubleGEMM
        self.floatGEMM = floatGEMM
        self.memoryBandwidth = memoryBandwidth
        self.openBLASCore = openBLASCore
        self.threads = threads
    }

    /// GEMM flop/s for the network's arithmetic.
    public func gemm<Scalar: BLASScalar>(_: Scalar.Type) -> Double {
        Scalar.self == Float.self ? floatGEMM : doubleGEMM
    }

    private static let cache = Mutex<MachineRates?>(nil)

    /// The rates of this process, measured on first use.
    public static func measured() -> MachineRates {
        cache.withLock { cached in
            if let cached { return cached }
            let rates = measure()
            cached = rates
            return rates
        }
    }

    /// Best of three: an n³ GEMM in each precision (n = 384) and a GEMV over a 16 MiB matrix.
    static func measure() -> MachineRates {
        func best(_ body: () throws -> Void) -> Double {
            var fastest = Double.infinity
            for _ in 0..<3 {
                let start = DispatchTime.now().uptimeNanoseconds
                try? body()
                fastest = min(fastest, Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
            }
            return max(fastest, 1e-9)
        }
        func gemmRate<Scalar: BLASScalar>(_: Scalar.Type) -> Double {
            let n = 384
            let a = [Scalar](repeating: 1, count: n * n)
            var c = [Scalar](repeating: 0, count: n * n)
            let seconds = best {
                try a.withUnsafeBufferPointer { ap in
                    try c.withUnsafeMutableBufferPointer { cp in
                        try Scalar.gemm(.none, .none, m: n, n: n, k: n, alpha: 1, a: ap.baseAddress!, lda: n,
                                        b: ap.baseAddress!, ldb: n, beta: 0, c: cp.baseAddress!, ldc: n)
                    }
                }
            }
            return 2 * Double(n * n * n) / seconds
        }
        let rows = 1024, columns = 2048
        let m = [Double](repeating: 1, count: rows * columns)
        let x = [Double](repeating: 1, count: columns)
        var y = [Double](repeating: 0, count: rows)
        let gemvSeconds = best {
            try m.withUnsafeBufferPointer { mp in
                try x.withUnsafeBufferPointer { xp in
                    try y.withUnsafeMutableBufferPointer { yp in
                        try Double.gemv(.none, m: rows, n: columns, alpha: 1, a: mp.baseAddress!, lda: columns,
                                        x: xp.baseAddress!, incx: 1, beta: 0, y: yp.baseAddress!, incy: 1)
                    }
                }
            }
        }
        return MachineRates(
            doubleGEMM: gemmRate(Double.self), floatGEMM: gemmRate(Float.self),
            memoryBandwidth: Double(rows * columns * 8) / gemvSeconds, openBLASCore: BLASThreads.coreName,
            threads: BLASThreads.count)
    }
}

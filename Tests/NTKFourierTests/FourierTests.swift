import Foundation
import NTKFourier
import NTKLinearAlgebra
import Testing

/// DCT-II/III and the real FFT against their O(n²) definitions.
@Suite("FFTW transforms")
struct FourierTests {
    static func input(_ n: Int) -> [Double] {
        var g = SeededGenerator(seed: UInt64(n))
        return [Double].gaussian(count: n, using: &g)
    }

    @Test(arguments: [1, 2, 7, 16, 33])
    func dctIIMatchesDefinition(n: Int) throws {
        let x = Self.input(n)
        let y = try DCT.typeII(x)
        let scale = x.map(abs).reduce(0, +) * 2
        for k in 0..<n {
            var s = 0.0
            for j in 0..<n { s += x[j] * cos(Double.pi * (Double(j) + 0.5) * Double(k) / Double(n)) }
            #expect(abs(y[k] - 2 * s) <= 10 * Double(n) * Double.ulpOfOne * scale)
        }
    }

    @Test(arguments: [1, 2, 7, 16, 33])
    func dctIIIMatchesDefinitionAndInverts(n: Int) throws {
        let x = Self.input(n)
        let y = try DCT.typeIII(x)
        let scale = x.map(abs).reduce(0, +) * 2
        for k in 0..<n {
            var s = x[0]
            for j in 1..<max(n, 1) where j < n {
                s += 2 * x[j] * cos(Double.pi * Double(j) * (Double(k) + 0.5) / Double(n))
            }
            #expect(abs(y[k] - s) <= 10 * Double(n) * Double.ulpOfOne * scale)
        }
        // DCT-III(DCT-II(x)) = 2n x.
        let roundTrip = try DCT.typeIII(DCT.typeII(x))
        for j in 0..<n { #expect(abs(roundTrip[j] / Double(2 * n) - x[j]) <= 100 * Double(n) * Double.ulpOfOne * scale) }
    }

    @Test(arguments: [1, 8, 15])
    func realFFTMatchesDefinition(n: Int) throws {
        let x = Self.input(n)
        let (re, im) = try RealFFT.forward(x)
        #expect(re.count == n / 2 + 1)
        let scale = x.map(abs).reduce(0, +)
        for k in 0...(n / 2) {
            var sr = 0.0, si = 0.0
            for j in 0..<n {
                let a = -2 * Double.pi * Double(j * k) / Double(n)
                sr += x[j] * cos(a); si += x[j] * sin(a)
            }
            #expect(abs(re[k] - sr) <= 10 * Double(n) * Double.ulpOfOne * scale)
            #expect(abs(im[k] - si) <= 10 * Double(n) * Double.ulpOfOne * scale)
        }
    }

    @Test func plansAreReusedAcrossThreads() async throws {
        // Concurrent transforms of several lengths: planning is serialized, execution is not.
        let results = try await withThrowingTaskGroup(of: Double.self) { group in
            for t in 0..<16 {
                group.addTask {
                    let x = Self.input(8 + t % 4)
                    let y = try DCT.typeIII(DCT.typeII(x))
                    return zip(x, y).map { abs($1 / Double(2 * x.count) - $0) }.max()!
                }
            }
            var worst = 0.0
            for try await r in group { worst = max(worst, r) }
            return worst
        }
        #expect(results <= 1e-12)
    }

    @Test func rejectsBadLengths() {
        #expect(throws: FourierError.self) { _ = try DCT.typeII([]) }
        var out = [Double](repeating: 0, count: 3)
        #expect(throws: FourierError.self) {
            try [1.0, 2.0].withUnsafeBufferPointer { i in
                try out.withUnsafeMutableBufferPointer { o in try DCT.typeII(i, into: o) }
            }
        }
    }
}

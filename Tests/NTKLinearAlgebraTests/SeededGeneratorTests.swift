import Foundation
import Testing
@testable import NTKLinearAlgebra

@Suite("SeededGenerator")
struct SeededGeneratorTests {
    @Test func reproducibleAndSeedSensitive() {
        var a = SeededGenerator(seed: 42), b = SeededGenerator(seed: 42), c = SeededGenerator(seed: 43)
        let sa = (0..<100).map { _ in a.next() }, sb = (0..<100).map { _ in b.next() }
        let sc = (0..<100).map { _ in c.next() }
        #expect(sa == sb)
        #expect(sa != sc)
        var s1 = SeededGenerator(seed: 42, stream: 1)
        #expect((0..<100).map { _ in s1.next() } != sa)
    }

    @Test func gaussianMoments() {
        // Mean and variance of 200k N(0,1) samples within 5 standard errors.
        var g = SeededGenerator(seed: 7)
        let n = 200_000
        var buffer = [Double](repeating: 0, count: n)
        buffer.withUnsafeMutableBufferPointer { g.fillGaussian($0) }
        let mean = buffer.reduce(0, +) / Double(n)
        let variance = buffer.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n - 1)
        let fourth = buffer.reduce(0) { $0 + pow($1, 4) } / Double(n)
        #expect(abs(mean) <= 5 / Double(n).squareRoot())
        #expect(abs(variance - 1) <= 5 * (2.0 / Double(n)).squareRoot())
        #expect(abs(fourth - 3) <= 5 * (96.0 / Double(n)).squareRoot())
    }

    @Test func rademacherAndSphere() {
        var g = SeededGenerator(seed: 9)
        var r = [Float](repeating: 0, count: 10_000)
        r.withUnsafeMutableBufferPointer { g.fillRademacher($0) }
        #expect(r.allSatisfy { $0 == 1 || $0 == -1 })
        let mean = r.reduce(0) { $0 + Double($1) } / 10_000
        #expect(abs(mean) <= 5 / 100)
        var s = [Double](repeating: 0, count: 50)
        s.withUnsafeMutableBufferPointer { g.fillUniformOnSphere($0) }
        let norm2 = s.reduce(0) { $0 + $1 * $1 }
        #expect(abs(norm2 - 50) <= 1e-12 * 50)
        var u = [Double](repeating: 0, count: 1000)
        u.withUnsafeMutableBufferPointer { g.fillUniform($0, low: -2, high: 3) }
        #expect(u.allSatisfy { $0 >= -2 && $0 < 3 })
    }
}

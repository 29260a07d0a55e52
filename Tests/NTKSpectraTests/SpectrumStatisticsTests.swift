import Foundation
import Testing
import NTKSpectra

@Suite("Spectrum statistics conventions")
struct SpectrumStatisticsTests {
    @Test func uniformSpectrumHasMaximalEntropy() {
        let s = SpectrumStatistics(eigenvalues: Array(repeating: 2.5, count: 8))
        #expect(abs(s.entropy - log(8)) <= 8 * Double.ulpOfOne)
        #expect(abs(s.normalizedEntropy - 1) <= 8 * Double.ulpOfOne)
        #expect(abs(s.effectiveRank - 8) <= 1e-12)
        #expect(abs(s.participationRatio - 8) <= 1e-12)
        #expect(s.trace == 20)
    }

    @Test func roundOffNegativesAreClippedAndZerosIgnored() {
        let s = SpectrumStatistics(eigenvalues: [-1e-15, 0, 1, 3])
        let p = [0.25, 0.75]
        let expected = -p.reduce(0) { $0 + $1 * log($1) }
        #expect(abs(s.entropy - expected) <= 4 * Double.ulpOfOne)
        #expect(s.clippedNegativeMass == 1e-15)
        #expect(s.topEigenvalue == 3)
        #expect(s.dimension == 4)
        #expect(abs(s.normalizedEntropy - expected / log(4)) <= 4 * Double.ulpOfOne)
    }
}

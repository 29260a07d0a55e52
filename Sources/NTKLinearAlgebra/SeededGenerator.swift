import RealModule

/// A seeded, reproducible pseudo-random generator: xoshiro256** (Blackman & Vigna 2018,
/// arXiv:1805.01407) with its state expanded from a 64-bit seed by SplitMix64.
///
/// A value type and `Sendable`: copy it to fork a stream, or derive independent streams
/// with `init(seed:stream:)`. Sampling helpers fill preallocated buffers and allocate
/// nothing.
public struct SeededGenerator: RandomNumberGenerator, Sendable, Hashable {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    /// A generator whose whole state is determined by `seed` (and `stream`, which selects
    /// one of 2⁶⁴ decorrelated streams for the same seed).
    public init(seed: UInt64, stream: UInt64 = 0) {
        var sm = SplitMix64(state: seed ^ (stream &* 0xD1B5_4A32_D192_ED03))
        if stream != 0 { _ = sm.next(); sm.state ^= stream }
        s0 = sm.next(); s1 = sm.next(); s2 = sm.next(); s3 = sm.next()
        if s0 | s1 | s2 | s3 == 0 { s0 = 0x9E37_79B9_7F4A_7C15 }
    }

    /// The generator's whole state (xoshiro256**'s four words), to save and later continue the
    /// stream exactly with `init(state:)` (e.g. in a training checkpoint).
    public var state: [UInt64] { [s0, s1, s2, s3] }

    /// A generator continuing from a saved `state` (four words, not all zero).
    /// Returns nil for a state of the wrong length or all zeros (not a xoshiro state).
    public init?(state: [UInt64]) {
        guard state.count == 4, state[0] | state[1] | state[2] | state[3] != 0 else { return nil }
        s0 = state[0]; s1 = state[1]; s2 = state[2]; s3 = state[3]
    }

    @inlinable
    static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 &- k)) }

    public mutating func next() -> UInt64 {
        let result = Self.rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = Self.rotl(s3, 45)
        return result
    }

    /// A uniform double in [0, 1) with 53 random bits.
    @inlinable
    public mutating func nextUnit() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// A standard normal deviate (Box–Muller; both variates of a pair are not cached so that
    /// the generator stays a plain state with no hidden spare).
    public mutating func nextGaussian() -> Double {
        // u1 in (0, 1] so that log(u1) is finite.
        let u1 = 1.0 - nextUnit()
        let u2 = nextUnit()
        return (-2.0 * Double.log(u1)).squareRoot() * Double.cos(2.0 * Double.pi * u2)
    }

    /// Fills `buffer` with i.i.d. N(mean, σ²) values; pairs of Box–Muller variates are both used.
    public mutating func fillGaussian<T: BinaryFloatingPoint>(
        _ buffer: UnsafeMutableBufferPointer<T>, mean: Double = 0, standardDeviation: Double = 1
    ) {
        var i = 0
        let n = buffer.count
        while i < n {
            let u1 = 1.0 - nextUnit()
            let u2 = nextUnit()
            let r = (-2.0 * Double.log(u1)).squareRoot()
            let angle = 2.0 * Double.pi * u2
            buffer[i] = T(mean + standardDeviation * r * Double.cos(angle))
            if i + 1 < n { buffer[i + 1] = T(mean + standardDeviation * r * Double.sin(angle)) }
            i += 2
        }
    }

    /// Fills `buffer` with i.i.d. Rademacher values ±1 (one random bit each).
    public mutating func fillRademacher<T: BinaryFloatingPoint>(_ buffer: UnsafeMutableBufferPointer<T>) {
        var bits: UInt64 = 0
        for i in 0..<buffer.count {
            if i % 64 == 0 { bits = next() }
            buffer[i] = (bits & 1) == 0 ? 1 : -1
            bits >>= 1
        }
    }

    /// Fills `buffer` with i.i.d. uniform values on [low, high).
    public mutating func fillUniform<T: BinaryFloatingPoint>(
        _ buffer: UnsafeMutableBufferPointer<T>, low: Double = 0, high: Double = 1
    ) {
        for i in 0..<buffer.count { buffer[i] = T(low + (high - low) * nextUnit()) }
    }

    /// Fills `buffer` with a point uniform on the sphere of the given radius in R^count
    /// (a normalized Gaussian vector). The default radius √count gives E[x xᵀ] = I, the
    /// normalization used by Hutchinson-type estimators.
    public mutating func fillUniformOnSphere<T: BinaryFloatingPoint>(
        _ buffer: UnsafeMutableBufferPointer<T>, radius: Double? = nil
    ) {
        let n = buffer.count
        guard n > 0 else { return }
        let r = radius ?? Double(n).squareRoot()
        while true {
            fillGaussian(buffer)
            var norm2 = 0.0
            for x in buffer { norm2 += Double(x) * Double(x) }
            guard norm2 > 0 else { continue }
            let scale = r / norm2.squareRoot()
            for i in 0..<n { buffer[i] = T(Double(buffer[i]) * scale) }
            return
        }
    }
}

/// SplitMix64 (Steele, Lea & Flood 2014): seeds xoshiro's 256-bit state.
struct SplitMix64 {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension Array where Element: BinaryFloatingPoint {
    /// `count` i.i.d. standard normal values from `generator`.
    public static func gaussian(count: Int, using generator: inout SeededGenerator) -> [Element] {
        var a = [Element](repeating: 0, count: count)
        a.withUnsafeMutableBufferPointer { generator.fillGaussian($0) }
        return a
    }
}

/// NumPy's legacy `RandomState` (MT19937 with `init_genrand` seeding) as far as
/// `RandomState(seed).permutation(n)` needs it, so that a split made by
/// `pandas.DataFrame.sample(frac:, random_state: seed)` — which draws
/// `RandomState(seed).permutation(n)[:round(frac·n)]` — is reproduced row for row.
///
/// - MT19937: Matsumoto & Nishimura (1998), https://doi.org/10.1145/272991.272995.
/// - `permutation`: Fisher–Yates from the last index down, each draw by NumPy's legacy
///   `random_interval` (mask to the next power of two minus one, reject values above the bound).
/// Checked against NumPy 2.4: `RandomState(0).permutation(392)` starts 144, 280, 68, 372, 328.
struct NumPyLegacyRandom {
    private var state = [UInt32](repeating: 0, count: 624)
    private var index = 624

    init(seed: UInt32) {
        state[0] = seed
        for i in 1..<624 {
            state[i] = 1_812_433_253 &* (state[i - 1] ^ (state[i - 1] >> 30)) &+ UInt32(i)
        }
    }

    mutating func nextUInt32() -> UInt32 {
        if index >= 624 { twist() }
        var y = state[index]
        index += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C_5680
        y ^= (y << 15) & 0xEFC6_0000
        y ^= y >> 18
        return y
    }

    private mutating func twist() {
        for i in 0..<624 {
            let y = (state[i] & 0x8000_0000) | (state[(i + 1) % 624] & 0x7FFF_FFFF)
            var v = state[(i + 397) % 624] ^ (y >> 1)
            if y & 1 != 0 { v ^= 0x9908_B0DF }
            state[i] = v
        }
        index = 0
    }

    /// A uniform integer in 0...bound (NumPy's legacy `random_interval`, bound < 2³²).
    mutating func interval(_ bound: UInt32) -> UInt32 {
        guard bound > 0 else { return 0 }
        var mask = bound
        mask |= mask >> 1; mask |= mask >> 2; mask |= mask >> 4; mask |= mask >> 8; mask |= mask >> 16
        while true {
            let value = nextUInt32() & mask
            if value <= bound { return value }
        }
    }

    /// `RandomState.permutation(n)`.
    mutating func permutation(_ n: Int) -> [Int] {
        var a = Array(0..<n)
        var i = n - 1
        while i > 0 {
            let j = Int(interval(UInt32(i)))
            a.swapAt(i, j)
            i -= 1
        }
        return a
    }
}

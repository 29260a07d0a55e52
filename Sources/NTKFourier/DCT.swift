import CFFTW

/// Real discrete cosine transforms (FFTW's unnormalized REDFT10 / REDFT01).
///
/// - DCT-II:  y_k = 2 Σ_{j=0}^{n−1} x_j cos(π (j + ½) k / n)
/// - DCT-III: y_k = x_0 + 2 Σ_{j=1}^{n−1} x_j cos(π j (k + ½) / n)
///
/// DCT-III is the inverse of DCT-II up to a factor 2n. The kernel polynomial method uses
/// DCT-III to evaluate a Chebyshev series Σ_j c_j T_j(x) at the Chebyshev nodes
/// x_k = cos(π (k + ½) / n) in O(n log n) (Weiße et al. 2006, Rev. Mod. Phys. 78, 275).
/// Plans are created once per length (thread-safe) and reused.
/// - Complexity: O(n log n).
public enum DCT {
    /// DCT-II of `input` written to `output` (both of length n).
    public static func typeII(_ input: UnsafeBufferPointer<Double>, into output: UnsafeMutableBufferPointer<Double>)
        throws(FourierError)
    {
        try execute(.dctII, input, output)
    }

    /// DCT-III of `input` written to `output` (both of length n).
    public static func typeIII(_ input: UnsafeBufferPointer<Double>, into output: UnsafeMutableBufferPointer<Double>)
        throws(FourierError)
    {
        try execute(.dctIII, input, output)
    }

    /// DCT-II of an array.
    public static func typeII(_ input: [Double]) throws(FourierError) -> [Double] {
        try transformed(.dctII, input)
    }

    /// DCT-III of an array.
    public static func typeIII(_ input: [Double]) throws(FourierError) -> [Double] {
        try transformed(.dctIII, input)
    }

    static func transformed(_ kind: TransformKind, _ input: [Double]) throws(FourierError) -> [Double] {
        var output = [Double](repeating: 0, count: input.count)
        try input.withUnsafeBufferPointer { (i) throws(FourierError) in
            try output.withUnsafeMutableBufferPointer { (o) throws(FourierError) in
                try execute(kind, i, o)
            }
        }
        return output
    }

    static func execute(
        _ kind: TransformKind, _ input: UnsafeBufferPointer<Double>, _ output: UnsafeMutableBufferPointer<Double>
    ) throws(FourierError) {
        let n = input.count
        guard output.count == n else { throw .bufferSize(name: "output", count: output.count, expected: n) }
        let plan = try PlanCache.shared.plan(kind, length: n)
        // r2r with FFTW_ESTIMATE never writes its input for 1-D REDFT; the cast is for C.
        fftw_execute_r2r(plan.raw, UnsafeMutablePointer(mutating: input.baseAddress!), output.baseAddress!)
    }
}

/// The real-input discrete Fourier transform (FFTW r2c), unnormalized:
/// X_k = Σ_{j=0}^{n−1} x_j e^{−2πi jk/n} for k = 0…⌊n/2⌋ (the rest follow by conjugate symmetry).
/// - Complexity: O(n log n).
public enum RealFFT {
    /// The n/2 + 1 non-redundant coefficients of the DFT of `input`, as real and imaginary parts.
    public static func forward(_ input: [Double]) throws(FourierError) -> (real: [Double], imaginary: [Double]) {
        let n = input.count
        let plan = try PlanCache.shared.plan(.realForward, length: n)
        let m = n / 2 + 1
        let spectrum = UnsafeMutablePointer<fftw_complex>.allocate(capacity: m)
        defer { spectrum.deallocate() }
        var scratch = input  // r2c may use its input as scratch for some sizes.
        scratch.withUnsafeMutableBufferPointer { fftw_execute_dft_r2c(plan.raw, $0.baseAddress!, spectrum) }
        var real = [Double](repeating: 0, count: m), imaginary = [Double](repeating: 0, count: m)
        for k in 0..<m {
            real[k] = spectrum[k].0
            imaginary[k] = spectrum[k].1
        }
        return (real, imaginary)
    }
}

import CFFTW
import Synchronization

/// An FFTW plan handle. Executing one plan from several threads on different arrays is
/// safe (FFTW's new-array execute); *creating* plans is not, so all planning goes through
/// `PlanCache.shared`, which serializes it and keeps every plan for reuse.
struct FFTWPlan: @unchecked Sendable {
    let raw: OpaquePointer
}

enum TransformKind: Hashable, Sendable {
    case dctII, dctIII, realForward
}

/// Process-wide cache of FFTW plans keyed by transform and length.
final class PlanCache: Sendable {
    static let shared = PlanCache()

    private let plans = Mutex<[Key: FFTWPlan]>([:])

    struct Key: Hashable, Sendable {
        let kind: TransformKind
        let length: Int
    }

    /// The cached plan, created under the lock on first use. Planning uses FFTW_ESTIMATE
    /// (no trial runs, deterministic) and FFTW_UNALIGNED so that any buffer may be used with
    /// the new-array execute functions.
    func plan(_ kind: TransformKind, length n: Int) throws(FourierError) -> FFTWPlan {
        guard n >= 1, let n32 = Int32(exactly: n) else {
            throw .invalidLength(n, expected: "1 ≤ n ≤ \(Int32.max)")
        }
        let key = Key(kind: kind, length: n)
        let result: FFTWPlan? = plans.withLock { cache in
            if let existing = cache[key] { return existing }
            let flags = UInt32(FFTW_ESTIMATE) | UInt32(FFTW_UNALIGNED)
            let input = UnsafeMutablePointer<Double>.allocate(capacity: n)
            defer { input.deallocate() }
            input.initialize(repeating: 0, count: n)
            let made: OpaquePointer?
            switch kind {
            case .dctII, .dctIII:
                let output = UnsafeMutablePointer<Double>.allocate(capacity: n)
                defer { output.deallocate() }
                made = fftw_plan_r2r_1d(n32, input, output, kind == .dctII ? FFTW_REDFT10 : FFTW_REDFT01, flags)
            case .realForward:
                let output = UnsafeMutablePointer<fftw_complex>.allocate(capacity: n / 2 + 1)
                defer { output.deallocate() }
                made = fftw_plan_dft_r2c_1d(n32, input, output, flags)
            }
            guard let made else { return nil }
            let plan = FFTWPlan(raw: made)
            cache[key] = plan
            return plan
        }
        guard let result else { throw .planningFailed("\(kind) of length \(n)") }
        return result
    }
}

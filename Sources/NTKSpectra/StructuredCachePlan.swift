import Foundation
import NTKLinearAlgebra
import NTKNetworks

/// How `StructuredNTK` keeps what its products read, chosen from a memory budget before
/// anything is computed, with the reason in words (for logs and JSON output).
///
/// What is needed per batch of b examples: the forward cache (inputs, outputs, activations:
/// `EmpiricalNTK.cacheBytes`) and the backprop signals δ (b·k·(Σ_l out_l + k) scalars:
/// `Network.backpropSignalBytes`). In order of preference:
/// - `cacheAll`: forward caches and δ's of every batch fit: computed once (one forward and one
///   k-wide VJP per batch) and reused by every product.
/// - `recomputeForward`: the δ's of every batch plus one forward cache fit: δ's are kept,
///   forward caches are recomputed per batch in each of the two passes (2 forward passes per
///   product, like `EmpiricalNTK` without its cache).
/// - `fallbackJVPVJP`: the δ's do not fit. Recomputing them per batch would cost a VJP of
///   width k per batch in each pass — more than JVP∘VJP's whole VJP + JVP of width s when
///   s ≤ 2k — so the product is delegated to `EmpiricalNTK` (with the same budget).
public struct StructuredCachePlan: Sendable, Equatable, Codable {
    public enum Storage: String, Sendable, Codable, CaseIterable {
        case cacheAll = "cache_all"
        case recomputeForward = "recompute_forward"
        case fallbackJVPVJP = "fallback_jvp_vjp"
    }

    public var storage: Storage
    /// Why, with the byte counts compared.
    public var reason: String
    /// Bytes of the forward caches of all batches.
    public var forwardBytes: Int
    /// Bytes of the δ's of all batches.
    public var signalBytes: Int
    /// Bytes of one batch's forward cache.
    public var batchForwardBytes: Int
    /// The budget compared against.
    public var budgetBytes: Int

    /// Bytes of forward caches and δ's the operator keeps between products under this plan
    /// (the s × P parameter block and the per-width scratch come on top, as for `EmpiricalNTK`).
    public var bytesHeld: Int {
        switch storage {
        case .cacheAll: return forwardBytes + signalBytes
        case .recomputeForward: return signalBytes + batchForwardBytes
        case .fallbackJVPVJP: return 0
        }
    }

    /// The plan for `network` over `examples` inputs in batches of `batchSize` (clamped to
    /// [1, examples]) under `budgetBytes`.
    public init<Scalar: BLASScalar>(network: Network<Scalar>, examples: Int, batchSize: Int, budgetBytes: Int) {
        let n = max(examples, 1)
        let batch = min(max(batchSize, 1), n)
        let batches = (n + batch - 1) / batch
        let perForward = EmpiricalNTK<Scalar>.cacheBytes(network, batch: batch)
        let perSignals = network.backpropSignalBytes(batch: batch)
        let forward = perForward.multipliedReportingOverflow(by: batches)
        let signals = perSignals.multipliedReportingOverflow(by: batches)
        forwardBytes = forward.overflow ? .max : forward.partialValue
        signalBytes = signals.overflow ? .max : signals.partialValue
        batchForwardBytes = perForward
        self.budgetBytes = budgetBytes
        func mib(_ bytes: Int) -> String {
            SizeLimit.bytesDescription(bytes)
        }
        let all = forwardBytes.addingReportingOverflow(signalBytes)
        let signalsPlusOne = signalBytes.addingReportingOverflow(perForward)
        if !all.overflow && all.partialValue <= budgetBytes {
            storage = .cacheAll
            reason = "forward caches (\(mib(forwardBytes))) and backprop signals (\(mib(signalBytes))) of all \(batches) batches fit the budget of \(mib(budgetBytes))"
        } else if !signalsPlusOne.overflow && signalsPlusOne.partialValue <= budgetBytes {
            storage = .recomputeForward
            reason = "backprop signals of all \(batches) batches (\(mib(signalBytes))) fit the budget of \(mib(budgetBytes)) but not with all forward caches (\(mib(forwardBytes))): forward passes are recomputed per batch"
        } else {
            storage = .fallbackJVPVJP
            reason = "backprop signals of all \(batches) batches (\(mib(signalBytes))) plus one forward cache exceed the budget of \(mib(budgetBytes)); recomputing them costs a \(network.outputCount)-wide VJP per batch and pass, so JVP∘VJP is used"
        }
    }
}

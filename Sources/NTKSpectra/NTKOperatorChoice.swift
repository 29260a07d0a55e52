import NTKEstimation
import NTKLinearAlgebra
import NTKNetworks

/// The block interface shared by the NTK operators (`EmpiricalNTK`, `StructuredNTK`):
/// U = K V for s vectors (rows), the work done, and the exact diagonal and trace.
public protocol NTKKernelOperator: SymmetricOperator, Sendable {
    var dimension: Int { get }
    var cost: NTKCost { get }
    func apply(_ input: Matrix<Double>, into output: inout Matrix<Double>) throws
    func exactDiagonal() throws -> [Double]
    func exactTrace() throws -> Double
}

extension EmpiricalNTK: NTKKernelOperator {}
extension StructuredNTK: NTKKernelOperator {}

/// Which NTK product implementation runs; `rawValue` is the name written to JSON output.
///
/// - `structured`: `StructuredNTK` (cached backprop signals, two GEMMs per dense layer).
/// - `jvpVJP`: `EmpiricalNTK` (a full VJP then a full JVP per product).
/// `automatic(...)` picks `structured` whenever `StructuredCachePlan` keeps the signals within
/// the budget (every network is supported), else `jvpVJP`.
public enum NTKOperatorChoice: String, Sendable, Codable, CaseIterable {
    case structured
    case jvpVJP = "jvp_vjp"

    /// The name for JSON output ("structured" or "jvp_vjp").
    public var name: String { rawValue }

    /// An operator and why it was chosen.
    public struct Selection: Sendable {
        public var choice: NTKOperatorChoice
        public var reason: String
        public var kernel: any NTKKernelOperator
    }

    /// Builds the preferred operator: `structured` when its plan keeps the signals within
    /// `cacheBudgetBytes`, else `EmpiricalNTK` (the same arguments, same budget).
    /// Pass `preference: .jvpVJP` to force JVP∘VJP.
    /// - Throws: the operators' `NTKError`s for bad inputs or options.
    public static func makeOperator<Scalar: BLASScalar>(
        network: Network<Scalar>, inputs: Matrix<Scalar>, kind: KernelKind = .full, batchSize: Int = 256,
        cacheBudgetBytes: Int = 1 << 30, preference: NTKOperatorChoice = .structured
    ) throws -> Selection {
        try KernelBlockLayout.checkInputs(network: network, inputs: inputs, batchSize: batchSize)
        // The one place the fallback is decided: the plan, made once, goes to the operator.
        let plan = StructuredCachePlan(
            network: network, examples: inputs.rows, batchSize: batchSize, budgetBytes: cacheBudgetBytes)
        if preference == .structured && plan.storage != .fallbackJVPVJP {
            let op = try StructuredNTK(network: network, inputs: inputs, kind: kind, batchSize: batchSize, plan: plan)
            return Selection(choice: .structured, reason: plan.reason, kernel: op)
        }
        let op = try EmpiricalNTK(network: network, inputs: inputs, kind: kind, batchSize: batchSize,
                                  cacheBudgetBytes: cacheBudgetBytes)
        let reason = preference == .jvpVJP ? "JVP∘VJP requested" : plan.reason
        return Selection(choice: .jvpVJP, reason: reason, kernel: op)
    }
}

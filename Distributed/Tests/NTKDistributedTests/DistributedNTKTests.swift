import NTKLinearAlgebra
import NTKNetworks
import NTKSpectra
import Testing
@testable import NTKDistributed

/// The distributed operator on the group of one (`SingleProcess`): the same layout code
/// (shard extraction, allgather assembly, status entries) as on R ranks, checked against
/// `EmpiricalNTK` without mpirun. Equality on R ranks is Distributed/test-mpi.sh's job.
@Suite("DistributedNTK on one process")
struct DistributedNTKTests {
    init() throws { try BLASThreads.set(1) }

    @Test(arguments: [KernelKind.full, .traced])
    func equalsEmpiricalNTK(kind: KernelKind) throws {
        let net: Network<Double> = try ModelSpec.mlp(inputSize: 4, hiddenSizes: [6], outputSize: 3, activation: .tanh)
            .makeNetwork(seed: 2)
        var g = SeededGenerator(seed: 9)
        let x = try Matrix(rows: 7, columns: 4, storage: [Double].gaussian(count: 28, using: &g))
        let reference = try EmpiricalNTK(network: net, inputs: x, kind: kind, batchSize: 3)
        let group = SingleProcess()
        let op = try DistributedNTK(network: net, shard: x, examples: 7, collectives: group, kind: kind, batchSize: 3)
        #expect(op.dimension == reference.dimension)
        let s = 3, n = op.dimension
        let v = try Matrix(rows: s, columns: n, storage: [Double].gaussian(count: s * n, using: &g))
        var expected = Matrix<Double>(rows: s, columns: n), u = expected
        try reference.apply(v, into: &expected)
        try op.apply(v, into: &u)
        #expect(u.storage == expected.storage)   // same examples, batches and sums: bitwise
        #expect(try op.exactTrace() == reference.exactTrace())
        #expect(try op.exactDiagonal() == reference.exactDiagonal())
        #expect(op.cost.matvecs == s && op.cost.blockApplications == 1 && op.cost.dataPasses == 2)
        // Per product: the agreement (8 B), the s check (16 B), G (s·P or s·k·P doubles).
        #expect(group.statistics.allgatherCount >= 1 && group.statistics.allreduceCount >= 3)
    }

    @Test func wrongShardIsAnAgreedFailure() throws {
        let net: Network<Double> = try ModelSpec.mlp(inputSize: 2, hiddenSizes: [3], outputSize: 1).makeNetwork(seed: 1)
        let x = Matrix<Double>(rows: 2, columns: 2)
        #expect(throws: DistributedError.self) {
            _ = try DistributedNTK(network: net, shard: x, examples: 5, collectives: SingleProcess())
        }
    }

    @Test func agreementAndChecks() throws {
        let group = SingleProcess()
        #expect(try group.agree { 42 } == 42)
        #expect(throws: DistributedError.rankFailed(rank: 0, message: "shape mismatch: x")) {
            try group.agree { throw DistributedError.shapeMismatch("x") }
        }
        try group.checkSame([("a", 1), ("b", -3)])
        #expect(try group.sum(2.5) == 2.5)
        var values: [Float] = [1, 2]
        try group.allreduceSum(&values)
        #expect(values == [1, 2])
    }
}

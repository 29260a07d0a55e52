// Evidence that forward(into:), jvp and vjp allocate nothing in steady state: run the passes
// `iterations` times on preallocated caches/workspaces for several models. Run under valgrind
// with two iteration counts; the heap allocation totals must be equal:
//   valgrind .build/release/pass-allocations 1 2>&1 | grep "total heap usage"
//   valgrind .build/release/pass-allocations 21 2>&1 | grep "total heap usage"
import NTKLinearAlgebra
import NTKNetworks

struct Prepared<S: BLASScalar> {
    let network: Network<S>
    let inputs: [S]
    let cache: ForwardCache<S>
    let workspace: BlockWorkspace<S>
    let tangents: [S]
    let inputTangents: [S]
    let cotangents: [S]
    var outputs: [S]
    var parameterBar: [S]
    var inputBar: [S]
    let batch: Int
    let block: Int

    init(_ spec: ModelSpec, batch: Int, block: Int) throws {
        network = try spec.makeNetwork(seed: 1)
        var g = SeededGenerator(seed: 2)
        inputs = .gaussian(count: batch * network.inputSize, using: &g)
        cache = network.makeForwardCache(capacity: batch)
        workspace = network.makeBlockWorkspace(batch: batch, block: block)
        tangents = .gaussian(count: block * network.parameterCount, using: &g)
        inputTangents = .gaussian(count: batch * block * network.inputSize, using: &g)
        cotangents = .gaussian(count: batch * block * network.outputCount, using: &g)
        outputs = [S](repeating: 0, count: batch * block * network.outputCount)
        parameterBar = [S](repeating: 0, count: block * network.parameterCount)
        inputBar = [S](repeating: 0, count: batch * block * network.inputSize)
        self.batch = batch
        self.block = block
    }

    mutating func run() throws {
        try inputs.withUnsafeBufferPointer { try network.forward(inputs: $0, batch: batch, into: cache) }
        try network.jvp(
            cache: cache, parameterTangents: tangents, inputTangents: inputTangents, block: block, workspace: workspace,
            outputTangents: &outputs)
        try network.vjp(
            cache: cache, outputCotangents: cotangents, block: block, workspace: workspace,
            parameterCotangents: &parameterBar, inputCotangents: &inputBar)
    }
}

let iterations = CommandLine.arguments.dropFirst().compactMap { Int($0) }.first ?? 1
try BLASThreads.set(1)
let specs: [ModelSpec] = [
    .mlp(inputSize: 8, hiddenSizes: [16, 16], outputSize: 3, activation: .gelu),
    .cnn(inputShape: [2, 8, 8], channels: [4], outputSize: 3),
    .resnet(inputShape: [2, 6, 6], width: 4, blocks: 2, outputSize: 3),
    ModelSpec(inputShape: [3, 5], layers: [.linear(inFeatures: 5, outFeatures: 6), .layerNorm(normalizedShape: [6]), .activation(.softplus)]),
]
var float = try specs.map { try Prepared<Float>($0, batch: 4, block: 3) }
var double = try specs.map { try Prepared<Double>($0, batch: 4, block: 3) }
for _ in 0..<iterations {
    for i in float.indices { try float[i].run() }
    for i in double.indices { try double[i].run() }
}
print("ran \(iterations) iterations of forward + jvp + vjp on \(specs.count) models × 2 precisions")

// Cost of the NTKNetworks passes: forward, block JVP and block VJP (s vectors) for an MLP and a
// CNN, in Float and Double, with the ratio to s forward passes (the FLOP model says a JVP or VJP
// with the forward cached costs about 2 forwards per vector for dense layers).
// Usage: network-passes [block s = 8] [repeats = 5]
import Foundation
import NTKLinearAlgebra
import NTKNetworks

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : 0.5 * (s[s.count / 2 - 1] + s[s.count / 2])
}

func time(_ repeats: Int, _ body: () throws -> Void) rethrows -> Double {
    var times: [Double] = []
    for r in 0...repeats {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        if r > 0 { times.append(Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9) }
    }
    return median(times)
}

func run<S: BLASScalar>(_ name: String, _ spec: ModelSpec, batch b: Int, block s: Int, repeats: Int, _: S.Type) throws {
    let network: Network<S> = try spec.makeNetwork(seed: 1)
    var g = SeededGenerator(seed: 2)
    let x = [S].gaussian(count: b * network.inputSize, using: &g)
    let cache = network.makeForwardCache(capacity: b)
    let workspace = network.makeBlockWorkspace(batch: b, block: s)
    let tangents = [S].gaussian(count: s * network.parameterCount, using: &g)
    let cotangents = [S].gaussian(count: b * s * network.outputCount, using: &g)
    var outputs = [S](repeating: 0, count: b * s * network.outputCount)
    var parameterBar = [S](repeating: 0, count: s * network.parameterCount)
    let forward = try time(repeats) { try x.withUnsafeBufferPointer { try network.forward(inputs: $0, batch: b, into: cache) } }
    let jvp = try time(repeats) {
        try network.jvp(cache: cache, parameterTangents: tangents, block: s, workspace: workspace, outputTangents: &outputs)
    }
    let vjp = try time(repeats) {
        try network.vjp(cache: cache, outputCotangents: cotangents, block: s, workspace: workspace, parameterCotangents: &parameterBar)
    }
    print(String(
        format: "%@ %@ P=%d b=%d s=%d  forward %.3f ms  jvp %.3f ms (%.2f× s·fwd)  vjp %.3f ms (%.2f× s·fwd)",
        name, S.precisionName, network.parameterCount, b, s, forward * 1e3, jvp * 1e3, jvp / (Double(s) * forward),
        vjp * 1e3, vjp / (Double(s) * forward)))
}

let args = CommandLine.arguments.dropFirst().compactMap { Int($0) }
let s = args.first ?? 8
let repeats = args.count > 1 ? args[1] : 5
try BLASThreads.set(1)
print("openblas_core=\(BLASThreads.coreName) threads=1 (median of \(repeats))")
let mlp = ModelSpec.mlp(inputSize: 64, hiddenSizes: [128, 128], outputSize: 10, activation: .relu)
let cnn = ModelSpec.cnn(inputShape: [3, 32, 32], channels: [16, 32], outputSize: 10, activation: .relu)
let resnet = ModelSpec.resnet(inputShape: [3, 16, 16], width: 16, blocks: 2, outputSize: 10, activation: .relu)
try run("mlp-64-128-128-10", mlp, batch: 410, block: s, repeats: repeats, Float.self)
try run("mlp-64-128-128-10", mlp, batch: 410, block: s, repeats: repeats, Double.self)
try run("cnn-3x32x32-16-32", cnn, batch: 64, block: s, repeats: repeats, Float.self)
try run("resnet-3x16x16-w16-b2", resnet, batch: 64, block: s, repeats: repeats, Float.self)

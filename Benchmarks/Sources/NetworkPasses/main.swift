// Cost of the NTKNetworks passes: forward, block JVP and block VJP (s vectors) for MLPs of widths
// 256–2048, a pre-LN transformer encoder, a CNN and a ResNet, in Float and Double, with the ratio
// to s forward passes (the FLOP model says a JVP or VJP with the forward cached costs about 2
// forwards per vector for dense layers).
// GFLOP/s use the dense/conv multiply–add count M of one forward pass per example
// (Linear: in·out per row; Conv2d: Hout·Wout·Cout·Cin·kh·kw): forward 2·b·M flops, and the
// FLOP model 2·b·s·(2M − M₀) for a JVP (Ẇa and Wȧ) or a VJP (W̄ and x̄) with the forward
// cached, where M₀ is the first layer's share (its input term is skipped).
// Usage: network-passes [block s = 8] [repeats = 5] [threads = 1]
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

/// Multiply–adds of one example's forward pass through the dense and convolutional layers.
func multiplyAdds<S: BLASScalar>(_ layers: [any Layer<S>]) -> Double {
    var total = 0.0
    for layer in layers {
        if let linear = layer as? Linear<S> {
            total += Double(linear.inFeatures * linear.outFeatures * max(1, linear.leadingShape.reduce(1, *)))
        } else if let conv = layer as? Conv2d<S> {
            total += Double(conv.outputHeight * conv.outputWidth * conv.outChannels * conv.inChannels
                * conv.kernelSize.height * conv.kernelSize.width)
        } else if let sequence = layer as? Sequential<S> {
            total += multiplyAdds(sequence.layers)
        } else if let residual = layer as? Residual<S> {
            total += multiplyAdds(residual.body.layers)
        }
    }
    return total
}

func run<S: BLASScalar>(_ name: String, _ spec: ModelSpec, batch b: Int, block s: Int, repeats: Int, _: S.Type) throws {
    let network: Network<S> = try spec.makeNetwork(seed: 1)
    try run(name, network, batch: b, block: s, repeats: repeats)
}

/// `macs`: the forward multiply–adds per example when the layers are not all dense/conv (the
/// transformer's attention products), with `firstMacs` the first layer's share.
func run<S: BLASScalar>(_ name: String, _ network: Network<S>, batch b: Int, block s: Int, repeats: Int,
                        macs override: (total: Double, first: Double)? = nil) throws {
    let macs = override?.total ?? multiplyAdds(network.layers)
    let firstMacs = override?.first ?? multiplyAdds([network.layers[0]])
    let flops = 2 * Double(b) * macs
    let derivativeFlops = 2 * Double(b) * Double(s) * (2 * macs - firstMacs)
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
    print(name + " " + S.precisionName + String(
        format: " P=%d b=%d s=%d  forward %.3f ms (%.1f GFLOP/s)  jvp %.3f ms (%.2f× s·fwd, %.1f GFLOP/s)  vjp %.3f ms (%.2f× s·fwd, %.1f GFLOP/s)",
        network.parameterCount, b, s, forward * 1e3, flops / forward * 1e-9,
        jvp * 1e3, jvp / (Double(s) * forward), derivativeFlops / jvp * 1e-9,
        vjp * 1e3, vjp / (Double(s) * forward), derivativeFlops / vjp * 1e-9))
}

let args = CommandLine.arguments.dropFirst().compactMap { Int($0) }
let s = args.first ?? 8
let repeats = args.count > 1 ? args[1] : 5
let threads = args.count > 2 ? args[2] : 1
try BLASThreads.set(threads)
print("openblas_core=\(BLASThreads.coreName) threads=\(threads) (median of \(repeats))")
for width in [256, 512, 1024, 2048] {
    let wide = ModelSpec.mlp(inputSize: 64, hiddenSizes: [width, width], outputSize: 10, activation: .tanh)
    try run("mlp-64-\(width)-\(width)-10", wide, batch: 256, block: s, repeats: repeats, Float.self)
    try run("mlp-64-\(width)-\(width)-10", wide, batch: 256, block: s, repeats: repeats, Double.self)
}
// Pre-LN transformer encoder: T = 16 tokens of 8 features, D = 64, 4 heads, F = 128, 2 blocks.
// Multiply–adds per example from `Network.transformerEncoder`'s complexity note (flops / 2).
do {
    let (t, f, d, ff, blocks) = (16, 8, 64, 128, 2)
    let first = Double(t * f * d)
    let total = first + Double(blocks) * Double(4 * t * d * d + 2 * t * t * d + 2 * t * d * ff) + Double(d * 10)
    func transformer<S: BLASScalar>(_: S.Type) throws {
        let net = try Network<S>.transformerEncoder(
            sequenceLength: t, tokenFeatures: f, embedDimension: d, headCount: 4, feedForwardDimension: ff,
            blockCount: blocks, outputSize: 10, seed: 1)
        try run("transformer-T16-D64-h4-F128-L2", net, batch: 64, block: s, repeats: repeats, macs: (total, first))
    }
    try transformer(Float.self)
    try transformer(Double.self)
}
let mlp = ModelSpec.mlp(inputSize: 64, hiddenSizes: [128, 128], outputSize: 10, activation: .relu)
let cnn = ModelSpec.cnn(inputShape: [3, 32, 32], channels: [16, 32], outputSize: 10, activation: .relu)
let resnet = ModelSpec.resnet(inputShape: [3, 16, 16], width: 16, blocks: 2, outputSize: 10, activation: .relu)
try run("mlp-64-128-128-10", mlp, batch: 410, block: s, repeats: repeats, Float.self)
try run("mlp-64-128-128-10", mlp, batch: 410, block: s, repeats: repeats, Double.self)
try run("cnn-3x32x32-16-32", cnn, batch: 64, block: s, repeats: repeats, Float.self)
try run("resnet-3x16x16-w16-b2", resnet, batch: 64, block: s, repeats: repeats, Float.self)

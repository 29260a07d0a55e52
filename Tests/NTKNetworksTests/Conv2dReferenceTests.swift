import NTKLinearAlgebra
import Testing

@testable import NTKNetworks

/// Conv2d's im2col + GEMM forward against a direct convolution loop (the derivative harness
/// checks JVP/VJP against this forward; this checks the forward itself for strides/padding the
/// numpy fixture does not cover). Tolerance 1e-13 relative (C·kh·kw ≤ 30 products per output).
@Suite("Conv2d forward vs direct convolution")
struct Conv2dReferenceTests {
    @Test(arguments: [
        (SpatialSize(3, 2), SpatialSize(2, 1), SpatialSize(1, 2)),
        (SpatialSize(2, 3), SpatialSize(1, 3), SpatialSize(0, 2)),
        (SpatialSize(3, 3), SpatialSize(2, 2), SpatialSize(1, 1)),
        (SpatialSize(1, 1), SpatialSize(1, 1), SpatialSize(0, 0)),
    ])
    func matchesDirectLoop(kernel: SpatialSize, stride: SpatialSize, padding: SpatialSize) throws {
        try BLASThreads.set(1)
        let (C, O, H, W, b) = (2, 3, 5, 6, 2)
        let network: Network<Double> = try ModelSpec(
            inputShape: [C, H, W],
            layers: [.conv2d(inChannels: C, outChannels: O, kernelSize: kernel, stride: stride, padding: padding)]
        ).makeNetwork(seed: 8)
        let conv = try #require(network.layers[0] as? Conv2d<Double>)
        var rng = SeededGenerator(seed: 9)
        let x = [Double].gaussian(count: b * C * H * W, using: &rng)
        let y = try network.forward(Matrix(rows: b, columns: C * H * W, storage: x)).storage
        let (Ho, Wo) = (conv.outputHeight, conv.outputWidth)
        #expect(Ho == (H + 2 * padding.height - kernel.height) / stride.height + 1)
        #expect(Wo == (W + 2 * padding.width - kernel.width) / stride.width + 1)
        let weight = network.parameters, biasOffset = O * C * kernel.height * kernel.width
        var maxError = 0.0, scale = 0.0
        for i in 0..<b {
            for o in 0..<O {
                for oy in 0..<Ho {
                    for ox in 0..<Wo {
                        var sum = weight[biasOffset + o]
                        for c in 0..<C {
                            for ky in 0..<kernel.height {
                                for kx in 0..<kernel.width {
                                    let yy = oy * stride.height - padding.height + ky
                                    let xx = ox * stride.width - padding.width + kx
                                    guard yy >= 0, yy < H, xx >= 0, xx < W else { continue }
                                    let w = weight[((o * C + c) * kernel.height + ky) * kernel.width + kx]
                                    sum += w * x[((i * C + c) * H + yy) * W + xx]
                                }
                            }
                        }
                        let got = y[((i * O + o) * Ho + oy) * Wo + ox]
                        maxError = max(maxError, abs(got - sum))
                        scale = max(scale, abs(sum))
                    }
                }
            }
        }
        #expect(maxError <= 1e-13 * max(scale, 1))
    }
}

@Suite("AvgPool2d forward vs direct loop")
struct AvgPoolReferenceTests {
    @Test func overlappingWindows() throws {
        let (C, H, W) = (2, 5, 6)
        let network: Network<Double> = try ModelSpec(
            inputShape: [C, H, W], layers: [.avgPool2d(kernelSize: SpatialSize(3, 2), stride: SpatialSize(1, 2))]
        ).makeNetwork()
        var rng = SeededGenerator(seed: 10)
        let x = [Double].gaussian(count: C * H * W, using: &rng)
        let y = try network.forward(Matrix(rows: 1, columns: C * H * W, storage: x)).storage
        let (Ho, Wo) = (3, 3)
        #expect(network.outputShape == [C, Ho, Wo])
        for c in 0..<C {
            for oy in 0..<Ho {
                for ox in 0..<Wo {
                    var sum = 0.0
                    for ky in 0..<3 { for kx in 0..<2 { sum += x[(c * H + oy + ky) * W + ox * 2 + kx] } }
                    #expect(abs(y[(c * Ho + oy) * Wo + ox] - sum / 6) <= 8 * Double.ulpOfOne * max(1, abs(sum)))
                }
            }
        }
    }
}

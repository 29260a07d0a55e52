import Foundation
import NTKLinearAlgebra
import Testing
@testable import NTKNetworks

/// The mean-field parameterization: f = (1/(γ₀N)) Σᵢ aᵢ φ(wᵢ·x/√D), checked against the formula.
@Suite("Mean-field parameterization")
struct MeanFieldParameterizationTests {
    func specError(_ json: String) -> (path: String, message: String)? { decodingSpecError(json) }

    /// The two-layer network's output equals the direct sum, at several widths and γ₀.
    @Test(arguments: [(3, 0.25), (16, 1.0), (40, 2.0)])
    func twoLayerForwardMatchesTheFormula(width: Int, gamma0: Double) throws {
        let d = 5
        let net = try Network<Double>.mlp(
            inputSize: d, hiddenSizes: [width], outputSize: 1, activation: .tanh, bias: false,
            parameterization: .meanField(gamma0: gamma0), seed: 7)
        #expect(net.parameterCount == width * d + width)
        var g = SeededGenerator(seed: 3)
        let x = Matrix<Double>(rows: 4, columns: d) { _, _ in g.nextGaussian() }
        let f = try net.forward(x)
        let w = net.parameters[0..<(width * d)], a = net.parameters[(width * d)...]
        for r in 0..<4 {
            var sum = 0.0
            for i in 0..<width {
                var h = 0.0
                for k in 0..<d { h += w[w.startIndex + i * d + k] * x[r, k] }
                sum += a[a.startIndex + i] * tanh(h / Double(d).squareRoot())
            }
            let expected = sum / (gamma0 * Double(width))
            #expect(abs(f[r, 0] - expected) <= 1e-13 * max(1, abs(expected)))
        }
    }

    /// Only the last parameterized layer is the readout; parameters are N(0, 1) whatever γ₀.
    @Test func readoutIsTheLastParameterizedLayer() throws {
        let spec = ModelSpec.mlp(inputSize: 4, hiddenSizes: [6, 6], outputSize: 2, activation: .relu,
                                 parameterization: .meanField(gamma0: 0.5))
        let net: Network<Double> = try spec.makeNetwork(seed: 1)
        let linear = net.layers.compactMap { $0 as? Linear<Double> }
        #expect(linear.map(\.parameterization) == [
            .meanField(gamma0: 0.5), .meanField(gamma0: 0.5), .meanField(gamma0: 0.5, readout: true),
        ])
        let m = Parameterization.meanField(gamma0: 0.5, readout: true).multipliers(fanIn: 6)
        #expect(abs(m.weight - 1 / 3.0) <= 1e-15 && abs(m.bias - 1 / (0.5 * 6.0.squareRoot())) <= 1e-15)
        let hidden = Parameterization.meanField(gamma0: 0.5).multipliers(fanIn: 4)
        #expect(hidden.weight == 0.5 && hidden.bias == 1)
        // Same seed, other γ₀: the same stored parameters (γ₀ enters the forward only).
        let other: Network<Double> = try ModelSpec.mlp(
            inputSize: 4, hiddenSizes: [6, 6], outputSize: 2, activation: .relu, parameterization: .meanField(gamma0: 2)
        ).makeNetwork(seed: 1)
        #expect(other.parameters == net.parameters)
        #expect(Parameterization.ntk().readout == .ntk() && Parameterization.standard.gamma0 == nil)
    }

    /// f scales as 1/γ₀ exactly at a fixed seed.
    @Test func outputScalesAsOneOverGamma0() throws {
        func output(_ gamma0: Double) throws -> [Double] {
            let net = try Network<Double>.mlp(inputSize: 3, hiddenSizes: [8, 8], outputSize: 1, activation: .tanh,
                                              parameterization: .meanField(gamma0: gamma0), seed: 5)
            return try net.forward(Matrix(rows: 2, columns: 3) { i, j in Double(i + 1) * 0.3 - Double(j) * 0.2 }).storage
        }
        let one = try output(1), quarter = try output(0.25)
        for (a, b) in zip(one, quarter) { #expect(abs(b - 4 * a) <= 1e-14 * max(1, abs(b))) }
    }

    @Test func jsonSpecRoundTripsAndIsValidated() throws {
        let json = #"{"input_shape": [3], "parameterization": "mean_field", "gamma0": 0.25, "layers": [{"type": "linear", "in_features": 3, "out_features": 4, "bias": false}, {"type": "tanh"}, {"type": "linear", "in_features": 4, "out_features": 1, "bias": false}]}"#
        let spec = try ModelSpec.decode(json: Data(json.utf8))
        #expect(spec.parameterization == .meanField(gamma0: 0.25))
        let again = try ModelSpec.decode(json: spec.encodedJSON())
        #expect(again == spec)
        #expect(specError(#"{"input_shape": [3], "parameterization": "mean_field", "layers": [{"type": "tanh"}]}"#)?.path == "gamma0")
        #expect(specError(#"{"input_shape": [3], "parameterization": "mean_field", "gamma0": 0, "layers": [{"type": "tanh"}]}"#)?.path == "gamma0")
        #expect(specError(#"{"input_shape": [3], "parameterization": "mean_field", "gamma0": "1", "layers": [{"type": "tanh"}]}"#)?.path == "gamma0")
        #expect(specError(#"{"input_shape": [2], "parameterization": "mup", "layers": [{"type": "tanh"}]}"#)?.message.contains("mean_field") == true)
    }
}

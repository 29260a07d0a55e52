import Foundation
import NTKLinearAlgebra
import Testing
@testable import NTKNetworks
import NTKFormats

/// Malformed, adversarial and degenerate specs and weight files: typed errors naming the path,
/// the field or the quantity and limit — never a crash, never "not valid JSON" for valid JSON.
@Suite("Hardening: strict spec JSON")
struct StrictSpecTests {
    func specError(_ json: String) -> (path: String, message: String)? { decodingSpecError(json) }

    @Test func duplicateKeysAreRefusedWithTheirPath() {
        let e = specError(#"{"input_shape": [6], "layers": [{"type": "tanh"}, {"type": "tanh"}, {"type": "linear", "in_features": 6, "out_features": 3, "out_features": 4}]}"#)
        #expect(e?.path == "layers[2].out_features")
        #expect(e?.message == "duplicate key \"out_features\" (each key may appear once)")
        #expect(specError(#"{"input_shape": [6], "input_shape": [6], "layers": [{"type": "tanh"}]}"#)?.path == "input_shape")
    }

    @Test func deepNestingIsAnErrorNotAStackOverflow() {
        let deep = String(repeating: "[", count: 200_000) + String(repeating: "]", count: 200_000)
        let e = specError(deep)
        #expect(e?.message == "nesting is deeper than 64 levels of arrays and objects")
        #expect(e?.message.contains("not valid JSON") == false)
        let deepLayer = #"{"input_shape": [2], "layers": [{"type": "residual", "layers": "# + String(repeating: "[", count: 100)
        #expect(specError(deepLayer)?.message.contains("deeper than 64") == true)
    }

    @Test func unknownKeysAndTypesSuggestTheNearMiss() {
        let field = specError(#"{"input_shape": [6], "layers": [{"type": "linear", "in_features": 6, "out_featurs": 3}]}"#)
        #expect(field?.path == "layers[0].out_featurs")
        #expect(field?.message.contains("unknown field \"out_featurs\" for a linear layer; did you mean \"out_features\"?") == true)
        let root = specError(#"{"input_shape": [6], "layer": [{"type": "tanh"}]}"#)
        #expect(root?.path == "layer" && root?.message.contains("did you mean \"layers\"?") == true)
        let type = specError(#"{"input_shape": [6], "layers": [{"type": "lnear"}]}"#)
        #expect(type?.path == "layers[0].type" && type?.message.contains("did you mean \"linear\"?") == true)
        let nested = specError(#"{"input_shape": [4], "layers": [{"type": "residual", "layers": [{"type": "tanh", "inplace": true}]}]}"#)
        #expect(nested?.path == "layers[0].layers[0].inplace")
    }

    @Test(arguments: [
        ("1e30", "got 1e30, which is outside the 64-bit integer range; expected an integer"),
        ("2.5", "got 2.5, which is not a whole number; expected an integer"),
        ("99999999999999999999", "got 99999999999999999999, which is outside the 64-bit integer range; expected an integer"),
        ("\"3\"", "got the string \"3\", expected an integer"),
    ])
    func numbersAreCheckedForIntegernessAndRange(value: String, message: String) {
        let e = specError(#"{"input_shape": [6], "layers": [{"type": "linear", "in_features": 6, "out_features": "# + value + "}]}")
        #expect(e?.path == "layers[0].out_features")
        #expect(e?.message == message)
    }

    @Test func messagesUseTheUsersTermsNotSwiftTypes() {
        for json in ["[1, 2]", #"{"input_shape": 6, "layers": []}"#, #"{"input_shape": [6], "layers": [3]}"#,
                     #"{"input_shape": [6], "layers": [{"type": "linear", "in_features": null, "out_features": 2}]}"#,
                     #"{"input_shape": [6], "weight_scale": 1e400, "layers": [{"type": "tanh"}]}"#] {
            let message = specError(json)?.message ?? "(no error)"
            let swiftNames = ["Dictionary", "Array<", "Int.Type", "String, Any", "not valid JSON", "(no error)"]
            #expect(swiftNames.allSatisfy { !message.contains($0) }, "\(json): \(message)")
        }
        #expect(specError(#"{"input_shape": [6], "weight_scale": 1e400, "layers": [{"type": "tanh"}]}"#)?.message
                == "got 1e400, which overflows a 64-bit float; expected a finite number")
        #expect(specError("[1, 2]")?.message == "got an array, expected an object with \"input_shape\" and \"layers\"")
        let syntax = specError(#"{"input_shape": [6], "layers": [{"type": "tanh"},]}"#)
        #expect(syntax?.message.hasPrefix("not valid JSON: unexpected character ']'") == true)
    }
}

@Suite("Hardening: sizes from a spec")
struct SpecSizeTests {
    func buildError(_ spec: ModelSpec) -> String? {
        do {
            let _: Network<Float> = try spec.makeNetwork()
            return nil
        } catch {
            return "\(error)"
        }
    }

    /// `makeBody` says how many parameters `makeNetwork` would allocate without allocating them
    /// (the fuzz target bounds its work with it): here a 250M-parameter transformer layer.
    @Test func bodyCountsParametersBeforeAllocating() throws {
        let json = #"{"input_shape":[4,8],"layers":[{"type":"transformer_encoder_layer","d_model":8,"nhead":2,"dim_feedforward":15555556,"norm_first":true}]}"#
        let spec = try ModelSpec.decode(json: Data(json.utf8))
        let body: Sequential<Float> = try spec.makeBody()
        // Two feed-forward linears (8 → F → 8, with biases) dominate.
        #expect(body.parameterCount > 2 * 8 * 15_555_556)
        let small = try ModelSpec.decode(json: Data(#"{"input_shape":[3],"layers":[{"type":"linear","in_features":3,"out_features":2}]}"#.utf8))
        let network: Network<Float> = try small.makeNetwork()
        #expect(try small.makeBody(Float.self).parameterCount == network.parameterCount)
    }

    @Test func hugePaddingIsAnErrorNotATrap() {
        let spec = ModelSpec(inputShape: [1, 4, 4], layers: [.conv2d(inChannels: 1, outChannels: 1, kernelSize: 1, padding: SpatialSize(1 << 62, 1 << 62))])
        #expect(buildError(spec) == "layer 0 (conv2d), field padding: got (4611686018427387904, 4611686018427387904): the padded input 4×4 overflows the integer range")
        let wide = ModelSpec(inputShape: [1, 4, 4], layers: [.conv2d(inChannels: 1, outChannels: 1 << 20, kernelSize: 1, padding: SpatialSize(1 << 20, 1 << 20))])
        #expect(buildError(wide)?.hasPrefix("layer 0 (conv2d), field") == true)
    }

    @Test func hugeInputShapesAreRefusedWithTheField() {
        let overflow = ModelSpec(inputShape: [1 << 32, 1 << 32, 4], layers: [.flatten])
        #expect(buildError(overflow) == "layer model, field input_shape: got [4294967296, 4294967296, 4], whose product overflows the integer range")
        let memory = ModelSpec(inputShape: [1 << 45], layers: [.activation(.tanh)])
        let message = buildError(memory) ?? ""
        #expect(message.hasPrefix("layer 0 (tanh), field output_shape: its output shape [35184372088832] is 35184372088832 float32 values per example (128.00 TiB") || message.contains("more than the physical memory"), "\(message)")
    }

    @Test func attentionWeightsOverflowIsNamed() {
        let spec = ModelSpec(inputShape: [2, 1 << 31], layers: [.attention(.multiheadAttention(embedDimension: 1 << 31, headCount: 1))])
        let message = buildError(spec) ?? ""
        #expect(message.contains("embed_dim") || message.contains("physical memory"), "\(message)")
        let direct = #expect(throws: NetworkError.self) {
            try MultiHeadAttention<Float>(sequenceLength: 2, embedDimension: 1 << 31, headCount: 1)
        }
        #expect(direct.map { "\($0)" }?.contains("overflow the integer range") == true)
    }

    @Test func parametersBeyondMemoryAreRefusedBeforeAllocating() {
        let spec = ModelSpec(inputShape: [6], layers: [.linear(inFeatures: 6, outFeatures: 3_000_000_000)])
        let message = buildError(spec) ?? ""
        #expect(message.hasPrefix("the model's parameter vector is 21000000000 float32 values (78.23 GiB), more than the physical memory ("), "\(message)")
    }

    @Test func sizeLimitArithmetic() {
        #expect(SizeLimit.product([1 << 32, 1 << 32]) == nil)
        #expect(SizeLimit.sum([Int.max, 1]) == nil)
        #expect(SizeLimit.bytesDescription(100) == "100 B")
        #expect(throws: SizeLimitError(quantity: "x", value: "4 values (32 B)", limit: "a test limit (16 B)")) {
            try SizeLimit.checkAllocation("x", count: 4, bytesPerElement: 8, limitBytes: 16, limitName: "a test limit")
        }
    }
}

@Suite("Hardening: strict safetensors")
struct StrictSafetensorsTests {
    static func raw(_ header: String, data: Int) -> Data { SafetensorsErrorTests.raw(header: header, data: [UInt8](repeating: 0, count: data)) }

    func error(_ data: Data) -> String? {
        do { _ = try Safetensors(data: data); return nil } catch { return error.description }
    }

    @Test func offsetsMustTileTheDataSection() {
        let gap = #"{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}}"#
        #expect(error(Self.raw(gap, data: 12)) == "safetensors: tensor \"b\": data starts at byte 8, but the previous tensor \"a\" ends at byte 4 (gap; tensors must tile the data section in order)")
        let overlap = #"{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}"#
        #expect(error(Self.raw(overlap, data: 8))?.contains("(overlap;") == true)
        let trailing = #"{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}"#
        #expect(error(Self.raw(trailing, data: 6)) == "safetensors: corrupt header: the tensors cover 4 bytes of the 6-byte data section (2 trailing bytes)")
        #expect(error(Self.raw(trailing, data: 4)) == nil)
    }

    @Test func duplicateNamesUnknownFieldsAndHugeShapes() {
        let duplicate = #"{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}"#
        #expect(error(Self.raw(duplicate, data: 4))?.hasSuffix("-byte header, at a: duplicate key \"a\" (each key may appear once)") == true)
        let typo = #"{"a": {"dtype": "F32", "shape": [1], "data_offset": [0, 4]}}"#
        #expect(error(Self.raw(typo, data: 4))?.contains("unknown field \"data_offset\"; did you mean \"data_offsets\"?") == true)
        let huge = #"{"a": {"dtype": "F64", "shape": [4611686018427387904, 4], "data_offsets": [0, 8]}}"#
        #expect(error(Self.raw(huge, data: 8))?.contains("overflows the integer range") == true)
        let fraction = #"{"a": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}}"#
        #expect(error(Self.raw(fraction, data: 4))?.contains("shape[0]: got 1.5, which is not a whole number") == true)
        let deep = String(repeating: "[", count: 100_000)
        #expect(error(Self.raw(deep, data: 0))?.contains("deeper than 64") == true)
    }

    @Test func headerLengthIsBounded() {
        var data = Data()
        withUnsafeBytes(of: UInt64(200_000_000).littleEndian) { data.append(contentsOf: $0) }
        data.append(Data(count: 16))
        #expect(error(data) == "safetensors: header length 200000000 exceeds the 16 bytes after the length prefix")
    }

    @Test func doubleValuesBeyondFloatRangeOverflowFloat32() throws {
        let data = try Safetensors.encode([(name: "w", shape: [2], values: [1.0, 1e300])], dtype: .f64)
        let file = try Safetensors(data: data)
        let e = #expect(throws: SafetensorsError.self) { _ = try file.values("w", as: Float.self) }
        #expect(e?.description == "safetensors: tensor \"w\" element 1 = 1e+300 overflows float32 (largest finite 3.4028235e+38); use double precision (--precision double)")
        #expect(try file.values("w", as: Double.self) == [1.0, 1e300])
    }
}

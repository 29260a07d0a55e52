import Foundation
import NTKLinearAlgebra
import Testing
@testable import NTKONNX

/// The error `body` throws (nil if none), for checking its case and its one-line message.
/// (Any other error is a test failure.)
func onnxError(_ body: () throws -> Void) -> ONNXError? {
    do { try body() } catch let error as ONNXError { return error } catch {
        Issue.record("unexpected error \(error)")
    }
    return nil
}

func readError(_ model: Onnx_ModelProto) -> ONNXError? {
    onnxError { _ = try ONNXModel(data: TestModels.data(model)) }
}

/// Malformed, adversarial and unsupported models: one-line errors naming the culprit, never a crash.
@Suite("ONNX reader: hardening")
struct ONNXHardeningTests {
    @Test(arguments: [12, 21, 0])
    func opsetsOutside13To20AreRefused(opset: Int64) throws {
        let e = try #require(readError(TestModels.mlp(opset: opset)))
        #expect(e == .unsupportedOpset(version: Int(opset), supported: 13...20))
        #expect(e.description == "onnx: opset \(opset) of the default domain is not supported; expected 13...20 (re-export with torch.onnx.export(..., opset_version=20))")
    }

    @Test func opsetBoundsAndDomainsAreAccepted() throws {
        for opset: Int64 in [13, 20] { #expect(try ONNXModel(data: TestModels.data(TestModels.mlp(opset: opset))).opsetVersion == Int(opset)) }
        var m = TestModels.mlp()
        m.opsetImport[0].domain = "ai.onnx"
        var ms = Onnx_OperatorSetIdProto()
        ms.domain = "com.microsoft"
        ms.version = 1
        m.opsetImport.append(ms)
        #expect(try ONNXModel(data: TestModels.data(m)).opsetImports == ["": 17, "com.microsoft": 1])
        m.opsetImport = [ms]
        #expect(readError(m) == .missingOpset)
    }

    @Test func aCycleIsRefusedNamingItsNodes() throws {
        var m = TestModels.mlp()
        m.graph.node[1].input[0] = "y"  // fc1 reads fc2's output: fc1 → relu → fc2 → fc1
        let e = try #require(readError(m))
        #expect(e == .cycle(nodes: ["\"/fc2/Gemm\" (Gemm)", "\"/fc1/Gemm\" (Gemm)", "\"/act/Relu\" (Relu)"]))
        #expect(e.description.contains("the graph has a cycle: nodes \"/fc2/Gemm\" (Gemm)"))
        var selfLoop = TestModels.mlp()
        selfLoop.graph.node[2].input = ["relu"]
        #expect(readError(selfLoop) == .cycle(nodes: ["\"/fc2/Gemm\" (Gemm)", "\"/act/Relu\" (Relu)"]))
    }

    @Test func aDanglingInputNamesTheNodeAndTheInput() throws {
        var m = TestModels.mlp()
        m.graph.node[2].input = ["hidden"]
        let e = try #require(readError(m))
        #expect(e == .danglingInput(node: "\"/act/Relu\" (Relu)", input: "hidden"))
        #expect(e.description == "onnx: node \"/act/Relu\" (Relu) reads \"hidden\", which is neither a graph input, an initializer nor a node output")
        // An omitted optional input ("") is not dangling.
        var optional = TestModels.mlp()
        optional.graph.node[0].input[2] = ""
        #expect(readError(optional) == nil)
    }

    @Test func unsupportedElementTypesNameTheTensorAndTheType() throws {
        var m = TestModels.mlp()
        m.graph.initializer[0].dataType = 10  // FLOAT16
        let e = try #require(readError(m))
        #expect(e == .unsupportedElementType(tensor: "fc1.weight", dataType: "FLOAT16"))
        #expect(e.description.hasPrefix("onnx: tensor \"fc1.weight\" has element type FLOAT16; expected FLOAT or DOUBLE"))
        var input = TestModels.mlp()
        input.graph.input[0] = TestModels.value("x", .float32, [2, 4])
        input.graph.input[0].type.tensorType.elemType = 8  // STRING
        #expect(readError(input) == .unsupportedElementType(tensor: "x", dataType: "STRING"))
        var constant = TestModels.flattenByShape()
        constant.graph.node[1].attribute[0].t.dataType = 2  // UINT8
        #expect(readError(constant) == .unsupportedElementType(tensor: "\"/zero/Constant\" (Constant) attribute value", dataType: "UINT8"))
        var sequence = TestModels.mlp()
        sequence.graph.output[0].type.sequenceType = Onnx_TypeProto.Sequence()
        #expect(readError(sequence) == .unsupportedValueType(value: "y", kind: "sequence"))
    }

    @Test func rawDataOfTheWrongSizeIsRefused() throws {
        var m = TestModels.mlp()
        m.graph.initializer[0].rawData.removeLast(4)
        let e = try #require(readError(m))
        #expect(e == .rawDataSize(tensor: "fc1.weight", dims: [3, 4], elementType: .float32, expected: 48, got: 44))
        #expect(e.description == "onnx: tensor \"fc1.weight\" (float32, dims [3, 4]) has 44 bytes of raw_data; expected 48")
        var typed = TestModels.mlp()
        typed.graph.initializer[3].doubleData.append(1)
        #expect(readError(typed) == .valueCount(tensor: "fc2.bias", field: "double_data", dims: [2], expected: 2, got: 3))
        var empty = TestModels.mlp()
        empty.graph.initializer[2].rawData = Data()  // present but empty
        #expect(readError(empty) == .rawDataSize(tensor: "fc2.weight", dims: [2, 3], elementType: .float64, expected: 48, got: 0))
    }

    @Test func absurdDimsAreRefusedBeforeAllocating() throws {
        var overflow = TestModels.mlp()
        overflow.graph.initializer[0].dims = [1 << 40, 1 << 40]
        guard case let .sizeLimit(limit)? = readError(overflow) else { Issue.record("expected a size-limit error"); return }
        #expect(limit.quantity == "the elements of tensor \"fc1.weight\"")
        #expect(limit.value.contains("overflows the 64-bit integer range"))
        var huge = TestModels.mlp()
        huge.graph.initializer[1].dims = [1 << 50]
        huge.graph.initializer[1].floatData = []
        guard case let .sizeLimit(memory)? = readError(huge) else { Issue.record("expected a size-limit error"); return }
        #expect(memory.limit.hasPrefix("the physical memory"))
        var negative = TestModels.mlp()
        negative.graph.initializer[0].dims = [-3, -4]
        #expect(readError(negative) == .negativeDimension(tensor: "fc1.weight", dims: [-3, -4]))
    }

    @Test func externalDataIsRefusedWithItsLocation() throws {
        var m = TestModels.mlp()
        var location = Onnx_StringStringEntryProto()
        location.key = "location"
        location.value = "weights.bin"
        m.graph.initializer[0].rawData = Data()
        m.graph.initializer[0].clearRawData()
        m.graph.initializer[0].externalData = [location]
        m.graph.initializer[0].dataLocation = .external
        let e = try #require(readError(m))
        #expect(e.description == "onnx: tensor \"fc1.weight\": data stored externally (weights.bin); expected data inside the model (save without external data)")
    }

    @Test func namesMustBeDefinedOnceAndOutputsProduced() throws {
        var twice = TestModels.mlp()
        twice.graph.node[2].output = ["h"]
        #expect(readError(twice) == .duplicateName(name: "h", message: "is written by nodes \"/fc1/Gemm\" (Gemm) and \"/act/Relu\" (Relu)"))
        var shadow = TestModels.mlp()
        shadow.graph.node[2].output = ["fc1.bias"]
        #expect(readError(shadow)?.description.contains("is also a graph input or initializer") == true)
        var output = TestModels.mlp()
        output.graph.output[0].name = "logits"
        #expect(readError(output) == .undefinedOutput(name: "logits"))
        var graphless = TestModels.mlp()
        graphless.clearGraph()
        #expect(readError(graphless) == .missingGraph)
    }

    @Test func controlFlowAttributesAreRefused() throws {
        var m = TestModels.mlp()
        var body = Onnx_AttributeProto()
        body.name = "then_branch"
        body.type = .graph
        body.g = Onnx_GraphProto()
        m.graph.node[2].attribute = [body]
        let e = try #require(readError(m))
        #expect(e.description.hasPrefix("onnx: node \"/act/Relu\" (Relu) attribute \"then_branch\": graph-valued attributes (control flow: If, Loop, Scan) are not supported"))
    }

    @Test func everyPrefixOfAValidModelIsAnErrorOrAValidModel() throws {
        for model in [TestModels.mlp(), TestModels.flattenByShape()] {
            let bytes = TestModels.data(model)
            var errors = 0
            for n in 0..<bytes.count {
                do {
                    let m = try ONNXModel(data: bytes.prefix(n))
                    #expect(m.nodes.count <= model.graph.node.count)
                } catch {
                    errors += 1
                    #expect(!error.description.contains("\n"))
                    #expect(error.description.hasPrefix("onnx: "))
                }
            }
            #expect(errors > bytes.count / 2)
            #expect(onnxError { _ = try ONNXModel(data: bytes) } == nil)
        }
        let truncated = TestModels.data(TestModels.mlp()).dropLast(3)
        #expect(onnxError { _ = try ONNXModel(data: Data(truncated)) }?.description
            == "onnx: not a valid ONNX model (protobuf ModelProto expected): the \(truncated.count) bytes end inside a field (truncated file?)")
    }

    @Test func garbageAndFlippedBytesNeverCrash() throws {
        var rng = SeededGenerator(seed: 14)
        let bytes = TestModels.data(TestModels.flattenByShape())
        _ = onnxError { _ = try ONNXModel(data: Data("not a model at all".utf8)) }
        for _ in 0..<2000 {
            var mutated = bytes
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                mutated[Int.random(in: 0..<mutated.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            if let model = try? ONNXModel(data: mutated) {
                _ = try? model.foldConstants(inputShapes: model.inputShapes(batchSize: 2, dimensions: [:]))
            }
        }
    }
}

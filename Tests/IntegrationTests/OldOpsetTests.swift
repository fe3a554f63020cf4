import AICompressCore
@testable import AICompressFormats
import AICompressPasses
import AICompressTraining
import XCTest

/// fixtures/onnx/old-opset/ (opsets 6-12, made by make_old_opset_fixtures.py) quantized and
/// written as ONNX, then run in our own executor against the float model: the output is at the
/// opset its weights need (and no newer), and computes the same function within the scheme's
/// error. onnxruntime checks the same files in scripts/interop/old_opset.py.
final class OldOpsetTests: XCTestCase {
    /// The fixtures whose every operator our executor runs.
    static let runnable = ["gemm-opset6", "gemm-opset9", "gemm-ir3-opset9", "gemm-opset11", "conv-softmax-opset11",
                           "dropout-opset10", "unsqueeze-opset11", "clip-opset6", "clip-opset10"]

    func load(_ name: String) throws -> Model {
        try ModelIO.read(path: fixture("onnx/old-opset/\(name).onnx")).model
    }

    /// Quantizes `model` with `pass`, writes it as ONNX and reads it back.
    func quantizedONNX(_ model: Model, _ pass: Quantize) throws -> Model {
        let (q, _) = try pass.apply(model)
        var sink = MemorySink()
        var none: MemorySink? = nil
        try ONNXWriter.write(q, to: &sink, options: ONNXWriteOptions(), external: &none, externalLocation: nil)
        return try readONNX(sink.bytes)
    }

    /// The model's output for 8 deterministic rows shaped as its input.
    func outputs(_ model: Model) throws -> NDArray {
        let net = try Network(model: model)
        let input = try XCTUnwrap(net.feedInputs.first)
        let dims = (input.shape ?? []).dropFirst().map { d -> Int in if case .fixed(let v) = d { return Int(v) } else { return 1 } }
        let shape = [8] + dims
        let n = shape.reduce(1, *)
        let x = NDArray(shape: shape, floats: (0..<n).map { Float(($0 * 29) % 31) / 8 - 1.9 })
        return try XCTUnwrap(try net.predict([input.name: x])[model.graph!.outputs[0].name])
    }

    func opset(_ m: Model) -> Int64? { m.graph?.opsets.first { $0.domain.isEmpty }?.version }

    func testQuantizedOldOpsetModelsComputeTheFloatFunction() throws {
        let schemes: [(Quantize, needs: Int64, tolerance: Float)] = [
            (Quantize(scheme: .int8, granularity: .perTensor), 10, 0.06), (Quantize(scheme: .int8), 13, 0.06),
            (Quantize(scheme: .uint8), 13, 0.06), (Quantize(scheme: .int4), 21, 0.6),
            (Quantize(scheme: .bf16), 13, 0.03), (Quantize(scheme: .fp16), 1, 0.005),
        ]
        for name in OldOpsetTests.runnable {
            let float = try load(name)
            let reference = try outputs(float)
            let own = try XCTUnwrap(opset(float))
            for (pass, needs, tolerance) in schemes {
                let what = "\(name) \(pass.stepDescription)"
                let q = try quantizedONNX(float, pass)
                XCTAssertEqual(opset(q), max(own, needs), what)
                let y = try outputs(q)
                XCTAssertEqual(y.shape, reference.shape, what)
                let scale = max(1, reference.floats.map(abs).max() ?? 1)
                let err = zip(y.floats, reference.floats).map { abs($0 - $1) }.max() ?? 0
                XCTAssertLessThanOrEqual(err / scale, tolerance, what)
            }
        }
    }

    /// The case: Conv to [N,10,1,1] then Softmax with the default axis. Relabelled as
    /// opset 13 every output was 1.0; converted, the probabilities stay the float model's.
    func testConvSoftmaxKeepsItsProbabilities() throws {
        let float = try load("conv-softmax-opset11")
        let reference = try outputs(float)
        XCTAssertGreaterThan(reference.floats.map { abs($0 - 1) }.max() ?? 0, 0.1, "the float model is not all 1.0")
        let q = try quantizedONNX(float, Quantize(scheme: .int8))
        XCTAssertEqual(opset(q), 13)
        XCTAssertTrue(q.graph!.nodes.contains { $0.opType == "Flatten" })
        let y = try outputs(q)
        for (a, b) in zip(y.floats, reference.floats) { XCTAssertEqual(a, b, accuracy: 0.05) }
        // Every row is still a distribution over the 10 classes.
        for row in 0..<8 { XCTAssertEqual(y.floats[(row * 10)..<(row * 10 + 10)].reduce(0, +), 1, accuracy: 1e-4) }
    }

    /// Per-tensor int8 exists at opset 10: such a model keeps its opset and IR version.
    func testPerTensorEightBitKeepsTheModelsOpset() throws {
        for name in ["dropout-opset10", "clip-opset10", "gemm-opset11", "refused-mvn-opset12"] {
            let float = try load(name)
            let q = try quantizedONNX(float, Quantize(scheme: .int8, granularity: .perTensor))
            XCTAssertEqual(opset(q), opset(float), name)
            XCTAssertEqual(q.metadata["onnx.ir_version"], float.metadata["onnx.ir_version"], name)
            XCTAssertEqual(q.graph!.nodes.filter { $0.opType != "DequantizeLinear" }, float.graph!.nodes, name)
        }
    }

    /// An operator outside the converter: refused, naming the node, when a newer opset is needed.
    func testAnUnknownOperatorIsRefused() throws {
        let float = try load("refused-mvn-opset12")
        for pass in [Quantize(scheme: .int8), Quantize(scheme: .int4), Quantize(scheme: .bf16)] {
            XCTAssertThrowsError(try quantizedONNX(float, pass), pass.stepDescription) {
                guard case .opsetConversion(let node, let op, 12, _, let needs, _) = $0 as? ONNXError else { return XCTFail("\($0)") }
                XCTAssertEqual([node, op], ["output", "MeanVarianceNormalization"])
                XCTAssertTrue(needs.contains("conv.weight"), needs)
            }
        }
    }

    /// `convert` keeps the IR version: IR 3 with opset 9 (as PyTorch 1.0 exported) stays IR 3,
    /// and its initializers stay listed as inputs; quantizing to opset 13 raises it to IR 7 and
    /// stops listing them (from IR 4 a listed initializer is an overridable input).
    func testTheIRVersionIsKeptUnlessTheOpsetNeedsANewerOne() throws {
        let float = try load("gemm-ir3-opset9")
        var sink = MemorySink()
        var none: MemorySink? = nil
        try ONNXWriter.write(float, to: &sink, options: ONNXWriteOptions(), external: &none, externalLocation: nil)
        let converted = try readONNX(sink.bytes)
        XCTAssertEqual(converted.metadata["onnx.ir_version"], "3")
        XCTAssertEqual(converted.graph?.inputs, float.graph?.inputs)
        let q = try quantizedONNX(float, Quantize(scheme: .int8))
        XCTAssertEqual(q.metadata["onnx.ir_version"], "7")
        XCTAssertEqual(q.graph?.inputs.map(\.name), ["input"])
    }

    /// An IR 3 model already at the opset its quantized weights need stays IR 3, so the new
    /// initializers (integers, scales) are listed as graph inputs as IR 3 requires.
    func testAnIR3ModelThatKeepsItsIRListsTheNewInitializersAsInputs() throws {
        var float = try load("gemm-ir3-opset9")
        float.graph!.opsets = [OpsetImport(domain: "", version: 13)]
        let lowered = try ONNXQDQ.lower(try Quantize(scheme: .int8).apply(float).0)
        XCTAssertEqual(lowered.metadata["onnx.ir_version"], "3")
        let listed = Set(lowered.graph!.inputs.map(\.name))
        XCTAssertEqual(listed, Set(lowered.tensors.map(\.name) + ["input"]))
        XCTAssertTrue(listed.contains("fc1.weight_quantized"), "\(listed)")
        XCTAssertTrue(listed.contains("fc1.weight_scale"), "\(listed)")
        XCTAssertFalse(listed.contains("fc1.weight"), "a node's output is not also a graph input")
    }
}

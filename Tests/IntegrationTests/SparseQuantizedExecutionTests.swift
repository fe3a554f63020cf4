import AICompressCore
import AICompressFormats
import AICompressPasses
import AICompressTraining
import XCTest

/// The executor runs a pruned then quantized model stored sparse + quantized (spec §5.4), read
/// back from a .ckpt, exactly as the same model with its tensors in the dense quantized form.
final class SparseQuantizedExecutionTests: XCTestCase {
    func testExecutorDecodesSparseQuantizedWeights() throws {
        let model = try ModelIO.read(path: fixture("onnx/mlp.onnx")).model
        let pruned = try Prune(method: .magnitude(keep: 0.3, scope: .tensor)).apply(model).0
        for scheme in [QuantizationScheme.int8, .int4] {
            let quantized = try Quantize(scheme: scheme).apply(pruned).0
            XCTAssertTrue(quantized.tensors.contains { $0.sparseQuantizedLayout != nil }, scheme.id)
            let bytes = try CheckpointWriter.write(quantized, to: MemorySink()).bytes
            let read = try CheckpointReader.read(bytes.withUnsafeBytes { ByteBuffer.copying($0) }).model
            var dense = read
            for t in read.tensors { try dense.replace(try t.expandedQuantized()) }
            XCTAssertFalse(dense.tensors.contains { $0.sparseQuantizedLayout != nil })
            let x = NDArray(shape: [5, 16], floats: (0..<80).map { Float(($0 * 37) % 23) / 7 - 1.5 })
            let input = try XCTUnwrap(model.graph?.inputs.first?.name)
            let a = try Network(model: read).predict([input: x]), b = try Network(model: dense).predict([input: x])
            XCTAssertFalse(a.isEmpty)
            for (name, y) in a {
                XCTAssertEqual(y.floats.map(\.bitPattern), b[name]?.floats.map(\.bitPattern), "\(scheme.id) \(name)")
            }
        }
    }
}

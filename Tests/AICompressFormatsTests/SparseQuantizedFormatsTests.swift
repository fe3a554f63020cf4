import AICompressCore
@testable import AICompressFormats
import Foundation
import XCTest

/// Sparse + quantized tensors (spec §5.4) through every format: .ckpt keeps them bit for bit,
/// ONNX and safetensors get the quantized form they repack; the fixtures written by an
/// independent Python encoder read back with the values it computed.
final class SparseQuantizedFormatsTests: XCTestCase {
    /// cnn.onnx with the 70% smallest weights of each tensor of rank 2 or more set to zero, then
    /// quantized in four layouts and repacked sparse + quantized where that is smaller.
    func prunedQuantizedModels() throws -> [(String, Model)] {
        let base = try ModelIO.read(path: fixture("onnx/cnn.onnx")).model
        return try QuantizedFormatsTests.layouts.map { name, params in
            var model = Model()
            for t in base.tensors {
                guard t.dtype == .f32, t.shape.rank >= 2 else {
                    try model.append(t)
                    continue
                }
                var v = t.floatValues()
                let cut = v.map(abs).sorted()[v.count * 7 / 10]
                for k in v.indices where abs(v[k]) < cut { v[k] = 0 }
                let pruned = try Tensor(name: t.name, shape: t.shape, floats: v)
                try model.append(try QuantizedFormatsTests.quantized(pruned, params(t.shape.rank)).sparseQuantizedIfSmaller())
            }
            model.metadata = base.metadata
            model.graph = base.graph
            return (name, model)
        }
    }

    func testCheckpointRoundTripIsBitExact() throws {
        for (name, model) in try prunedQuantizedModels() {
            XCTAssertTrue(model.tensors.contains { $0.sparseQuantizedLayout != nil }, "\(name): something stored sparse + quantized")
            let bytes = try checkpointBytes(model)
            let (back, info) = try readCheckpoint(bytes)
            XCTAssertEqual(back.tensors, model.tensors, name)
            XCTAssertEqual(try checkpointBytes(back), bytes, name)
            XCTAssertEqual(info.minorVersion, 2, "1.2 adds encoding 4")
        }
    }

    /// ONNX (QDQ) and safetensors (integers + scales) hold the quantized form: read back, each
    /// tensor is the quantized tensor the sparse + quantized one repacks.
    func testONNXAndSafetensorsGetTheQuantizedForm() throws {
        let dir = try temporaryDirectory(self)
        for (name, model) in try prunedQuantizedModels() {
            let expected = try model.tensors.map { try $0.expandedQuantized() }.sorted { $0.name < $1.name }
            for (format, ext) in [(ModelFormat.onnx, "onnx"), (.safetensors, "safetensors")] {
                let path = dir + "/q." + ext
                try ModelIO.write(model, to: path, format: format)
                let back = try ModelIO.read(path: path).model
                XCTAssertEqual(back.tensors.sorted { $0.name < $1.name }, expected, "\(name) \(ext)")
            }
        }
    }

    /// valid/sparse-quantized.ckpt, written by fixtures/make_sparse_quantized.py (its own
    /// encoder), decodes to the values that script computed with numpy; written again by our
    /// writer it is the same file.
    func testIndependentFixtureDecodesToItsValues() throws {
        let path = fixture("valid/sparse-quantized.ckpt")
        let model = try ModelIO.read(path: path).model
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: fixture("valid/sparse-quantized.json"))))
        guard let expected = json as? [String: [Double]] else { return XCTFail("bad JSON") }
        XCTAssertEqual(Set(expected.keys), Set(model.tensors.map(\.name)))
        for t in model.tensors {
            XCTAssertNotNil(t.sparseQuantizedLayout, t.name)
            XCTAssertEqual(t.doubleValues(), expected[t.name], t.name)
        }
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        XCTAssertEqual(try checkpointBytes(model), bytes)
    }
}

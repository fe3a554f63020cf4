import AICompressCore
@testable import AICompressFormats
import Foundation
import XCTest

/// GGUF through the format registry: GGUF → GGUF and GGUF → .ckpt → GGUF keep every tensor's
/// bytes and every typed metadata pair; block types read as `.ggml` tensors; formats without
/// ggml types refuse them.
final class GGUFFormatTests: XCTestCase {
    static let files = ["gguf/valid/gguf-py-v3.gguf", "gguf/valid/gguf-py-align64.gguf", "gguf/llama/tiny-llama.gguf"]

    private func bytes(_ path: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: path))) }

    func testRoundTripsBitForBit() throws {
        let dir = try temporaryDirectory(self)
        for name in Self.files {
            let path = fixture(name)
            let loaded = try ModelIO.read(path: path)
            XCTAssertEqual(loaded.format, .gguf)
            XCTAssertEqual(ModelFormat.fromExtension(of: path), .gguf)
            // GGUF → GGUF: the same file.
            try ModelIO.write(loaded.model, to: dir + "/a.gguf", format: .gguf)
            XCTAssertEqual(try bytes(dir + "/a.gguf"), try bytes(path), name)
            // GGUF → .ckpt → GGUF: the same file again.
            try ModelIO.write(loaded.model, to: dir + "/a.ckpt", format: .checkpoint)
            let viaCkpt = try ModelIO.read(path: dir + "/a.ckpt").model
            XCTAssertEqual(viaCkpt.tensors, loaded.model.tensors, name)
            try ModelIO.write(viaCkpt, to: dir + "/b.gguf", format: .gguf)
            XCTAssertEqual(try bytes(dir + "/b.gguf"), try bytes(path), name)
        }
    }

    func testBlockTypesAreGGMLTensors() throws {
        let model = try ModelIO.read(path: fixture("gguf/valid/gguf-py-v3.gguf")).model
        let file = try GGUFReader.read(try InputFile(path: fixture("gguf/valid/gguf-py-v3.gguf")).buffer)
        for g in file.tensors {
            let t = try XCTUnwrap(model.tensor(named: g.info.name))
            XCTAssertEqual(t.shape.dims, g.info.shape)
            XCTAssertEqual(t.data.byteArray, g.data.byteArray)
            if g.info.type.isQuantized {
                XCTAssertEqual(t.encoding, .ggml(g.info.type))
                // Decoding (statistics, densified) gives the dequantizer's values.
                let expected = try g.info.type.dequantize(g.data.byteArray)
                XCTAssertEqual(try t.densified().floatValues().map(\.bitPattern), expected.map(\.bitPattern))
                XCTAssertEqual(t.floatValues().map(\.bitPattern), expected.map(\.bitPattern))
                XCTAssertEqual(t.statistics().count, expected.count)
            } else {
                XCTAssertEqual(t.encoding, .dense)
            }
        }
    }

    func testKeepsTypedMetadataAndAddsProvenanceAsStrings() throws {
        let dir = try temporaryDirectory(self)
        var model = try ModelIO.read(path: fixture("gguf/llama/tiny-llama.gguf")).model
        let original = try GGUFModelMetadata.pairs(model.metadata)
        XCTAssertTrue(original.contains { $0.key == "tokenizer.ggml.tokens" })
        XCTAssertTrue(original.contains { $0.key == "tokenizer.chat_template" })
        model.metadata["aicompress.step.000"] = "test"
        try ModelIO.write(model, to: dir + "/p.gguf", format: .gguf)
        let file = try GGUFReader.read(try InputFile(path: dir + "/p.gguf").buffer)
        XCTAssertEqual(Array(file.metadata.dropLast()), original)
        XCTAssertEqual(file.metadata.last, GGUFKeyValue("aicompress.step.000", .text("test")))
        let back = try ModelIO.read(path: dir + "/p.gguf").model
        XCTAssertEqual(back.metadata["aicompress.step.000"], "test")
        XCTAssertEqual(try GGUFModelMetadata.pairs(back.metadata), original)
    }

    func testOtherFormatsRefuseGGMLTensors() throws {
        let dir = try temporaryDirectory(self)
        let model = try ModelIO.read(path: fixture("gguf/valid/gguf-py-v3.gguf")).model
        for (ext, format) in [("onnx", ModelFormat.onnx), ("safetensors", .safetensors)] {
            XCTAssertThrowsError(try ModelIO.write(model, to: dir + "/x." + ext, format: format)) { error in
                XCTAssertTrue("\(error)".contains("ggml"), "\(error)")
                XCTAssertTrue("\(error)".contains("dequantize"), "\(error)")
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/x." + ext))
        }
    }

    func testCheckpointRefusesBadGGMLParams() throws {
        XCTAssertThrowsError(try CheckpointEncoding.decode(3, params: [1, 0, 0, 0], tensor: "t", dtype: .f32,
                                                             shape: try Shape([2, 32]), offset: 0))  // F16 is dense
        XCTAssertThrowsError(try CheckpointEncoding.decode(3, params: [8, 0, 0, 0], tensor: "t", dtype: .f32,
                                                             shape: try Shape([2, 16]), offset: 0))  // row not whole blocks
        XCTAssertThrowsError(try CheckpointEncoding.decode(3, params: [8, 0, 0, 0], tensor: "t", dtype: .f16,
                                                             shape: try Shape([2, 32]), offset: 0))  // decodes to f32
        XCTAssertEqual(try CheckpointEncoding.decode(3, params: [8, 0, 0, 0], tensor: "t", dtype: .f32,
                                                     shape: try Shape([2, 32]), offset: 0), .ggml(.q8_0))
    }
}

import AICompressCore
import AICompressFormats
import AICompressPasses
import Foundation
import XCTest

/// llama.cpp's importance matrix as llama-imatrix writes it (fixtures/gguf/imatrix, made by
/// make_imatrix_fixture.py; expected.json is gguf-py's reading), read through the GGUF reader into
/// `ImportanceMatrix`, then used by the int4 search; and int4's f16 scales through .ckpt.
final class ImportanceMatrixTests: XCTestCase {
    struct Expected: Decodable {
        let entries: Int
        let columns: [String: [Float]]
    }

    func testLlamaImatrixFileReadsAsGGUFPyReadsIt() throws {
        let path = fixture("gguf/imatrix/tiny-llama.imatrix.gguf")
        let matrix = try ImportanceMatrix(tensors: ModelIO.read(path: path).model.tensors, source: path)
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: URL(fileURLWithPath: fixture("gguf/imatrix/expected.json"))))
        XCTAssertEqual(matrix.columns.count, expected.entries)
        XCTAssertTrue(matrix.multiMatrix.isEmpty)
        for (name, columns) in expected.columns {
            XCTAssertEqual(matrix.columns[name], columns, name)
        }
    }

    func testWeightedInt4ThroughCheckpointKeepsF16Scales() throws {
        let path = fixture("gguf/imatrix/tiny-llama.imatrix.gguf")
        let matrix = try ImportanceMatrix(tensors: ModelIO.read(path: path).model.tensors, source: path)
        let name = "blk.3.ffn_down.weight"
        let importance = try XCTUnwrap(matrix.columns[name])
        // A weight of that name, [out, in] with the importance matrix's 512 inputs.
        var s: UInt64 = 7
        let x: [Float] = (0..<(64 * importance.count)).map { _ in
            s ^= s << 13; s ^= s >> 7; s ^= s << 17
            return (Float(s >> 40) / Float(1 << 24) - 0.5) * 0.1
        }
        var model = Model()
        try model.append(try Tensor(name: name, shape: [64, importance.count], floats: x))
        let plain = try Quantize(scheme: .int4).apply(model).0
        let weighted = try Quantize(scheme: .int4).withImportance(matrix).apply(model).0
        func weightedError(_ m: Model) throws -> Double {
            let t = try XCTUnwrap(m.tensor(named: name)), layout = try XCTUnwrap(t.quantizedLayout)
            XCTAssertEqual(layout.parameters.scaleType, .f16)
            return t.data.withUnsafeBytes { raw in
                x.indices.reduce(0.0) { e, k in e + Double(importance[k % importance.count]) * pow(Double(x[k]) - Double(layout.value(raw, k)), 2) }
            }
        }
        XCTAssertLessThan(try weightedError(weighted), try weightedError(plain))
        // .ckpt stores the f16 scales (flag bit 1) and reads back the same bytes.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("imatrix-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("w.ckpt").path
        try ModelIO.write(weighted, to: out, format: .checkpoint)
        let back = try XCTUnwrap(ModelIO.read(path: out).model.tensor(named: name))
        let original = try XCTUnwrap(weighted.tensor(named: name))
        XCTAssertEqual(back.encoding, original.encoding)
        XCTAssertEqual(Array(back.data.withUnsafeBytes { Array($0) }), Array(original.data.withUnsafeBytes { Array($0) }))
        XCTAssertEqual(original.data.count, 64 * 512 / 2 + 64 * 16 * 2, "4 bits per weight + one f16 scale per 32")
    }
}

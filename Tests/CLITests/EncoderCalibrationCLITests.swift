import Foundation
import XCTest

/// Calibrated methods on a BERT-class encoder, whose three token inputs are fed from an .npz
/// (issue 18 item 5): the statistics come from the calibration rows, not from the weights alone.
final class EncoderCalibrationCLITests: CLITestCase {
    let model = "encoder/encoder-init.onnx", data = "encoder/tokens-train.npz"

    func initializers(_ path: String) throws -> [String: [String: Any]] {
        let r = try run(["inspect", "--json", path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let list = try XCTUnwrap(try jsonObject(r.stdout)["tensors"] as? [[String: Any]])
        return Dictionary(list.map { ($0["name"] as? String ?? "", $0) }, uniquingKeysWith: { a, _ in a })
    }

    func testWandaAndSparseGPTPruneTheEncoderFromNamedArrays() throws {
        let dir = try tempDir()
        for method in ["wanda", "sparsegpt"] {
            let out = dir + "/\(method).onnx"
            let r = try run(["prune", "-q", "--method", method, "--keep", "0.5", "--calibration", fixture(data), fixture(model), out])
            XCTAssertEqual(r.status, 0, r.stderr)
            let t = try initializers(out)
            // 16 × 16 projections: half of each 16-input row (Wanda) or of the one block (SparseGPT).
            XCTAssertEqual(t["encoder.layer.0.attention.self.query.weight"]?["zeros"] as? Int, 128, method)
            XCTAssertEqual(t["encoder.layer.1.output.dense.weight"]?["zeros"] as? Int, 256, method)  // [32, 16]
            XCTAssertEqual(t["classifier.weight"]?["zeros"] as? Int, 16, method)  // [16, 2]
            let again = try run(["prune", "-q", "--method", method, "--keep", "0.5", "--calibration", fixture(data), fixture(model), dir + "/again.onnx"])
            XCTAssertEqual(again.status, 0, again.stderr)
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out)), try Data(contentsOf: URL(fileURLWithPath: dir + "/again.onnx")), method)
        }
    }

    func testWandaMaskDependsOnTheCalibrationRows() throws {
        // The same weights with other activations give another mask: the first 10 rows against all 1000.
        let dir = try tempDir()
        var zerosBy: [String: [Int]] = [:]
        for rows in ["10", "1000"] {
            let out = dir + "/w\(rows).onnx"
            let r = try run(["prune", "-q", "--method", "wanda", "--keep", "0.5", "--calibration", fixture(data), "--calibration-rows", rows, fixture(model), out])
            XCTAssertEqual(r.status, 0, r.stderr)
            let d = try run(["convert", out, dir + "/w\(rows).safetensors"])
            XCTAssertEqual(d.status, 0, d.stderr)
            zerosBy[rows] = try zeroIndices(dir + "/w\(rows).safetensors", "encoder.layer.0.intermediate.dense.weight")
        }
        XCTAssertEqual(zerosBy["10"]?.count, 256)
        XCTAssertEqual(zerosBy["1000"]?.count, 256)
        XCTAssertNotEqual(zerosBy["10"], zerosBy["1000"])
    }

    func testATableForAnEncoderIsRefusedNamingItsInputs() throws {
        let dir = try tempDir()
        let r = try run(["prune", "--method", "wanda", "--keep", "0.5", "--calibration", fixture("demo/digits-train.csv"), fixture(model), dir + "/x.onnx"])
        XCTAssertEqual(r.status, 65, r.stderr)
        XCTAssertTrue(r.stderr.contains("input_ids, attention_mask, token_type_ids"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/x.onnx"))
    }

    /// The flat indices of the exact zeros of one f32 tensor of a safetensors file.
    func zeroIndices(_ path: String, _ name: String) throws -> [Int] {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let headerLength = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.1) << (8 * $1.0) }
        let header = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + headerLength)])) as? [String: Any])
        let entry = try XCTUnwrap(header[name] as? [String: Any])
        XCTAssertEqual(entry["dtype"] as? String, "F32")
        let offsets = try XCTUnwrap(entry["data_offsets"] as? [Int])
        let start = 8 + headerLength + offsets[0]
        return stride(from: 0, to: offsets[1] - offsets[0], by: 4).compactMap { i in
            let bits = (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[start + i + $1]) << (8 * UInt32($1)) }
            return Float(bitPattern: bits) == 0 ? i / 4 : nil
        }
    }
}

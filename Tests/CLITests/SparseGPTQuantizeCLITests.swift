import AICompressCore
import AICompressFormats
import Foundation
import XCTest

/// `prune --method sparsegpt --quantize SCHEME`: sparse + quantized in one sweep, stored as
/// encoding 4, read back bit for bit, dequantized, evaluated, replayed from its recipe, and
/// the combinations it refuses.
final class SparseGPTQuantizeCLITests: CLITestCase {
    func bytes(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    func accuracy(_ model: String) throws -> Double {
        let r = try run(["evaluate", model, "--data", fixture("demo/digits-test.csv"), "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        return try XCTUnwrap((try jsonObject(r.stdout)["metrics"] as? [String: Any])?["accuracy"] as? Double)
    }

    func values(_ t: Tensor) throws -> [Float] { try t.densified().floatValues() }

    func testJointOutputIsEncodingFourReadBackDequantizedAndReplayed() throws {
        let dir = try tempDir(), model = fixture("demo/mlp-digits.ckpt"), data = fixture("demo/digits-train.csv")
        let out = dir + "/joint.ckpt"
        let args = ["prune", "-q", "--method", "sparsegpt", "--sparsity", "0.5", "--quantize", "int4", "--group-size", "16",
                    "--calibration", data]
        XCTAssertEqual(try run(args + [model, out]).status, 0)
        XCTAssertEqual(try run(args + [model, dir + "/again.ckpt"]).status, 0)
        XCTAssertEqual(try bytes(out), try bytes(dir + "/again.ckpt"), "not deterministic")
        let read = try ModelIO.read(path: out).model
        for (name, count) in [("fc1.weight", 32 * 64), ("fc2.weight", 10 * 32)] {
            let t = try XCTUnwrap(read.tensors.first { $0.name == name })
            guard case .sparseQuantized(let stored, let q) = t.encoding else { return XCTFail("\(name): \(t.encoding.description)") }
            XCTAssertEqual(q.storage.name, "int4")
            XCTAssertEqual(q.blockSize, 16)
            let v = try values(t)
            // ⌊0.5 × weights⌋ of the one block of inputs go; a kept weight may also round to 0.
            XCTAssertGreaterThanOrEqual(v.filter { $0 == 0 }.count, count / 2, name)
            XCTAssertEqual(stored, v.filter { $0 != 0 }.count, name)
            // The expanded (encoding 2) form holds the same integers and scales: the same values, bit for bit.
            XCTAssertEqual(try values(try t.expandedQuantized()).map(\.bitPattern), v.map(\.bitPattern), name)
        }
        // Written again by our writer and read back: the same tensor bytes.
        let rewritten = dir + "/rewritten.ckpt"
        XCTAssertEqual(try run(["convert", "-q", out, rewritten]).status, 0)
        let again = try ModelIO.read(path: rewritten).model
        for t in read.tensors {
            let u = try XCTUnwrap(again.tensors.first { $0.name == t.name })
            XCTAssertEqual(u.encoding, t.encoding, t.name)
            XCTAssertEqual(u.data.withUnsafeBytes { Data($0) }, t.data.withUnsafeBytes { Data($0) }, t.name)
        }
        // dequantize gives f32 tensors of exactly those values.
        let dense = dir + "/dense.ckpt"
        XCTAssertEqual(try run(["dequantize", "-q", out, dense]).status, 0)
        let f32 = try ModelIO.read(path: dense).model
        for t in read.tensors {
            XCTAssertEqual(try values(try XCTUnwrap(f32.tensors.first { $0.name == t.name })).map(\.bitPattern), try values(t).map(\.bitPattern), t.name)
        }
        XCTAssertGreaterThan(try accuracy(out), 0.94)
        // The recipe records the joint step and apply replays it byte for byte.
        let shown = try run(["recipe", out])
        XCTAssertEqual(shown.status, 0, shown.stderr)
        XCTAssertTrue(shown.text.contains("      method: sparsegpt\n      sparsity: 0.5\n      quantize: int4\n      group-size: 16\n"), shown.text)
        try shown.stdout.write(to: URL(fileURLWithPath: dir + "/r.yaml"))
        let applied = try run(["apply", "-q", dir + "/r.yaml", model, dir + "/apply.ckpt"])
        XCTAssertEqual(applied.status, 0, applied.stderr)
        XCTAssertEqual(try bytes(out), try bytes(dir + "/apply.ckpt"), "apply differs from the run")
        // Not the same as pruning then quantizing.
        XCTAssertEqual(try run(["prune", "-q", "--method", "sparsegpt", "--sparsity", "0.5", "--calibration", data, model, dir + "/p.ckpt"]).status, 0)
        XCTAssertEqual(try run(["quantize", "-q", "--int4", "--group-size", "16", dir + "/p.ckpt", dir + "/pq.ckpt"]).status, 0)
        XCTAssertNotEqual(try values(try XCTUnwrap(read.tensors.first { $0.name == "fc1.weight" })),
                          try values(try XCTUnwrap(try ModelIO.read(path: dir + "/pq.ckpt").model.tensors.first { $0.name == "fc1.weight" })))
    }

    func testONNXOutputHoldsTheSameValuesAsQDQ() throws {
        let dir = try tempDir(), model = fixture("demo/cnn-digits.onnx")
        let args = ["prune", "-q", "--method", "sparsegpt", "--sparsity", "0.5", "--quantize", "int8", "--calibration",
                    fixture("demo/digits-train.csv"), model]
        XCTAssertEqual(try run(args + [dir + "/j.onnx"]).status, 0)
        XCTAssertEqual(try run(args + [dir + "/j.ckpt"]).status, 0)
        let onnx = try ModelIO.read(path: dir + "/j.onnx").model, ckpt = try ModelIO.read(path: dir + "/j.ckpt").model
        let fc = try XCTUnwrap(ckpt.tensors.first { $0.name == "fc.weight" })
        guard case .sparseQuantized = fc.encoding else { return XCTFail("fc.weight: \(fc.encoding.description)") }
        let o = try XCTUnwrap(onnx.tensors.first { $0.name == "fc.weight" })
        XCTAssertEqual(try values(o).map(\.bitPattern), try values(fc).map(\.bitPattern))
        XCTAssertGreaterThan(try accuracy(dir + "/j.onnx"), 0.95)
    }

    func testJointModeRefusesWhatItCannotDo() throws {
        let dir = try tempDir(), model = fixture("demo/mlp-digits.ckpt"), data = fixture("demo/digits-train.csv")
        let cases: [([String], String)] = [
            (["--method", "wanda", "--keep", "0.5", "--quantize", "int4", "--calibration", data], "--quantize goes with --method sparsegpt"),
            (["--keep", "0.5", "--quantize", "int8"], "--quantize goes with --method sparsegpt"),
            (["--method", "sparsegpt", "--keep", "0.5", "--group-size", "16", "--calibration", data], "--group-size goes with --quantize"),
            (["--method", "sparsegpt", "--keep", "0.5", "--quantize", "fp16", "--calibration", data], "--quantize"),
            (["--method", "sparsegpt", "--keep", "0.5", "--quantize", "int4", "--group-size", "0", "--calibration", data], "--group-size"),
        ]
        for (args, message) in cases {
            let r = try run(["prune"] + args + [model, dir + "/x.ckpt"])
            XCTAssertEqual(r.status, 64, args.joined(separator: " ") + ": " + r.stderr)
            XCTAssertTrue(r.stderr.contains(message), r.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/x.ckpt"))
        }
        // A language model is pruned in its own types (GGUF, safetensors): no joint mode.
        let calib = dir + "/calib.txt"
        try String(repeating: "the model weights are pruned one block at a time ", count: 40).write(toFile: calib, atomically: true, encoding: .utf8)
        let r = try run(["prune", "--method", "sparsegpt", "--keep", "0.5", "--quantize", "int4", "--calibration", calib,
                         fixture("gguf/llama/tiny-llama.gguf"), dir + "/x.gguf"])
        XCTAssertEqual(r.status, 64, r.stderr)
        XCTAssertTrue(r.stderr.contains("--quantize goes with graph models"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/x.gguf"))
    }
}

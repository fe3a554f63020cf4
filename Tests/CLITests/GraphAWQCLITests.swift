import AICompressCore
import AICompressFormats
import Foundation
import XCTest

/// `quantize --method awq` and `--save-imatrix` on graph models: deterministic, replayed from the
/// recipe, the imatrix file read back by `--imatrix` (same tensors) and by gguf-py, and the
/// combinations refused.
final class GraphAWQCLITests: CLITestCase {
    func bytes(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    func tensorBytes(_ path: String) throws -> [String: Data] {
        Dictionary(uniqueKeysWithValues: try ModelIO.read(path: path).model.tensors.map { t in (t.name, t.data.withUnsafeBytes { Data($0) }) })
    }

    func testAWQOnTheDigitsMLPIsDeterministicReportedAndReplayed() throws {
        let dir = try tempDir(), model = fixture("demo/mlp-digits.ckpt"), data = fixture("demo/digits-train.csv")
        let args = ["quantize", "--int4", "--group-size", "16", "--method", "awq", "--awq-grid", "10", "--calibration", data, model]
        let first = try run(args + [dir + "/a.ckpt"])
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertTrue(first.stderr.contains("(awq unscaled: its input comes from the graph input 'input': nothing to fold 1/s into)"), first.stderr)
        XCTAssertTrue(first.stderr.contains("fc1.bias    awq (folded: ÷s of a1)"), first.stderr)
        XCTAssertTrue(first.stderr.contains("fc2.weight  awq α="), first.stderr)
        XCTAssertEqual(try run(args + [dir + "/b.ckpt"]).status, 0)
        XCTAssertEqual(try bytes(dir + "/a.ckpt"), try bytes(dir + "/b.ckpt"), "not deterministic")
        let rtn = try run(["quantize", "-q", "--int4", "--group-size", "16", model, dir + "/rtn.ckpt"])
        XCTAssertEqual(rtn.status, 0, rtn.stderr)
        XCTAssertNotEqual(try tensorBytes(dir + "/a.ckpt")["fc2.weight"], try tensorBytes(dir + "/rtn.ckpt")["fc2.weight"])
        let shown = try run(["recipe", dir + "/a.ckpt"])
        XCTAssertEqual(shown.status, 0, shown.stderr)
        XCTAssertTrue(shown.text.contains("method: awq") && shown.text.contains("awq-grid: 10") && shown.text.contains("calibration-sha256:"), shown.text)
        try shown.stdout.write(to: URL(fileURLWithPath: dir + "/r.yaml"))
        let applied = try run(["apply", "-q", dir + "/r.yaml", model, dir + "/apply.ckpt"])
        XCTAssertEqual(applied.status, 0, applied.stderr)
        XCTAssertEqual(try bytes(dir + "/a.ckpt"), try bytes(dir + "/apply.ckpt"), "apply differs from the run")
        // ONNX output (QDQ) holds the same values and onnxruntime's judge is the evaluate lane.
        let cnn = try run(["quantize", "-q", "--int8", "--method", "awq", "--calibration", data, fixture("demo/cnn-digits.onnx"), dir + "/c.onnx"])
        XCTAssertEqual(cnn.status, 0, cnn.stderr)
    }

    func testSavedImatrixIsWhatImatrixReadsBackAndGGUFPyReads() throws {
        let dir = try tempDir(), model = fixture("demo/mlp-digits.ckpt"), data = fixture("demo/digits-train.csv")
        let im = dir + "/im.gguf"
        let saved = try run(["quantize", "-q", "--int4", "--group-size", "16", "--calibration", data, "--calibration-rows", "1000",
                             "--save-imatrix", im, model, dir + "/a.ckpt"])
        XCTAssertEqual(saved.status, 0, saved.stderr)
        let read = try run(["quantize", "-q", "--int4", "--group-size", "16", "--imatrix", im, model, dir + "/b.ckpt"])
        XCTAssertEqual(read.status, 0, read.stderr)
        XCTAssertEqual(try tensorBytes(dir + "/a.ckpt"), try tensorBytes(dir + "/b.ckpt"))
        let plain = try run(["quantize", "-q", "--int4", "--group-size", "16", model, dir + "/c.ckpt"])
        XCTAssertEqual(plain.status, 0, plain.stderr)
        XCTAssertNotEqual(try tensorBytes(dir + "/a.ckpt")["fc2.weight"], try tensorBytes(dir + "/c.ckpt")["fc2.weight"])
        // The sums are Σx² of each layer's input over the 1,000 rows: fc1's input is the data.
        let file = try ModelIO.read(path: im).model
        let counts = try XCTUnwrap(file.tensors.first { $0.name == "fc1.weight.counts" }).floatValues()
        XCTAssertEqual(counts, [1000])
        let sums = try XCTUnwrap(file.tensors.first { $0.name == "fc1.weight.in_sum2" }).floatValues()
        XCTAssertEqual(sums.count, 64)
        let csv = try String(contentsOfFile: data, encoding: .utf8).split(separator: "\n").dropFirst().prefix(1000)
        var expected = [Double](repeating: 0, count: 64)
        for line in csv {
            let v = line.split(separator: ",").compactMap { Double($0) }
            for j in 0..<64 { expected[j] += v[j] * v[j] }
        }
        for j in 0..<64 { XCTAssertEqual(Double(sums[j]), expected[j], accuracy: 1e-6 * max(1, expected[j]), "column \(j)") }
        XCTAssertEqual(file.tensors.map(\.name).sorted(), ["fc1.weight.counts", "fc1.weight.in_sum2", "fc2.weight.counts", "fc2.weight.in_sum2"])
        // gguf-py reads it as llama.cpp's imatrix.
        let check = "import gguf,sys; r=gguf.GGUFReader(sys.argv[1]); f=r.fields; "
            + "print(f['general.type'].contents(), f['imatrix.chunk_count'].contents(), sorted((t.name, int(t.n_elements)) for t in r.tensors))"
        let py = try shell("python3 -c \"\(check)\" '\(im)'")
        XCTAssertEqual(py.status, 0, py.stderr)
        XCTAssertEqual(py.text.trimmingCharacters(in: .whitespacesAndNewlines),
                       "imatrix 4 [('fc1.weight.counts', 1), ('fc1.weight.in_sum2', 64), ('fc2.weight.counts', 1), ('fc2.weight.in_sum2', 32)]")
    }

    func testRefusals() throws {
        let dir = try tempDir(), model = fixture("demo/mlp-digits.ckpt"), data = fixture("demo/digits-train.csv")
        let cases: [([String], String)] = [
            (["--int4", "--method", "awq"], "--method awq needs --calibration"),
            (["--int4", "--method", "awq", "--calibration", data, "--imatrix", dir + "/x.gguf"], "--imatrix goes with --method rtn; AWQ"),
            (["--int4", "--awq-grid", "5"], "--awq-grid goes with --method awq"),
            (["--int4", "--method", "awq", "--awq-grid", "0", "--calibration", data], "--awq-grid must be in 1 … 100"),
            (["--fp16", "--method", "awq", "--calibration", data], "integer scheme"),
            (["--int4", "--calibration", data], "goes with --save-imatrix FILE"),
            (["--int4", "--save-imatrix", dir + "/im.gguf"], "--save-imatrix FILE goes with --method rtn and --calibration"),
            (["--int4", "--method", "gptq", "--calibration", data, "--save-imatrix", dir + "/im.gguf"], "--save-imatrix FILE goes with --method rtn"),
            (["--int8", "--calibration", data, "--save-imatrix", dir + "/im.gguf"], "least-squares"),
        ]
        for (args, message) in cases {
            let r = try run(["quantize"] + args + [model, dir + "/x.ckpt"])
            XCTAssertNotEqual(r.status, 0, args.joined(separator: " "))
            XCTAssertTrue([64, 65].contains(r.status), args.joined(separator: " ") + ": \(r.status) " + r.stderr)
            XCTAssertTrue(r.stderr.contains(message), args.joined(separator: " ") + ": " + r.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/x.ckpt"))
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/im.gguf"))
        }
    }
}

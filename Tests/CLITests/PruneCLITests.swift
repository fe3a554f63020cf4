import Foundation
import XCTest

final class PruneCLITests: CLITestCase {
    /// The pipeline of the brief: prune to stdout, quantize from stdin, zeros stay zero.
    func testPruneThenQuantizeThroughAPipe() throws {
        let dir = try tempDir()
        let sh = try shell("set -o pipefail; \"$bin\" prune -q --keep 0.5 '\(fixture("onnx/mlp.onnx"))' - | \"$bin\" quantize -q --int8 - '\(dir)/small.ckpt'")
        XCTAssertEqual(sh.status, 0, sh.stderr)
        let j = try JSONSerialization.jsonObject(with: try run(["inspect", "--json", dir + "/small.ckpt"]).stdout) as! [String: Any]
        let tensors = j["tensors"] as! [[String: Any]]
        let w = tensors.first { $0["name"] as? String == "fc1.weight" }!
        // Half the integers are zero: stored sparse + quantized (spec §5.4), 256 of 512 integers.
        XCTAssertEqual(w["encoding"] as? String, "sparse int8 per-channel (axis 0) (256 stored)")
        XCTAssertEqual(w["zeros"] as? Int, 256, "exactly half of 512 weights are zero, before and after quantization")
        let meta = j["metadata"] as! [String: String]
        XCTAssertTrue(meta["aicompress.step.000"]!.hasPrefix("prune method=magnitude keep=0.5 scope=tensor"))
        XCTAssertTrue(meta["aicompress.step.001"]!.hasPrefix("quantize scheme=int8"))
    }

    func testSparseCheckpointIsAboutAThird() throws {
        let dir = try tempDir()
        let r = try run(["prune", "--keep", "0.3", "--report-json", dir + "/r.json", fixture("demo/mlp-digits.ckpt"), dir + "/p.ckpt"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(tableRow("fc1.weight", in: r.stderr)?.prefix(4), ["fc1.weight", "magnitude", "keep", "0.3"], r.stderr)
        let report = try jsonObject(atPath: dir + "/r.json")
        XCTAssertEqual(try tensor("fc1.weight", in: report)["scheme"] as? String, "magnitude keep 0.3")
        let tensors = report["tensors"] as! [[String: Any]]
        XCTAssertEqual(tensors[0]["zeros_after"] as? Int, 2048 - 614)
        XCTAssertEqual(tensors[0]["bytes_after"] as? Int, 256 + 614 * 4)
        let inspect = try run(["inspect", dir + "/p.ckpt"]).text
        XCTAssertTrue(inspect.contains("f32/sparse (614 non-zero)"), inspect)
    }

    func testUsageErrors() throws {
        let m = fixture("demo/mlp-digits.ckpt")
        let dir = try tempDir()
        let out = dir + "/never-written.ckpt"
        for args in [["--keep", "1.5"], ["--pattern", "3:2"], ["--pattern", "x"], ["--keep", "0.5", "--sparsity", "0.5"],
                     ["--keep", "0.5", "--include", "nothing*"], [], ["--pattern", "2:4", "--keep", "0.5"]] {
            let r = try run(["prune"] + args + [m, out])
            XCTAssertEqual(r.status, 64, "\(args): \(r.stderr)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), [], "nothing written, not even a temporary file")
    }

    func testUnsafeGraphIsRefusedWithTheReason() throws {
        let dir = try tempDir()
        let r = try run(["prune", "--pattern", "channels", "--keep", "0.5", "--include", "fc2.weight", fixture("onnx/mlp.onnx"), dir + "/x.onnx"])
        // fc2 feeds Softmax and the graph output: nothing can shrink.
        XCTAssertEqual(r.status, 64, r.stderr)
        XCTAssertTrue(r.stderr.contains("nothing to shrink"), r.stderr)
    }
}

final class DiffCLITests: CLITestCase {
    func testDiffReportsErrorsBytesAndShapes() throws {
        let dir = try tempDir()
        XCTAssertEqual(try run(["quantize", "-q", "--int8", fixture("demo/mlp-digits.ckpt"), dir + "/q.ckpt"]).status, 0)
        let r = try run(["diff", "--json", fixture("demo/mlp-digits.ckpt"), dir + "/q.ckpt"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let j = try XCTUnwrap(try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any])
        XCTAssertEqual(j["schema"] as? String, "aicompress.diff/1")
        let tensors = j["tensors"] as! [[String: Any]]
        let w = tensors.first { $0["name"] as? String == "fc1.weight" }!
        let sqnr = try XCTUnwrap(w["sqnr_db"] as? Double)
        XCTAssertGreaterThan(sqnr, 40)
        XCTAssertEqual((w["b"] as! [String: Any])["bytes"] as? Int, 2176)
        let bias = tensors.first { $0["name"] as? String == "fc1.bias" }!
        XCTAssertEqual(bias["relative_error"] as? Double, 0)
        XCTAssertEqual((j["totals"] as! [String: Any])["bytes_a"] as? Int, 9640)
        let text = try run(["diff", fixture("onnx/mlp.onnx"), fixture("onnx/mlp.onnx")]).text
        XCTAssertTrue(text.contains("0 tensors with changed values, 0 with changed shapes"), text)
    }
}

final class ProgressCLITests: CLITestCase {
    /// Progress appears on a terminal (a pseudo-terminal from `script`) and never in a pipe.
    func testProgressOnlyOnATerminal() throws {
        let dir = try tempDir()
        let text = try runOnTerminal("quantize --int8 '\(fixture("demo/mlp-digits.ckpt"))' '\(dir)/q.ckpt'")
        XCTAssertTrue(text.contains("quantize: 4/4 tensors"), text)
        let piped = try run(["quantize", "--int8", fixture("demo/mlp-digits.ckpt"), dir + "/q2.ckpt"])
        XCTAssertFalse(piped.stderr.contains("tensors,"), piped.stderr)
        XCTAssertFalse(piped.stderr.contains("\u{1B}"), "no escape codes in a pipe")
    }

    /// convert shows bytes written on a terminal, nothing in a pipe or with -q.
    func testConvertProgress() throws {
        let dir = try tempDir()
        func onTerminal(_ extra: String) throws -> String {
            try runOnTerminal("convert \(extra) '\(fixture("demo/teacher-digits.ckpt"))' '\(dir)/t.onnx'")
        }
        let shown = try onTerminal("")
        XCTAssertTrue(shown.contains("convert: ") && shown.contains("written"), shown)
        XCTAssertFalse(try onTerminal("-q").contains("written"))
        let piped = try run(["convert", fixture("demo/teacher-digits.ckpt"), dir + "/p.onnx"])
        XCTAssertEqual(piped.stderr, "")
    }
}

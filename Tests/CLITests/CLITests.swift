import Foundation
import XCTest

final class CLITests: CLITestCase {
    func testVersionAndHelp() throws {
        let v = try run(["--version"])
        XCTAssertEqual(v.status, 0)
        XCTAssertEqual(v.text, "0.1.0\n")
        for sub in ["inspect", "convert"] {
            let h = try run([sub, "--help"])
            XCTAssertEqual(h.status, 0)
            XCTAssertTrue(h.text.contains("Examples:"), "\(sub) --help has examples")
            XCTAssertTrue(h.text.contains("aicompress \(sub) "), sub)
        }
        let root = try run(["--help"])
        XCTAssertTrue(root.text.contains("Exit codes: 0 success, 64 usage, 65 invalid"))
    }

    func testInspectShowsTableTotalsMetadataAndGraph() throws {
        let r = try run(["inspect", fixture("demo/mlp-digits.ckpt")])
        XCTAssertEqual(r.status, 0, r.stderr)
        let t = r.text
        XCTAssertEqual(tableRow("fc1.weight", in: t)?.prefix(7), ["fc1.weight", "f32", "[32,", "64]", "2,048", "8,192", "2.44%"], t)
        // the same figures from --json
        let w = try tensor("fc1.weight", in: try jsonObject(try run(["inspect", "--json", fixture("demo/mlp-digits.ckpt")]).stdout))
        XCTAssertEqual(w["dtype"] as? String, "f32")
        XCTAssertEqual(w["shape"] as? [Int], [32, 64])
        XCTAssertEqual(w["parameters"] as? Int, 2048)
        XCTAssertEqual(w["bytes"] as? Int, 8192)
        XCTAssertEqual(w["zeros"] as? Int, 50)
        XCTAssertEqual(try XCTUnwrap(w["sparsity"] as? Double), 50.0 / 2048, accuracy: 1e-12)
        XCTAssertTrue(t.contains("total: 2,410 parameters in 4 tensors"), t)
        XCTAssertTrue(t.contains("32.00 bits/weight"))
        XCTAssertTrue(t.contains("demo.test_accuracy = 0.9733"))
        XCTAssertTrue(t.contains("graph 'mlp-digits': 3 nodes"))
        XCTAssertTrue(t.contains("inputs:  input [N, 64] float"))
    }

    func testInspectJSON() throws {
        let r = try run(["inspect", "--json", "--histogram", "--bins", "4", fixture("demo/mlp-digits.ckpt")])
        XCTAssertEqual(r.status, 0, r.stderr)
        let j = try XCTUnwrap(try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any])
        XCTAssertEqual(j["schema"] as? String, "aicompress.inspect/1")
        XCTAssertEqual(j["file_bytes"] as? Int, 10_508)
        let totals = try XCTUnwrap(j["totals"] as? [String: Any])
        XCTAssertEqual(totals["parameters"] as? Int, 2410)
        XCTAssertEqual(totals["bytes"] as? Int, 9640)
        XCTAssertEqual(totals["zeros"] as? Int, 50)
        XCTAssertEqual(totals["bits_per_weight"] as? Double, 32)
        let tensors = try XCTUnwrap(j["tensors"] as? [[String: Any]])
        XCTAssertEqual(tensors.map { $0["name"] as? String }, ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"])
        XCTAssertEqual(tensors[0]["shape"] as? [Int], [32, 64])
        XCTAssertEqual(tensors[0]["zeros"] as? Int, 50)
        let hist = try XCTUnwrap(tensors[0]["histogram"] as? [String: Any])
        XCTAssertEqual((hist["counts"] as? [Int])?.reduce(0, +), 2048)
        let graph = try XCTUnwrap(j["graph"] as? [String: Any])
        XCTAssertEqual(graph["op_counts"] as? [String: Int], ["Gemm": 2, "Relu": 1])
    }

    func testConvertRoundTripProvenanceAndDeterminism() throws {
        let dir = try tempDir()
        let a = dir + "/a.ckpt", b = dir + "/b.ckpt"
        XCTAssertEqual(try run(["convert", fixture("demo/mlp-digits.ckpt"), a]).status, 0)
        XCTAssertEqual(try run(["convert", fixture("demo/mlp-digits.ckpt"), b]).status, 0)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: a)), try Data(contentsOf: URL(fileURLWithPath: b)), "deterministic")
        let j = try XCTUnwrap(try JSONSerialization.jsonObject(with: try run(["inspect", "--json", a]).stdout) as? [String: Any])
        let meta = try XCTUnwrap(j["metadata"] as? [String: String])
        XCTAssertEqual(meta["aicompress.version"], "0.1.0")
        XCTAssertEqual(meta["aicompress.input.bytes"], "10508")
        XCTAssertEqual(meta["aicompress.input.format"], "ckpt")
        XCTAssertEqual(meta["demo.test_accuracy"], "0.9733", "metadata is carried over")
        let crc = try XCTUnwrap(meta["aicompress.input.crc32"])
        XCTAssertEqual(meta["aicompress.step.000"], "convert from=ckpt to=ckpt input.crc32=\(crc)")
        // A second conversion appends a step.
        let c = dir + "/c.ckpt"
        XCTAssertEqual(try run(["convert", a, c]).status, 0)
        let j2 = try XCTUnwrap(try JSONSerialization.jsonObject(with: try run(["inspect", "--json", c]).stdout) as? [String: Any])
        let meta2 = try XCTUnwrap(j2["metadata"] as? [String: String])
        XCTAssertNotNil(meta2["aicompress.step.001"])
        XCTAssertEqual(meta2["aicompress.step.000"], meta["aicompress.step.000"])
        // Tensor statistics are unchanged.
        let before = try XCTUnwrap(try JSONSerialization.jsonObject(with: try run(["inspect", "--json", fixture("demo/mlp-digits.ckpt")]).stdout) as? [String: Any])
        XCTAssertEqual((before["tensors"] as? NSArray), (j2["tensors"] as? NSArray))
    }

    /// A real pipe between two processes: convert writes to stdout, inspect reads stdin.
    func testPipeline() throws {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: fixture("demo/mlp-digits.ckpt")))
        let converted = try run(["convert", "-", "-"], stdin: bytes)
        XCTAssertEqual(converted.status, 0, converted.stderr)
        XCTAssertTrue(converted.stderr.isEmpty, "diagnostics only on error")
        let inspected = try run(["inspect", "--json", "-"], stdin: converted.stdout)
        XCTAssertEqual(inspected.status, 0, inspected.stderr)
        let j = try XCTUnwrap(try JSONSerialization.jsonObject(with: inspected.stdout) as? [String: Any])
        XCTAssertEqual((j["totals"] as? [String: Any])?["parameters"] as? Int, 2410)
        XCTAssertEqual(j["file_bytes"] as? Int, converted.stdout.count)

        // Through a shell pipe with a failing first stage: the second stage sees no model.
        let text = try shell("\"$bin\" convert /no/such/file - | \"$bin\" inspect -; echo \"status=${PIPESTATUS[0]},${PIPESTATUS[1]}\"").text
        XCTAssertEqual(text, "status=66,65\n", "first stage: no input; second stage: empty stream rejected")
    }

    func testExitCodesAndOneLineErrors() throws {
        let dir = try tempDir()
        let missing = try run(["inspect", dir + "/missing.ckpt"])
        XCTAssertEqual(missing.status, 66)
        XCTAssertEqual(missing.stderr, "aicompress: error: \(dir)/missing.ckpt: cannot open: No such file or directory\n")

        let bad = try run(["inspect", fixture("malformed/crc-mismatch.ckpt")])
        XCTAssertEqual(bad.status, 65)
        XCTAssertEqual(bad.stderr, "aicompress: error: \(fixture("malformed/crc-mismatch.ckpt")): tensor 'b': CRC-32 mismatch for data at offset 128: stored 0xf66072af, computed 0xec5be105\n")

        let unknown = try run(["inspect", "-"], stdin: Data("hello".utf8))
        XCTAssertEqual(unknown.status, 65)
        XCTAssertTrue(unknown.stderr.hasPrefix("aicompress: error: <stdin>: unknown file format"))

        XCTAssertEqual(try run(["inspect"]).status, 64)
        XCTAssertEqual(try run(["inspect", "--bins", "0", "--histogram", fixture("valid/small.ckpt")]).status, 64)
        XCTAssertEqual(try run(["convert", fixture("valid/small.ckpt"), "x.ckpt", "--format", "zip"]).status, 64)

        let noDir = try run(["convert", fixture("valid/small.ckpt"), dir + "/no/such/out.ckpt"])
        XCTAssertEqual(noDir.status, 73)

        // The input is never overwritten.
        let copy = dir + "/m.ckpt"
        try FileManager.default.copyItem(atPath: fixture("valid/small.ckpt"), toPath: copy)
        let same = try run(["convert", copy, copy])
        XCTAssertEqual(same.status, 73)
        XCTAssertTrue(same.stderr.contains("never overwrites its input"))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: copy)), try Data(contentsOf: URL(fileURLWithPath: fixture("valid/small.ckpt"))))
    }

    /// Malformed input to convert leaves no output file at all.
    func testFailedConvertLeavesNothing() throws {
        let dir = try tempDir()
        let r = try run(["convert", fixture("malformed/tensor-gap.ckpt"), dir + "/out.ckpt"])
        XCTAssertEqual(r.status, 65)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), [])
    }

    /// Writing into a closed pipe is an I/O error (74), not a crash by SIGPIPE.
    func testClosedStdoutIsAnIOError() throws {
        let text = try shell("\"$bin\" convert '\(fixture("demo/mlp-digits.ckpt"))' - | head -c 1 >/dev/null; echo \"${PIPESTATUS[0]}\"").text
        // Either the whole file fit in the pipe before head exited (0) or the write failed (74).
        XCTAssertTrue(["0\n", "74\n"].contains(text), text)
    }
}

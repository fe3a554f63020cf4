import AICompressCore
import AICompressFormats
import Foundation
import XCTest

final class QuantizeCLITests: CLITestCase {

    func testListShowsEverySchemeWithBits() throws {
        let r = try run(["quantize", "--list"])
        XCTAssertEqual(r.status, 0, r.stderr)
        for scheme in ["int8 ", "uint8 ", "int4 ", "uint4 ", "fp16 ", "bf16 "] { XCTAssertTrue(r.text.contains(scheme), scheme) }
        XCTAssertTrue(r.text.contains("8.008"), "int8 per-channel bits per weight on [256, 4096]")
        XCTAssertTrue(r.text.contains("5.000"), "int4 g32")
    }

    func testQuantizeReportAndInspect() throws {
        let dir = try tempDir()
        let out = dir + "/q.ckpt", report = dir + "/r.json"
        let r = try run(["quantize", "--int8", "--report-json", report, fixture("demo/mlp-digits.ckpt"), out])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(tableRow("fc1.weight", in: r.stderr)?.prefix(5), ["fc1.weight", "int8", "per-channel", "(axis", "0)"], r.stderr)
        XCTAssertTrue(r.stderr.contains("2 tensors changed, 2 left as they were"))
        let j = try jsonObject(atPath: report)
        XCTAssertEqual(j["schema"] as? String, "aicompress.pass-report/1")
        XCTAssertEqual(try tensor("fc1.weight", in: j)["scheme"] as? String, "int8 per-channel (axis 0)")
        let totals = try XCTUnwrap(j["totals"] as? [String: Any])
        XCTAssertEqual(totals["tensors_changed"] as? Int, 2)
        XCTAssertEqual(totals["tensors_untouched"] as? Int, 2)
        XCTAssertEqual(totals["bytes_before"] as? Int, 9640)
        XCTAssertEqual(totals["bytes_after"] as? Int, 2048 + 32 * 4 + 128 + 320 + 10 * 4 + 40)
        let inspect = try JSONSerialization.jsonObject(with: try run(["inspect", "--json", out]).stdout) as! [String: Any]
        let tensors = inspect["tensors"] as! [[String: Any]]
        XCTAssertEqual(tensors[0]["encoding"] as? String, "int8 per-channel (axis 0)")
        XCTAssertEqual(tensors[0]["bytes"] as? Int, 2176)
        let meta = inspect["metadata"] as! [String: String]
        XCTAssertTrue(meta["aicompress.step.000"]!.hasPrefix("quantize scheme=int8 granularity=per-channel symmetric=true clip=minmax input.crc32="))
        // dequantize brings floats back.
        let back = dir + "/back.ckpt"
        let dq = try run(["dequantize", out, back])
        XCTAssertEqual(dq.status, 0, dq.stderr)
        // The report says the file grows (it once said "0.27x smaller").
        XCTAssertTrue(dq.stderr.contains("x larger)"), dq.stderr)
        XCTAssertFalse(dq.stderr.contains("x smaller)"), dq.stderr)
        let d = try JSONSerialization.jsonObject(with: try run(["inspect", "--json", back]).stdout) as! [String: Any]
        XCTAssertEqual((d["tensors"] as! [[String: Any]])[0]["encoding"] as? String, "dense")
    }

    func testPipeAndDeterminism() throws {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: fixture("demo/mlp-digits.ckpt")))
        let a = try run(["quantize", "-q", "--int4", "-", "-"], stdin: bytes)
        let b = try run(["quantize", "-q", "--int4", "-", "-"], stdin: bytes)
        XCTAssertEqual(a.status, 0, a.stderr)
        XCTAssertEqual(a.stdout, b.stdout, "byte-identical")
        XCTAssertTrue(a.stderr.isEmpty)
        let inspected = try run(["inspect", "-"], stdin: a.stdout)
        XCTAssertTrue(inspected.text.contains("f32/int4 group 32 (axis 1)"), inspected.text)
    }

    func testUsageErrors() throws {
        let m = fixture("demo/mlp-digits.ckpt")
        let dir = try tempDir()
        let out = dir + "/never-written.ckpt"
        for args in [["--per-tensor", "--group-size", "32"], ["--fp16", "--per-channel"], ["--clip", "percentile:20"],
                     ["--clip", "bogus"], ["--symmetric", "--asymmetric"], ["--include", "nomatch*"], ["--group-size", "0"]] {
            let r = try run(["quantize"] + args + [m, out])
            XCTAssertEqual(r.status, 64, "\(args): \(r.stderr)")
            XCTAssertTrue(r.stderr.hasPrefix("aicompress: error:") || r.stderr.contains("Error:"), r.stderr)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), [], "nothing written, not even a temporary file")
    }

    func testNaNWeightsNameTheTensor() throws {
        let dir = try tempDir()
        let path = dir + "/nan.ckpt"
        var v = [Float](repeating: 0.5, count: 16)
        v[5] = .nan
        try ModelIO.write(try Model(tensors: [try Tensor(name: "layer.w", shape: [4, 4], floats: v)]), to: path, format: .checkpoint)
        let r = try run(["quantize", "--int8", path, dir + "/out.ckpt"])
        XCTAssertEqual(r.status, 65)
        XCTAssertEqual(r.stderr, "aicompress: error: \(path): tensor 'layer.w': 1 NaN or infinite values; cannot quantize\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/out.ckpt"))
    }
}

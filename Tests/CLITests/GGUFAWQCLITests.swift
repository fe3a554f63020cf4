import AICompressCore
import AICompressFormats
import Foundation
import XCTest

/// `aicompress quantize --gguf TYPE --method awq` on the gguf-py LLaMA fixture (2 blocks,
/// embedding 64, feed-forward 96): round-to-nearest's tensors, types and sizes, the norms
/// folded (f32, moved), a KL divergence from the F32 model below round-to-nearest's, the same
/// bytes twice, and the refusals.
final class GGUFAWQCLITests: CLITestCase {
    static func calibrationText(_ dir: String) throws -> String {
        let words = ["the", "model", "weights", "are", "quantized", "one", "block", "at", "a", "time", "with", "calibration", "text", "and", "scales"]
        let path = dir + "/awq-calib.txt"
        try (0..<400).map { words[($0 * 7 + $0 / 13) % words.count] }.joined(separator: " ").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func kld(_ model: String, _ text: String, base: String) throws -> Double {
        let r = try run(["evaluate", model, "--text", text, "--context", "16", "--compare", base, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any]
        let divergence = json?["kl_divergence"] as? [String: Any]
        return try XCTUnwrap(divergence?["mean"] as? Double)
    }

    func testAWQFileHasRoundToNearestLayoutFoldedNormsAndIsDeterministic() throws {
        let dir = try tempDir(), input = fixture("gguf/llama/tiny-llama.gguf"), text = try Self.calibrationText(dir)
        let flags = ["--method", "awq", "--calibration", text, "--calibration-tokens", "16", "--calibration-chunks", "6"]
        for type in ["Q4_0", "Q4_K_M"] {
            let c = try compareCalibratedGGUF(type: type, flags: flags, input: input, dir: dir, reportContains: " awq ")
            let norms = c.changed.filter { $0.contains("attn_norm") || $0.contains("ffn_norm") }
            XCTAssertTrue(c.changed.allSatisfy { $0.hasPrefix("blk.") }, "\(type): only block tensors move: \(c.changed.sorted())")
            XCTAssertEqual(c.changed.count - norms.count, 14, "\(type): every block projection moved by AWQ")
            XCTAssertEqual(norms.count, 4, "\(type): both norms of both blocks carry scales")
            let awq = try kld(c.path, text, base: input), plain = try kld(c.roundToNearest, text, base: input)
            // A fold in the wrong direction multiplies the KL divergence many times over; measured 0.79x for Q4_0.
            XCTAssertLessThan(awq, 0.95 * plain, "\(type): AWQ's KL divergence \(awq), round-to-nearest's \(plain)")
        }
    }

    func testRefusals() throws {
        let dir = try tempDir(), input = fixture("gguf/llama/tiny-llama.gguf"), text = try Self.calibrationText(dir)
        let flags = ["--method", "awq", "--calibration", text, "--calibration-tokens", "16"]
        for extra in [["--imatrix", text], ["--act-order"], ["--damp", "0.1"], ["--awq-grid", "0"], ["--awq-grid", "101"]] {
            let r = try run(["quantize", "--gguf", "Q4_0"] + extra + flags + [input, dir + "/x.gguf"])
            XCTAssertEqual(r.status, 64, "\(extra): \(r.stderr)")
        }
        for other in [["--gguf", "Q4_0", "--method", "gptq", "--calibration", text], ["--int4"]] {
            let r = try run(["quantize", "--awq-grid", "10"] + other + [input, dir + "/x.gguf"])
            XCTAssertEqual(r.status, 64, "\(other): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("--awq-grid goes with --method awq"), r.stderr)
        }
                let noCalibration = try run(["quantize", "--gguf", "Q4_0", "--method", "awq", input, dir + "/x.gguf"])
        XCTAssertEqual(noCalibration.status, 64, noCalibration.stderr)
        XCTAssertTrue(noCalibration.stderr.contains("--method awq needs --calibration"), noCalibration.stderr)
        let noGGUF = try run(["quantize", "--int4"] + flags + [input, dir + "/x.gguf"])
        XCTAssertEqual(noGGUF.status, 64, noGGUF.stderr)
        XCTAssertTrue(noGGUF.stderr.contains("--method awq goes with --gguf"), noGGUF.stderr)
        try "the model".write(toFile: dir + "/short.txt", atomically: true, encoding: .utf8)
        let tooShort = try run(["quantize", "--gguf", "Q4_0", "--method", "awq", "--calibration", dir + "/short.txt", input, dir + "/x.gguf"])
        XCTAssertEqual(tooShort.status, 65, tooShort.stderr)
        XCTAssertEqual(tooShort.stderr.split(separator: "\n").count, 1, tooShort.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/x.gguf"))
    }
}

import AICompressCore
import AICompressFormats
import Foundation
import XCTest

/// `aicompress quantize --gguf TYPE --method gptq` on the gguf-py LLaMA fixture (2 blocks,
/// embedding 64, feed-forward 96): llama.cpp's types and sizes, weights moved by GPTQ, the same
/// bytes twice, and the refusals.
final class GGUFGPTQCLITests: CLITestCase {
    func calibrationText(_ dir: String, words: Int = 400) throws -> String {
        let vocabulary = ["the", "model", "weights", "are", "quantized", "one", "block", "at", "a", "time", "with", "calibration", "text"]
        var g = SplitMix64(seed: 5)
        let text = (0..<words).map { _ in vocabulary[Int(g.next() % UInt64(vocabulary.count))] }.joined(separator: " ")
        let path = dir + "/calib.txt"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func testGPTQFileHasRoundToNearestLayoutAndIsDeterministic() throws {
        let dir = try tempDir(), input = fixture("gguf/llama/tiny-llama.gguf"), text = try calibrationText(dir)
        // The head rounded (GGUFGPTQHeadCLITests covers GPTQ on it).
        let flags = ["--method", "gptq", "--calibration", text, "--calibration-tokens", "16", "--calibration-chunks", "6", "--head", "rtn"]
        for type in ["Q4_0", "Q8_0"] {
            let rtn = try run(["quantize", "--gguf", type, "-q", input, dir + "/rtn.gguf"])
            XCTAssertEqual(rtn.status, 0, rtn.stderr)
            let a = try run(["quantize", "--gguf", type] + flags + [input, dir + "/a.gguf"])
            XCTAssertEqual(a.status, 0, a.stderr)
            XCTAssertTrue(a.stderr.contains("ggml \(type) gptq"), a.stderr)
            let b = try run(["quantize", "--gguf", type] + flags + ["-q", input, dir + "/b.gguf"])
            XCTAssertEqual(b.status, 0, b.stderr)
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/a.gguf")), try Data(contentsOf: URL(fileURLWithPath: dir + "/b.gguf")))
            let ours = try ModelIO.read(path: dir + "/a.gguf").model, ref = try ModelIO.read(path: dir + "/rtn.gguf").model
            XCTAssertEqual(ours.tensors.map(\.name), ref.tensors.map(\.name))
            var moved = 0
            for (o, r) in zip(ours.tensors, ref.tensors) {
                XCTAssertEqual(o.encoding, r.encoding, o.name)
                XCTAssertEqual(o.shape, r.shape, o.name)
                XCTAssertEqual(o.storedBytes, r.storedBytes, o.name)
                let isBlock = o.name.hasPrefix("blk.") && !o.name.contains("norm")
                let same = o.data.withUnsafeBytes { x in r.data.withUnsafeBytes { y in x.elementsEqual(y) } }
                if isBlock { if !same { moved += 1 } } else { XCTAssertTrue(same, "\(o.name) stays round-to-nearest") }
            }
            XCTAssertEqual(moved, 14, "\(type): every block projection moved by GPTQ")
        }
    }

    func testRefusals() throws {
        let dir = try tempDir(), input = fixture("gguf/llama/tiny-llama.gguf"), text = try calibrationText(dir)
        let flags = ["--method", "gptq", "--calibration", text, "--calibration-tokens", "16"]
        let q2 = try run(["quantize", "--gguf", "Q4_0", "--tensor-type", "ffn_up=IQ4_NL", "--pure"] + flags + [input, dir + "/x.gguf"])
        XCTAssertEqual(q2.status, 64, q2.stderr)
        XCTAssertTrue(q2.stderr.contains("blk.0.ffn_up.weight") && q2.stderr.contains("IQ4_NL"), q2.stderr)
        XCTAssertEqual(q2.stderr.split(separator: "\n").count, 1, q2.stderr)
        let imatrix = try run(["quantize", "--gguf", "Q4_0", "--imatrix", text] + flags + [input, dir + "/x.gguf"])
        XCTAssertEqual(imatrix.status, 64, imatrix.stderr)
        XCTAssertEqual(try run(["quantize", "--gguf", "Q4_0", "--calibration", text, "--act-order", input, dir + "/x.gguf"]).status, 64)
        XCTAssertEqual(try run(["quantize", "--gguf", "Q4_0", "--calibration-tokens", "8"] + flags.dropLast(2) + [input, dir + "/x.gguf"]).status, 64)
        let short = try calibrationText(dir, words: 3)
        let tooShort = try run(["quantize", "--gguf", "Q4_0", "--method", "gptq", "--calibration", short, input, dir + "/x.gguf"])
        XCTAssertEqual(tooShort.status, 65, tooShort.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/x.gguf"))
    }
}

import AICompressCore
import AICompressFormats
import Foundation
import XCTest

/// `aicompress quantize --gguf TYPE --method gptq` on the gguf-py LLaMA fixture (2 blocks,
/// embedding 64, feed-forward 96): llama.cpp's types and sizes, weights moved by GPTQ, the same
/// bytes twice, IQ4_NL through --tensor-type, and the refusals.
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
        // The head and the embedding rounded (GGUFGPTQHeadCLITests and GGUFGPTQEmbeddingCLITests cover GPTQ on them).
        let flags = ["--method", "gptq", "--calibration", text, "--calibration-tokens", "16", "--calibration-chunks", "6", "--head", "rtn",
                     "--embedding", "rtn"]
        for type in ["Q4_0", "Q8_0"] {
            let c = try compareCalibratedGGUF(type: type, flags: flags, input: input, dir: dir, reportContains: "ggml \(type) gptq")
            XCTAssertTrue(c.changed.allSatisfy { $0.hasPrefix("blk.") && !$0.contains("norm") }, "\(type): only block projections move: \(c.changed.sorted())")
            XCTAssertEqual(c.changed.count, 14, "\(type): every block projection moved by GPTQ")
        }
    }

    /// IQ4_NL through `--tensor-type` (the fixture's 64-wide rows fit its 32-value blocks): the
    /// file has round to nearest's types and sizes, and GPTQ moved exactly the IQ4_NL tensors'
    /// values among the block projections (`--pure` keeps the others Q4_0, also swept).
    func testIQ4_NLThroughTensorTypeIsSwept() throws {
        let dir = try tempDir(), input = fixture("gguf/llama/tiny-llama.gguf"), text = try calibrationText(dir)
        let types = ["--tensor-type", "ffn_up=IQ4_NL", "--pure"]
        let rtn = try run(["quantize", "--gguf", "Q4_0"] + types + ["-q", input, dir + "/rtn.gguf"])
        XCTAssertEqual(rtn.status, 0, rtn.stderr)
        let flags = ["--method", "gptq", "--calibration", text, "--calibration-tokens", "16", "--head", "rtn", "--embedding", "rtn", "-q"]
        let g = try run(["quantize", "--gguf", "Q4_0"] + types + flags + [input, dir + "/g.gguf"])
        XCTAssertEqual(g.status, 0, g.stderr)
        let ours = try ModelIO.read(path: dir + "/g.gguf").model, ref = try ModelIO.read(path: dir + "/rtn.gguf").model
        var iq4 = 0
        for (o, r) in zip(ours.tensors, ref.tensors) {
            XCTAssertEqual(o.encoding, r.encoding, o.name)
            XCTAssertEqual(o.storedBytes, r.storedBytes, o.name)
            if o.ggmlType == .iq4_NL {
                iq4 += 1
                XCTAssertTrue(o.name.hasSuffix("ffn_up.weight"), o.name)
                XCTAssertFalse(o.data.withUnsafeBytes { x in r.data.withUnsafeBytes { y in x.elementsEqual(y) } }, "\(o.name) moved by GPTQ")
            }
        }
        XCTAssertEqual(iq4, 2, "both blocks' ffn_up are IQ4_NL")
    }

    func testRefusals() throws {
        let dir = try tempDir(), input = fixture("gguf/llama/tiny-llama.gguf"), text = try calibrationText(dir)
        let flags = ["--method", "gptq", "--calibration", text, "--calibration-tokens", "16"]
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

import AICompressCore
import AICompressFormats
import Foundation
import XCTest

/// `quantize --gguf TYPE` of a GGUF that is already quantized: refused as llama-quantize refuses
/// it, unless `--allow-requantize`; F16 inputs are not quantized; tensors already in the planned
/// type are copied.
final class GGUFRequantizeCLITests: CLITestCase {
    /// tiny-llama quantized to Q8_0 (every matrix Q8_0, norms F32), in `dir`.
    func q8(_ dir: String) throws -> String {
        let path = dir + "/q8.gguf"
        let r = try run(["quantize", "-q", "--gguf", "Q8_0", fixture("gguf/llama/tiny-llama.gguf"), path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try ModelIO.read(path: path).model.tensor(named: "token_embd.weight")?.encoding, .ggml(.q8_0))
        return path
    }

    func testQuantizedInputIsRefusedWithoutTheFlag() throws {
        let dir = try tempDir(), input = try q8(dir)
        let r = try run(["quantize", "--gguf", "Q4_K_M", input, dir + "/x.gguf"])
        // token_embd comes first in the file; rows of 64 make Q4_K_M's Q4_K fall back to Q5_0.
        assertRefused(r, prefix: "\(input): tensor 'token_embd.weight' is already Q8_0: requantizing it to Q5_0 ",
                      detail: "--allow-requantize", output: dir + "/x.gguf")
        // --dry-run writes nothing and shows the plan either way.
        XCTAssertEqual(try run(["quantize", "--gguf", "Q4_K_M", "--dry-run", input]).status, 0)
        // The flag goes with --gguf only.
        let stray = try run(["quantize", "--int8", "--allow-requantize", input, dir + "/x.ckpt"])
        XCTAssertEqual(stray.status, 64, stray.stderr)
        XCTAssertTrue(stray.stderr.contains("--allow-requantize go with --gguf TYPE"), stray.stderr)
    }

    /// With the flag each requantized tensor is what quantizing the input dequantized to F32
    /// gives, byte for byte (the rows are decoded, then quantized as any F32 row); a tensor already
    /// in its planned type is the input's bytes. The recipe records the flag, and replays from
    /// the F32 original.
    func testAllowedRequantizeEqualsQuantizingTheDequantizedInput() throws {
        let dir = try tempDir(), input = try q8(dir)
        let r = try run(["quantize", "-q", "--gguf", "Q4_K_M", "--allow-requantize", input, dir + "/a.gguf"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try run(["dequantize", "-q", input, dir + "/f32.gguf"]).status, 0)
        XCTAssertEqual(try run(["quantize", "-q", "--gguf", "Q4_K_M", dir + "/f32.gguf", dir + "/ref.gguf"]).status, 0)
        let (source, out, ref) = (try ModelIO.read(path: input).model, try ModelIO.read(path: dir + "/a.gguf").model,
                                  try ModelIO.read(path: dir + "/ref.gguf").model)
        var requantized = 0, copied = 0
        for t in out.tensors {
            let from = try XCTUnwrap(source.tensor(named: t.name))
            if from.encoding == t.encoding {
                XCTAssertEqual(t, from, "\(t.name): copied")
                copied += 1
            } else {
                XCTAssertEqual(t, ref.tensor(named: t.name), "\(t.name): as from the dequantized input")
                requantized += 1
            }
        }
        // token_embd and 12 projections become Q5_0 (Q4_K's fallback on rows of 64); the last
        // block's attn_v and ffn_down (Q6_K's fallback) and output.weight stay Q8_0, the 5 norms F32.
        XCTAssertEqual(requantized, 13)
        XCTAssertEqual(copied, 8)
        let recipe = try run(["recipe", dir + "/a.gguf"])
        XCTAssertTrue(recipe.text.contains("allow-requantize: true"), recipe.text)
        try recipe.text.write(toFile: dir + "/r.yaml", atomically: true, encoding: .utf8)
        let replay = try run(["apply", "-q", dir + "/r.yaml", fixture("gguf/llama/tiny-llama.gguf"), dir + "/b.gguf"])
        XCTAssertEqual(replay.status, 0, replay.stderr)
        // Its provenance names its own input (tiny-llama); the tensors are the same.
        XCTAssertEqual(try ModelIO.read(path: dir + "/b.gguf").model.tensors, out.tensors)
    }

    /// F16 tensors are not quantized: no flag needed. A Q8_0 input quantized to Q8_0 is copied.
    func testF16InputAndSameTypeNeedNoFlag() throws {
        let dir = try tempDir(), input = try q8(dir)
        XCTAssertEqual(try run(["quantize", "-q", "--gguf", "F16", fixture("gguf/llama/tiny-llama.gguf"), dir + "/f16.gguf"]).status, 0)
        XCTAssertEqual(try ModelIO.read(path: dir + "/f16.gguf").model.tensor(named: "blk.0.attn_q.weight")?.dtype, .f16)
        let f16 = try run(["quantize", "-q", "--gguf", "Q4_K_M", dir + "/f16.gguf", dir + "/q4.gguf"])
        XCTAssertEqual(f16.status, 0, f16.stderr)
        XCTAssertEqual(try ModelIO.read(path: dir + "/q4.gguf").model.tensor(named: "blk.0.attn_q.weight")?.encoding, .ggml(.q5_0))
        let same = try run(["quantize", "-q", "--gguf", "Q8_0", input, dir + "/same.gguf"])
        XCTAssertEqual(same.status, 0, same.stderr)
        let (a, b) = (try ModelIO.read(path: input).model, try ModelIO.read(path: dir + "/same.gguf").model)
        XCTAssertEqual(a.tensors, b.tensors, "every tensor copied")
    }

    /// GPTQ and AWQ re-encode the block projections even into their own type: refused before
    /// any calibration without the flag.
    func testCalibratedMethodsAreRefusedOnQuantizedInput() throws {
        let dir = try tempDir(), input = try q8(dir)
        // Refused before the text is tokenized: any text will do.
        let text = dir + "/calib.txt"
        try String(repeating: "the weights are quantized one block at a time ", count: 40).write(toFile: text, atomically: true, encoding: .utf8)
        for method in ["gptq", "awq"] {
            let r = try run(["quantize", "--gguf", "Q8_0", "--method", method, "--calibration", text, "--calibration-tokens", "16",
                             input, dir + "/x.gguf"])
            XCTAssertEqual(r.status, 64, "\(method): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("\(input): tensor 'blk.0.attn_q.weight' is already Q8_0: requantizing it to Q8_0"),
                          "\(method): \(r.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/x.gguf"))
        }
    }
}

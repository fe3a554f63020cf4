import AICompressCore
import AICompressFormats
import Foundation
import XCTest

/// `aicompress quantize --gguf` on the gguf-py LLaMA fixture (n_embd 64: every K-quant row
/// falls back), as llama-quantize's users call it.
final class GGUFQuantizeCLITests: CLITestCase {
    func testQ4KMPlanOutputAndDeterminism() throws {
        let dir = try tempDir(), input = fixture("gguf/llama/tiny-llama.gguf")
        let dry = try run(["quantize", "--gguf", "Q4_K_M", "--dry-run", input, dir + "/never.gguf"])
        XCTAssertEqual(dry.status, 0, dry.stderr)
        XCTAssertTrue(dry.text.contains("dry run, nothing written"), dry.text)
        XCTAssertTrue(dry.text.contains("Q5_0 (fallback)"), dry.text)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/never.gguf"))
        for name in ["a.gguf", "b.gguf", "c.ckpt"] {
            let r = try run(["quantize", "--gguf", "Q4_K_M", input, dir + "/" + name])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(r.stderr.contains("ggml Q8_0"), r.stderr)
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/a.gguf")), try Data(contentsOf: URL(fileURLWithPath: dir + "/b.gguf")))
        for path in [dir + "/a.gguf", dir + "/c.ckpt"] {
            let model = try ModelIO.read(path: path).model
            // Rows of 64 are not whole Q4_K blocks: Q5_0; the output's rows: Q8_0; norms stay F32.
            XCTAssertEqual(model.tensor(named: "blk.0.attn_q.weight")?.encoding, .ggml(.q5_0), path)
            XCTAssertEqual(model.tensor(named: "output.weight")?.encoding, .ggml(.q8_0), path)
            XCTAssertEqual(model.tensor(named: "blk.0.attn_norm.weight")?.encoding, .dense, path)
            if path.hasSuffix(".ckpt") { XCTAssertEqual(model.metadata["gguf.file_type"], "15", "the ftype travels to GGUF") }
        }
        let onnx = try run(["convert", dir + "/c.ckpt", dir + "/x.onnx"])
        XCTAssertEqual(onnx.status, 65, onnx.stderr)
        XCTAssertTrue(onnx.stderr.contains("dequantize"), onnx.stderr)
        let back = try run(["dequantize", dir + "/c.ckpt", dir + "/d.onnx"])
        XCTAssertEqual(back.status, 0, back.stderr)
    }

    /// The report's sizes are what the GGUF file stores (blocks, not f32); IQ4_XS falls back to
    /// IQ4_NL on rows of 64; `inspect` lists the GGUF pairs one a line, arrays by their length.
    func testReportSizesIQ4XSAndInspect() throws {
        let dir = try tempDir(), input = fixture("gguf/llama/tiny-llama.gguf")
        let r = try run(["quantize", "--gguf", "IQ4_XS", input, dir + "/x.gguf"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let model = try ModelIO.read(path: dir + "/x.gguf").model
        XCTAssertEqual(model.tensor(named: "blk.0.attn_q.weight")?.encoding, .ggml(.iq4_NL))
        let stored = model.tensors.reduce(0) { $0 + $1.storedBytes }
        var digits = String(stored), grouped = ""
        while digits.count > 3 {
            grouped = "," + digits.suffix(3) + grouped
            digits.removeLast(3)
        }
        XCTAssertTrue(r.stderr.contains("(\(digits + grouped) bytes) of tensor data"), "\(stored): \(r.stderr)")
        let shown = try run(["inspect", input])
        XCTAssertEqual(shown.status, 0, shown.stderr)
        XCTAssertTrue(shown.text.contains("    tokenizer.ggml.tokens = [") && shown.text.contains(" strings]"), shown.text)
        XCTAssertTrue(shown.text.contains("    general.architecture = \"llama\""), shown.text)
        XCTAssertFalse(shown.text.split(separator: "\n").contains { $0.count > 200 }, "no base64 line")
    }

    func testRefusesBadTypesAndStrayFlags() throws {
        let input = fixture("gguf/llama/tiny-llama.gguf"), dir = try tempDir()
        XCTAssertEqual(try run(["quantize", "--gguf", "Q3_K_XL", input, dir + "/x.gguf"]).status, 64)
        XCTAssertEqual(try run(["quantize", "--pure", input, dir + "/x.gguf"]).status, 64)
        XCTAssertEqual(try run(["quantize", "--gguf", "Q4_0", "--tensor-type", "attn_q=Q9_9", input, dir + "/x.gguf"]).status, 64)
        // GPTQ needs its calibration text: refused, never silently round-to-nearest.
        let gptq = try run(["quantize", "--gguf", "Q4_0", "--method", "gptq", input, dir + "/x.gguf"])
        XCTAssertEqual(gptq.status, 64, gptq.stderr)
        XCTAssertTrue(gptq.stderr.contains("--method gptq"), gptq.stderr)
        XCTAssertEqual(try run(["quantize", "--gguf", "Q4_0", "--act-order", input, dir + "/x.gguf"]).status, 64)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/x.gguf"))
        XCTAssertEqual(try run(["quantize", "--gguf", "Q4_0", "--pure", "--tensor-type", "attn_q=Q8_0", input, dir + "/x.gguf"]).status, 0)
        XCTAssertEqual(try ModelIO.read(path: dir + "/x.gguf").model.tensor(named: "blk.1.attn_q.weight")?.encoding, .ggml(.q8_0))
    }

    /// A model in which no tensor gets a ggml type (an skl2onnx MLP: its weights are called
    /// coefficients, not `…weight`) is refused, not written as a "Q4_0" file with nothing quantized.
    func testModelWithNothingToQuantizeIsRefused() throws {
        let dir = try tempDir()
        let r = try run(["quantize", "--gguf", "Q4_0", fixture("onnx/skl-mlp.onnx"), dir + "/x.gguf"])
        XCTAssertEqual(r.status, 64, r.stderr)
        XCTAssertTrue(r.stderr.contains("no weight matrix in the model gets a ggml type"), r.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), [])
    }
}

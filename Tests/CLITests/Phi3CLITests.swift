import AICompressCore
@testable import AICompressFormats
import Foundation
import XCTest

/// A phi3 GGUF (the tiny LLaMA fixture's weights with its q/k/v and gate/up fused, keys renamed
/// to phi3) through the commands: `evaluate` runs it (perplexity, and a Q4_K_M file of it against
/// it), `quantize --gguf Q4_K_M` keeps the fused tensors, `imatrix` files them under their own
/// names, and AWQ and a sequence past the sliding window are refused in one line with exit 65.
final class Phi3CLITests: CLITestCase {
    /// The phi3 file, written once per test into `dir`; window 0 writes no sliding window.
    func phi3(_ dir: String, window: Int = 0) throws -> String { try Self.phi3(dir, window: window) }

    /// The phi3 file; with `fuse` false, the same weights stored separately under
    /// `architecture` (qwen2: phi3's graph with separate tensors).
    static func phi3(_ dir: String, window: Int = 0, architecture: String = "phi3", fuse: Bool = true) throws -> String {
        let llama = try ModelIO.read(path: fixtures.appendingPathComponent("gguf/llama/tiny-llama.gguf").path).model
        var pairs = try GGUFModelMetadata.pairs(llama.metadata).map { kv -> GGUFKeyValue in
            if kv.key == "general.architecture" { return GGUFKeyValue(kv.key, .text(architecture)) }
            return kv.key.hasPrefix("llama.") ? GGUFKeyValue(architecture + "." + kv.key.dropFirst(6), kv.value) : kv
        }
        if window > 0 { pairs.append(GGUFKeyValue(architecture + ".attention.sliding_window", .uint32(UInt32(window)))) }
        var tensors = [Tensor]()
        for t in llama.tensors {
            let fused: (String, [String])?
            if !fuse {
                fused = nil
            } else if t.name.hasSuffix("attn_q.weight") {
                let p = t.name.dropLast("attn_q.weight".count)
                fused = (p + "attn_qkv.weight", ["q", "k", "v"].map { p + "attn_\($0).weight" })
            } else if t.name.hasSuffix("ffn_gate.weight") {
                let p = t.name.dropLast("ffn_gate.weight".count)
                fused = (p + "ffn_up.weight", [p + "ffn_gate.weight", p + "ffn_up.weight"])
            } else if t.name.hasSuffix("attn_k.weight") || t.name.hasSuffix("attn_v.weight") || t.name.hasSuffix("ffn_up.weight") {
                continue
            } else {
                fused = nil
            }
            guard let (name, parts) = fused else {
                tensors.append(t)
                continue
            }
            let ts = try parts.map { try XCTUnwrap(llama.tensor(named: $0)) }
            let rows = ts.reduce(0) { $0 + $1.shape.dims[0] }
            tensors.append(try Tensor(name: name, dtype: t.dtype, shape: Shape([rows, t.shape.dims[1]]), encoding: t.encoding,
                                      data: TensorData(bytes: ts.flatMap { $0.data.byteArray })))
        }
        var model = try Model(tensors: tensors)
        model.metadata = llama.metadata
        model.metadata[GGUFModelMetadata.kvKey] = Base64.encode(GGUFWriter.encodeMetadata(pairs))
        let path = dir + "/\(architecture)-\(window).gguf"
        try ModelIO.write(model, to: path, format: .gguf)
        return path
    }

    func perplexity(_ args: [String]) throws -> [String: Any] {
        let r = try run(["evaluate"] + args + ["--context", "16", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any])
    }

    func testEvaluateQuantizeImatrix() throws {
        let dir = try tempDir(), input = try phi3(dir), text = try GGUFAWQCLITests.calibrationText(dir)
        let f32 = try perplexity([input, "--text", text])
        let ppl = try XCTUnwrap((f32["perplexity"] as? [String: Any])?["value"] as? Double)
        XCTAssertTrue(ppl.isFinite && ppl > 1, "\(ppl)")
        let q4 = dir + "/q4.gguf"
        let q = try run(["quantize", "--gguf", "Q4_K_M", input, q4])
        XCTAssertEqual(q.status, 0, q.stderr)
        let written = try ModelIO.read(path: q4).model
        XCTAssertNotNil(written.tensor(named: "blk.0.attn_qkv.weight"))
        XCTAssertNil(written.tensor(named: "blk.0.attn_q.weight"))
        let compared = try perplexity([q4, "--text", text, "--compare", input])
        let kld = try XCTUnwrap((compared["kl_divergence"] as? [String: Any])?["mean"] as? Double)
        XCTAssertTrue(kld > 0 && kld < 1, "\(kld)")
        let im = try run(["imatrix", input, "--text", text, "-o", dir + "/im.gguf", "--context", "16", "--chunks", "4"])
        XCTAssertEqual(im.status, 0, im.stderr)
        let names = Set(try ModelIO.read(path: dir + "/im.gguf").model.tensors.map(\.name))
        XCTAssertTrue(names.contains("blk.1.attn_qkv.weight.in_sum2") && names.contains("blk.1.ffn_up.weight.counts"), "\(names.sorted())")
        XCTAssertFalse(names.contains { $0.contains("attn_q.") || $0.contains("ffn_gate") }, "\(names.sorted())")
    }

    func testRefusals() throws {
        let dir = try tempDir(), input = try phi3(dir), text = try GGUFAWQCLITests.calibrationText(dir)
        // GPTQ, Wanda, SparseGPT (Phi3CalibratedCLITests) and AWQ run on the fused weights.
        let awq = ["quantize", "--gguf", "Q4_K_M", "--method", "awq", "--calibration", text, "--calibration-tokens", "16"]
        let ran = try run(awq + [input, dir + "/x.gguf"])
        XCTAssertEqual(ran.status, 0, ran.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/x.gguf"))
        let windowed = try phi3(dir, window: 8)
        let r = try run(["evaluate", windowed, "--text", text, "--context", "16"])
        XCTAssertEqual(r.status, 65, r.stderr)
        XCTAssertTrue(r.stderr.contains("metadata key 'phi3.attention.sliding_window': is 8"), r.stderr)
    }
}

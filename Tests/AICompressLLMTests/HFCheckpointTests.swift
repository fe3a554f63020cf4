import AICompressCore
import AICompressFormats
import Foundation
import XCTest

@testable import AICompressLLM

/// A Hugging Face checkpoint run directly (unpermuted q/k, rotate_half rope, BF16 weights decoded
/// inside the products) against the same checkpoint converted to GGUF (q/k permuted by the
/// writer, llama.cpp's adjacent-pair rope): the same token ids and the same logits. The tiny
/// checkpoint (safetensors, config.json, a byte-level BPE tokenizer.json) is written at test time.
final class HFCheckpointTests: XCTestCase {
    static var config: [String: Any] {
        [
        "architectures": ["LlamaForCausalLM"], "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 264, "max_position_embeddings": 64,
        "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "hidden_act": "silu", "tie_word_embeddings": true,
        ]
    }
    static let text = Array("the hat the tether, then 42 the end".utf8)

    var folder = ""

    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "hfcheckpoint-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try ModelIO.write(try Self.checkpoint(seed: 21), to: folder + "/model.safetensors", format: .safetensors)
        try writeJSON(Self.config, "config.json")
        try writeJSON(Self.tokenizer(), "tokenizer.json")
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: folder) }

    func writeJSON(_ value: Any, _ name: String) throws {
        try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys]).write(to: URL(fileURLWithPath: folder + "/" + name))
    }

    /// Random HF-named tensors: 2-D BF16 (as many checkpoints ship), norms F32, tied embedding;
    /// `qwen3`: heads of 32 (q 128 wide over the 64-wide residual) with q/k norms spread from
    /// about 0.5 to 2 (`HFQwen3CheckpointTests`).
    static func checkpoint(seed: UInt64, qwen3: Bool = false) throws -> Model {
        var source = GaussianSource(seed: seed)
        func gauss(_ n: Int, _ scale: Float, _ mean: Float = 0) -> [Float] { source.values(n, scale, mean) }
        var tensors = [Tensor]()
        func matrix(_ name: String, _ rows: Int, _ cols: Int, _ scale: Float) throws {
            let bits = gauss(rows * cols, scale).map { UInt16(truncatingIfNeeded: $0.bitPattern >> 16) }
            tensors.append(try Tensor(name: name, dtype: .bf16, shape: Shape([rows, cols]), data: TensorData(values: bits)))
        }
        func vector(_ name: String, _ n: Int, _ scale: Float = 0.1) throws {
            tensors.append(try Tensor(name: name, shape: Shape([n]), floats: gauss(n, scale, 1)))
        }
        let q = qwen3 ? 128 : 64, kv = qwen3 ? 64 : 32
        try matrix("model.embed_tokens.weight", 264, 64, 0.3)
        for i in 0..<2 {
            let p = "model.layers.\(i)."
            try vector(p + "input_layernorm.weight", 64)
            try matrix(p + "self_attn.q_proj.weight", q, 64, 0.25)
            try matrix(p + "self_attn.k_proj.weight", kv, 64, 0.25)
            try matrix(p + "self_attn.v_proj.weight", kv, 64, 0.15)
            try matrix(p + "self_attn.o_proj.weight", 64, q, 0.1)
            if qwen3 {
                try vector(p + "self_attn.q_norm.weight", 32, 0.4)
                try vector(p + "self_attn.k_norm.weight", 32, 0.4)
            }
            try vector(p + "post_attention_layernorm.weight", 64)
            try matrix(p + "mlp.gate_proj.weight", 128, 64, 0.1)
            try matrix(p + "mlp.up_proj.weight", 128, 64, 0.1)
            try matrix(p + "mlp.down_proj.weight", 64, 128, 0.08)
        }
        try vector("model.norm.weight", 64)
        return try Model(tensors: tensors)
    }

    /// GPT-2-style byte-level BPE: the 256 byte tokens, two merges, one special token.
    static func tokenizer() -> [String: Any] {
        var vocab = [String: Int]()
        for b in 0..<256 { vocab[String(decoding: ByteEncoding.table[b], as: UTF8.self)] = b }
        vocab["\u{120}t"] = 256
        vocab["he"] = 257
        return [
            "version": "1.0", "normalizer": NSNull(), "post_processor": NSNull(), "decoder": NSNull(),
            "pre_tokenizer": ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true],
            "added_tokens": [["id": 258, "content": "<|endoftext|>", "special": true]],
            "model": ["type": "BPE", "vocab": vocab, "merges": ["\u{120} t", "h e"]],
        ]
    }

    func load() throws -> LanguageModel { try LanguageModel(huggingFace: try ModelIO.read(path: folder + "/model.safetensors")) }

    static func logits(_ lm: LanguageModel, _ tokens: [Int32]) throws -> [Float] {
        TextEvaluation.logits(lm.decoder, try lm.decoder.hiddenStates(tokens), rows: 0..<tokens.count)
    }

    static func relativeError(_ a: [Float], _ b: [Float]) -> Float {
        let scale = b.map { abs($0) }.max() ?? 1
        return (zip(a, b).map { abs($0 - $1) }.max() ?? .infinity) / scale
    }

    func testCheckpointEqualsConvertedGGUF() throws {
        let loaded = try ModelIO.read(path: folder + "/model.safetensors")
        let hf = try LanguageModel(huggingFace: loaded)
        XCTAssertEqual(hf.decoder.config.ropeStyle, .halves)
        XCTAssertEqual(hf.decoder.weights.layers[0].query.type, .bf16, "weights stay in their stored encoding")
        XCTAssertTrue(hf.decoder.weights.output.name == "token_embd.weight", "tied: the output is the embedding")
        let gguf = folder + "/model.gguf"
        try ModelIO.write(try HFLlamaConversion.prepared(loaded, for: .gguf).model, to: gguf, format: .gguf)
        let gg = try LanguageModel(model: try ModelIO.read(path: gguf).model)
        XCTAssertEqual(gg.decoder.config.ropeStyle, .adjacentPairs)

        let ids = try hf.tokenizer.tokenize(Self.text, addSpecial: true)
        XCTAssertEqual(ids, try gg.tokenizer.tokenize(Self.text, addSpecial: true))
        XCTAssertTrue(ids.contains(256) && ids.contains(257), "the merges apply: \(ids)")
        // gpt-2 words the|␣hat|␣the|␣tether|,|␣then|␣42|␣the|␣end: 2+4+2+5+1+3+3+2+4 tokens, no BOS
        XCTAssertEqual(ids.count, 26)

        let a = try Self.logits(hf, ids), b = try Self.logits(gg, ids)
        XCTAssertGreaterThan(b.map { abs($0) }.max() ?? 0, 0.5, "logits too flat to compare")
        XCTAssertLessThanOrEqual(Self.relativeError(a, b), 2e-5)
        XCTAssertLessThanOrEqual(Self.relativeError(a, try DecoderReference(hf.decoder).logits(ids)), 1e-4)

        // The check sees the rope layout: llama.cpp's adjacent pairs on the unpermuted rows differ.
        var wrong = hf.decoder.config
        wrong.ropeStyle = .adjacentPairs
        let w = LanguageModel(decoder: Decoder(config: wrong, weights: hf.decoder.weights), tokenizer: hf.tokenizer)
        XCTAssertGreaterThan(Self.relativeError(try Self.logits(w, ids), b), 1e-2)
    }

    func testFolderSideFileRefusals() throws {
        var c = Self.config
        let file = folder + "/config.json"
        for (key, value) in [("rope_scaling", ["rope_type": "llama3", "factor": 8.0] as [String: Any]),
                             ("rope_scaling", ["type": "yarn", "factor": 4.0])] {
            c[key] = value
            try writeJSON(c, "config.json")
            XCTAssertThrowsError(try load()) { e in
                guard case .unsupportedConfig(let f, let k, _)? = e as? LLMError else { return XCTFail("\(e)") }
                XCTAssertEqual([f, k], [file, key])
            }
        }
        c = Self.config
        c["hidden_act"] = "gelu"
        try writeJSON(c, "config.json")
        XCTAssertThrowsError(try load()) { XCTAssertEqual(($0 as? LLMError).map { "\($0)" }, "\(file): 'hidden_act' is \"gelu\"; the decoder's feed-forward is SwiGLU with silu") }
        c = Self.config
        c["architectures"] = ["BertModel"]
        c["hidden_act"] = "gelu"
        try writeJSON(c, "config.json")
        XCTAssertThrowsError(try load()) { e in
            guard case .unsupportedConfig(file, "architectures", let reason)? = e as? LLMError else { return XCTFail("\(e)") }
            XCTAssertTrue(reason.hasPrefix("is [\"BertModel\"]; the decoder runs LlamaForCausalLM"), reason)
        }
        c = Self.config
        c["sliding_window"] = 8
        try writeJSON(c, "config.json")
        let windowed = try load()
        XCTAssertEqual(windowed.decoder.config.attentionWindow, 8)
        XCTAssertNoThrow(try windowed.decoder.hiddenStates([1, 2, 3, 4, 5, 6, 7, 8]))
        XCTAssertThrowsError(try windowed.decoder.hiddenStates([Int32](repeating: 1, count: 9))) {
            guard case .unsupportedConfig(_, "sliding_window", _)? = $0 as? LLMError else { return XCTFail("\($0)") }
        }
        c["use_sliding_window"] = false
        try writeJSON(c, "config.json")
        XCTAssertNil(try load().decoder.config.attentionWindow, "Qwen2's use_sliding_window false turns it off")
        try FileManager.default.removeItem(atPath: folder + "/tokenizer.json")
        XCTAssertThrowsError(try load()) { XCTAssertEqual($0 as? LLMError, .missingSideFile(folder + "/tokenizer.json")) }
        try FileManager.default.removeItem(atPath: file)
        XCTAssertThrowsError(try load()) { XCTAssertEqual($0 as? LLMError, .missingSideFile(file)) }
    }
}

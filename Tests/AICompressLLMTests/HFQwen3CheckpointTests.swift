import AICompressCore
import AICompressFormats
import Foundation
import XCTest

@testable import AICompressLLM

/// A Qwen3ForCausalLM checkpoint (q/k norms, head_dim 32 over a 64-wide residual, tied
/// embedding) run directly and converted to GGUF: the conversion names and keeps the norms,
/// writes `qwen3` with the key length, and both give the reference twin's logits.
final class HFQwen3CheckpointTests: XCTestCase {
    static var config: [String: Any] {
        [
        "architectures": ["Qwen3ForCausalLM"], "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 32, "vocab_size": 264, "max_position_embeddings": 64,
        "rms_norm_eps": 1e-6, "rope_theta": 1_000_000.0, "hidden_act": "silu", "tie_word_embeddings": true,
        "attention_bias": false, "sliding_window": NSNull(), "use_sliding_window": false,
        ]
    }

    var folder = ""

    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "hfqwen3-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try write(try HFCheckpointTests.checkpoint(seed: 41, qwen3: true), config: Self.config)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: folder) }

    func write(_ model: Model, config: [String: Any]) throws {
        try ModelIO.write(model, to: folder + "/model.safetensors", format: .safetensors)
        for (value, name) in [(config, "config.json"), (HFCheckpointTests.tokenizer(), "tokenizer.json")] {
            try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys]).write(to: URL(fileURLWithPath: folder + "/" + name))
        }
    }

    func testCheckpointEqualsConvertedGGUF() throws {
        let loaded = try ModelIO.read(path: folder + "/model.safetensors")
        let hf = try LanguageModel(huggingFace: loaded)
        let c = hf.decoder.config
        XCTAssertEqual([c.architecture], ["qwen3"])
        XCTAssertEqual([c.headDimension, c.queryWidth, c.kvWidth, c.ropeDimensions], [32, 128, 64, 32])
        XCTAssertEqual(hf.decoder.weights.layers[1].keyNorm?.count, 32)
        let converted = try HFLlamaConversion.prepared(loaded, for: .gguf).model
        XCTAssertEqual(converted.tensor(named: "blk.1.attn_q_norm.weight")?.shape.dims, [32])
        XCTAssertNil(converted.tensor(named: "output.weight"), "tied: no output tensor")
        let gguf = folder + "/model.gguf"
        try ModelIO.write(converted, to: gguf, format: .gguf)
        let gg = try LanguageModel(model: try ModelIO.read(path: gguf).model)
        XCTAssertEqual(gg.decoder.config.ropeStyle, .halves, "qwen3 keeps Hugging Face's q/k rows")
        XCTAssertEqual(gg.decoder.config.headDimension, 32, "key_length written")

        let ids = try hf.tokenizer.tokenize(HFCheckpointTests.text, addSpecial: true)
        let a = try HFCheckpointTests.logits(hf, ids), b = try HFCheckpointTests.logits(gg, ids)
        XCTAssertGreaterThan(b.map { abs($0) }.max() ?? 0, 0.5, "logits too flat to compare")
        XCTAssertLessThanOrEqual(HFCheckpointTests.relativeError(a, b), 2e-5)
        XCTAssertLessThanOrEqual(HFCheckpointTests.relativeError(a, try DecoderReference(hf.decoder).logits(ids)), 1e-4)
    }

    /// A Qwen3 checkpoint without a q norm names the missing Hugging Face tensor; a Llama
    /// checkpoint with q/k norms is refused (llama.cpp's llama loader would not load them).
    func testNormRefusals() throws {
        let full = try HFCheckpointTests.checkpoint(seed: 42, qwen3: true)
        try write(try Model(tensors: full.tensors.filter { $0.name != "model.layers.1.self_attn.q_norm.weight" }), config: Self.config)
        XCTAssertThrowsError(try LanguageModel(huggingFace: try ModelIO.read(path: folder + "/model.safetensors"))) {
            XCTAssertTrue("\($0)".contains("model.layers.1.self_attn.q_norm.weight"), "\($0)")
        }
        var llama = Self.config
        llama["architectures"] = ["LlamaForCausalLM"]
        try write(full, config: llama)
        XCTAssertThrowsError(try LanguageModel(huggingFace: try ModelIO.read(path: folder + "/model.safetensors"))) {
            let text = "\($0)"
            XCTAssertTrue(text.contains("model.layers.0.self_attn.") && text.contains("_norm.weight"), text)
        }
        XCTAssertEqual(HFLlamaTensorNames.map("model.layers.4.self_attn.k_norm.weight"),
                       .tensor(name: "blk.4.attn_k_norm.weight", layer: 4, role: .attnKNorm))
        XCTAssertNil(HFLlamaTensorNames.map("model.layers.4.self_attn.k_norm.bias"), "norms have no bias")
    }
}

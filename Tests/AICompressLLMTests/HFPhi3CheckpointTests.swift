import AICompressCore
import AICompressFormats
import Foundation
import XCTest

@testable import AICompressLLM

/// A Phi3ForCausalLM checkpoint (fused `self_attn.qkv_proj` and `mlp.gate_up_proj`, BF16) run
/// directly and converted to GGUF (`attn_qkv`, `ffn_up` of 2·n_ff rows, arch phi3): both give
/// the logits of the same weights stored unfused as a Qwen2ForCausalLM checkpoint (the same
/// graph with separate tensors), and the twin's.
final class HFPhi3CheckpointTests: XCTestCase {
    static var config: [String: Any] {
        [
        "architectures": ["Phi3ForCausalLM"], "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 264, "max_position_embeddings": 64,
        "original_max_position_embeddings": 64, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "hidden_act": "silu",
        "tie_word_embeddings": false, "sliding_window": 47, "rope_scaling": NSNull(),
        ]
    }

    var folder = ""

    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "hfphi3-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: folder) }

    func write(_ model: Model, config: [String: Any]) throws {
        try ModelIO.write(model, to: folder + "/model.safetensors", format: .safetensors)
        for (value, name) in [(config, "config.json"), (HFCheckpointTests.tokenizer(), "tokenizer.json")] {
            try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys]).write(to: URL(fileURLWithPath: folder + "/" + name))
        }
    }

    /// `HFCheckpointTests.checkpoint` with an lm_head, and its q/k/v and gate/up fused as
    /// Phi-3 stores them (rows concatenated, bytes as they are).
    static func checkpoints(seed: UInt64) throws -> (separate: Model, fused: Model) {
        var separate = try HFCheckpointTests.checkpoint(seed: seed)
        var g = GaussianSource(seed: seed &+ 7)
        let head = g.values(264 * 64, 0.3, 0).map { UInt16(truncatingIfNeeded: $0.bitPattern >> 16) }
        try separate.append(try Tensor(name: "lm_head.weight", dtype: .bf16, shape: Shape([264, 64]), data: TensorData(values: head)))
        var fusedParts = [String: (String, [String])]()
        for i in 0..<2 {
            let p = "model.layers.\(i)."
            fusedParts[p + "self_attn.q_proj.weight"] = (p + "self_attn.qkv_proj.weight", ["q", "k", "v"].map { p + "self_attn.\($0)_proj.weight" })
            fusedParts[p + "mlp.gate_proj.weight"] = (p + "mlp.gate_up_proj.weight", [p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight"])
        }
        let dropped = Set(fusedParts.values.flatMap(\.1))
        var tensors = [Tensor]()
        for t in separate.tensors {
            if let (name, parts) = fusedParts[t.name] {
                let ts = parts.compactMap { separate.tensor(named: $0) }
                let rows = ts.reduce(0) { $0 + $1.shape.dims[0] }
                tensors.append(try Tensor(name: name, dtype: .bf16, shape: Shape([rows, 64]), data: TensorData(bytes: ts.flatMap { $0.data.byteArray })))
            } else if !dropped.contains(t.name) {
                tensors.append(t)
            }
        }
        return (separate, try Model(tensors: tensors))
    }

    func load() throws -> LanguageModel { try LanguageModel(huggingFace: try ModelIO.read(path: folder + "/model.safetensors")) }

    func testCheckpointEqualsUnfusedAndConvertedGGUF() throws {
        let (separate, fused) = try Self.checkpoints(seed: 51)
        var qwen2 = Self.config
        qwen2["architectures"] = ["Qwen2ForCausalLM"]
        qwen2["sliding_window"] = NSNull()
        try write(separate, config: qwen2)
        let plain = try load()
        try write(fused, config: Self.config)
        let loaded = try ModelIO.read(path: folder + "/model.safetensors")
        let hf = try LanguageModel(huggingFace: loaded)
        let c = hf.decoder.config
        XCTAssertEqual(c.architecture, "phi3")
        XCTAssertEqual(c.attentionWindow, 47)
        XCTAssertNil(c.attentionWindowKey, "the window is config.json's")
        XCTAssertEqual(hf.decoder.weights.layers[1].fusedQKV?.shape, [128, 64])
        XCTAssertEqual(hf.decoder.weights.layers[1].fusedGateUp?.type, .bf16, "weights stay in their stored encoding")

        let converted = try HFLlamaConversion.prepared(loaded, for: .gguf).model
        XCTAssertEqual(converted.tensor(named: "blk.1.ffn_up.weight")?.shape.dims, [256, 64])
        XCTAssertEqual(converted.tensor(named: "blk.1.attn_qkv.weight")?.shape.dims, [128, 64])
        XCTAssertNil(converted.tensor(named: "blk.1.ffn_gate.weight"))
        let gguf = folder + "/model.gguf"
        try ModelIO.write(converted, to: gguf, format: .gguf)
        let gg = try LanguageModel(model: try ModelIO.read(path: gguf).model)
        XCTAssertEqual(gg.decoder.config.architecture, "phi3")
        XCTAssertEqual(gg.decoder.config.ropeStyle, .halves, "phi3 keeps Hugging Face's q/k rows")
        XCTAssertEqual(gg.decoder.config.attentionWindow, 47)
        XCTAssertEqual(gg.decoder.config.attentionWindowKey, "phi3.attention.sliding_window")

        let ids = try hf.tokenizer.tokenize(HFCheckpointTests.text, addSpecial: true)
        let a = try HFCheckpointTests.logits(hf, ids), b = try HFCheckpointTests.logits(gg, ids)
        XCTAssertGreaterThan(b.map { abs($0) }.max() ?? 0, 0.5, "logits too flat to compare")
        XCTAssertEqual(a, try HFCheckpointTests.logits(plain, ids), "fused row views compute what the separate tensors do")
        XCTAssertLessThanOrEqual(HFCheckpointTests.relativeError(a, b), 2e-5)
        XCTAssertLessThanOrEqual(HFCheckpointTests.relativeError(a, try DecoderReference(hf.decoder).logits(ids)), 1e-4)
    }

    /// Fused projections outside phi3 and separate ones inside it are refused by their Hugging
    /// Face name (llama.cpp's loaders would not load them), as is a missing gate_up_proj.
    func testRefusals() throws {
        let (separate, fused) = try Self.checkpoints(seed: 52)
        var llama = Self.config
        llama["architectures"] = ["LlamaForCausalLM"]
        llama["sliding_window"] = NSNull()
        try write(fused, config: llama)
        XCTAssertThrowsError(try load()) { XCTAssertTrue("\($0)".contains("model.layers.0.self_attn.qkv_proj.weight"), "\($0)") }
        try write(separate, config: Self.config)
        XCTAssertThrowsError(try load()) { XCTAssertTrue("\($0)".contains("model.layers.0.self_attn.q_proj.weight"), "\($0)") }
        try write(try Model(tensors: fused.tensors.filter { $0.name != "model.layers.1.mlp.gate_up_proj.weight" }), config: Self.config)
        XCTAssertThrowsError(try load()) { XCTAssertTrue("\($0)".contains("model.layers.1.mlp.gate_up_proj.weight"), "\($0)") }
        XCTAssertEqual(HFLlamaTensorNames.map("model.layers.3.mlp.gate_up_proj.weight"),
                       .tensor(name: "blk.3.ffn_up.weight", layer: 3, role: .ffnGateUp))
    }
}

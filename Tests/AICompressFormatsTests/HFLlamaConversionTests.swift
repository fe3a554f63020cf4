import AICompressCore
@testable import AICompressFormats
import Foundation
import XCTest

/// A tiny Hugging Face LLaMA checkpoint converted to GGUF in memory and through files: names,
/// permuted q/k rows, keys, vocabulary, and one test per refusal.
final class HFLlamaConversionTests: XCTestCase {
    static let tokenizerText = """
        {"version": "1.0", "normalizer": null,
         "pre_tokenizer": \(HFLlamaMappingTests.sequence(HFLlamaMappingTests.llama3Regex)),
         "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}]},
         "added_tokens": [{"id": 0, "content": "<s>", "special": true}, {"id": 1, "content": "</s>", "special": true},
                          {"id": 4, "content": "<|tool|>", "special": false}],
         "model": {"type": "BPE", "byte_fallback": false, "vocab": {"<s>": 0, "</s>": 1, "a": 2, "b": 3},
                   "merges": [["a", "b"], ["a b", "c"]]}}
        """
    static let tokenizerConfigText = #"{"bos_token": "<s>", "eos_token": {"content": "</s>"}, "add_bos_token": false, "chat_template": "{{ x }}"}"#

    /// Tensors of the config in `HFLlamaMappingTests.configText`, value = index + offset per tensor.
    static func model(dtype: DType = .f32, dropping: String? = nil, extra: [(String, [Int])] = []) throws -> Model {
        var specs: [(String, [Int])] = [("model.embed_tokens.weight", [6, 8]), ("lm_head.weight", [6, 8]), ("model.norm.weight", [8])]
        let p = "model.layers.0."
        specs += [(p + "input_layernorm.weight", [8]), (p + "self_attn.q_proj.weight", [8, 8]), (p + "self_attn.k_proj.weight", [4, 8]),
                  (p + "self_attn.v_proj.weight", [4, 8]), (p + "self_attn.o_proj.weight", [8, 8]), (p + "post_attention_layernorm.weight", [8]),
                  (p + "mlp.gate_proj.weight", [16, 8]), (p + "mlp.up_proj.weight", [16, 8]), (p + "mlp.down_proj.weight", [8, 16]),
                  (p + "self_attn.rotary_emb.inv_freq", [2])] + extra
        var m = Model()
        for (k, (name, shape)) in specs.enumerated() where name != dropping {
            let values = (0..<shape.reduce(1, *)).map { Float($0) + Float(k) / 16 }
            let t = try Tensor(name: name, shape: try Shape(shape), floats: values)
            try m.append(dtype == .f32 ? t : try Tensor(name: name, dtype: dtype, shape: t.shape, data: convert(values, to: dtype)))
        }
        m.metadata["format"] = "pt"
        return m
    }

    static func convert(_ values: [Float], to dtype: DType) -> TensorData {
        dtype == .bf16 ? TensorData(values: values.map { UInt16($0.bitPattern >> 16) }) : TensorData(values: values.map { Float16($0) })
    }

    static func converted(_ model: Model, config: String = HFLlamaMappingTests.configText, tokenizer: String = tokenizerText) throws -> Model {
        try HFLlamaConversion.convert(model, config: try JSONParser.parse(config), configFile: "config.json",
                                      tokenizer: try JSONParser.parse(tokenizer), tokenizerFile: "tokenizer.json",
                                      tokenizerConfig: try JSONParser.parse(tokenizerConfigText), tokenizerConfigFile: "tokenizer_config.json",
                                      chatTemplate: nil, name: "tiny")
    }

    func pairs(_ m: Model) throws -> [String: GGUFValue] {
        Dictionary(try GGUFModelMetadata.pairs(m.metadata).map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
    }

    func testConvertsNamesKeysAndVocabulary() throws {
        let m = try Self.converted(try Self.model())
        XCTAssertEqual(m.tensors.map(\.name), ["token_embd.weight", "output.weight", "output_norm.weight", "blk.0.attn_norm.weight",
                                               "blk.0.attn_q.weight", "blk.0.attn_k.weight", "blk.0.attn_v.weight", "blk.0.attn_output.weight",
                                               "blk.0.ffn_norm.weight", "blk.0.ffn_gate.weight", "blk.0.ffn_up.weight", "blk.0.ffn_down.weight"])
        XCTAssertEqual(m.metadata[HFLlamaPermutation.metadataKey], "blk.0.attn_k.weight=1,blk.0.attn_q.weight=2")
        XCTAssertEqual(m.metadata["format"], "pt")
        let kv = try pairs(m)
        let expected: [String: GGUFValue] = [
            "general.architecture": .text("llama"), "general.name": .text("tiny"), "general.file_type": .uint32(0),
            "llama.block_count": .uint32(1), "llama.context_length": .uint32(64), "llama.embedding_length": .uint32(8),
            "llama.feed_forward_length": .uint32(16), "llama.attention.head_count": .uint32(2), "llama.attention.head_count_kv": .uint32(1),
            "llama.rope.freq_base": .float32(500000), "llama.attention.layer_norm_rms_epsilon": .float32(1e-5),
            "llama.vocab_size": .uint32(6), "llama.rope.dimension_count": .uint32(4), "general.quantization_version": .uint32(2),
            "tokenizer.ggml.model": .text("gpt2"), "tokenizer.ggml.pre": .text("llama-bpe"),
            "tokenizer.ggml.bos_token_id": .uint32(0), "tokenizer.ggml.eos_token_id": .uint32(1),
            // the post-processor's template starts with the bos: it wins over add_bos_token false
            "tokenizer.ggml.add_bos_token": .bool(true), "tokenizer.chat_template": .text("{{ x }}"),
        ]
        for (key, value) in expected { XCTAssertEqual(kv[key], value, key) }
        XCTAssertNil(kv["llama.attention.key_length"])
        guard case .array(let tokens)? = kv["tokenizer.ggml.tokens"], case .array(let types)? = kv["tokenizer.ggml.token_type"],
              case .array(let merges)? = kv["tokenizer.ggml.merges"] else { return XCTFail("no vocabulary arrays") }
        XCTAssertEqual(tokens.strings, ["<s>", "</s>", "a", "b", "<|tool|>", "[PAD5]"])
        XCTAssertEqual(types.values, [3, 3, 1, 1, 3, 5].map { GGUFValue.int32($0) })  // <|tool|> looks special
        XCTAssertEqual(merges.strings, ["a b", "a\u{120}b c"])
    }

    func testWritesPermutedRowsAndReadsBack() throws {
        let dir = try temporaryDirectory(self)
        for dtype in [DType.f32, .f16, .bf16] {
            let source = try Self.model(dtype: dtype)
            let m = try Self.converted(source)
            try ModelIO.write(m, to: dir + "/t.gguf", format: .gguf)
            let file = try GGUFReader.read(try InputFile(path: dir + "/t.gguf").buffer)
            XCTAssertNil(file.metadata.first { $0.key == HFLlamaPermutation.metadataKey })
            XCTAssertEqual(file.metadata.first { $0.key == "general.file_type" }?.value, .uint32(dtype == .f32 ? 0 : dtype == .f16 ? 1 : 32))
            let byName = Dictionary(uniqueKeysWithValues: file.tensors.map { ($0.info.name, $0) })
            for (hf, gguf, heads) in [("q_proj", "attn_q", 2), ("k_proj", "attn_k", 1)] {
                guard let t = byName["blk.0.\(gguf).weight"], let s = source.tensor(named: "model.layers.0.self_attn.\(hf).weight") else { return XCTFail(gguf) }
                let rows = s.shape.dims[0], rowBytes = s.storedBytes / rows, oracle = HFLlamaMappingTests.oracle(rows: rows, heads: heads)
                let input = s.data.byteArray, output = t.data.byteArray
                for r in 0..<rows {
                    XCTAssertEqual(Array(output[(r * rowBytes)..<((r + 1) * rowBytes)]),
                                   Array(input[(oracle[r] * rowBytes)..<((oracle[r] + 1) * rowBytes)]), "\(dtype) \(gguf) row \(r)")
                }
            }
            // Everything else keeps its bytes; 1-D tensors are widened to f32 exactly.
            XCTAssertEqual(byName["blk.0.attn_v.weight"]?.data.byteArray, source.tensor(named: "model.layers.0.self_attn.v_proj.weight")?.data.byteArray)
            XCTAssertEqual(byName["output_norm.weight"]?.info.type, .f32)
            let norm = try XCTUnwrap(source.tensor(named: "model.norm.weight")).floatValues()
            XCTAssertEqual(try XCTUnwrap(m.tensor(named: "output_norm.weight")).floatValues(), norm)
        }
    }

    func conversionError(_ body: () throws -> Model) -> HFLlamaError? {
        do { _ = try body() } catch let e as HFLlamaError { return e } catch { XCTFail("\(error)") }
        return nil
    }

    func testTensorRefusals() throws {
        XCTAssertEqual(conversionError { try Self.converted(try Self.model(extra: [("model.layers.0.mlp.experts.0.w1.weight", [2])])) },
                       .unmappedTensor("model.layers.0.mlp.experts.0.w1.weight"))
        XCTAssertEqual(conversionError { try Self.converted(try Self.model(dropping: "model.layers.0.mlp.up_proj.weight")) },
                       .missingTensor("model.layers.0.mlp.up_proj.weight"))
        // A config claiming 2^31 - 1 layers: refused at the first missing layer, nothing sized from the claim.
        XCTAssertEqual(conversionError { try Self.converted(try Self.model(), config: HFLlamaMappingTests.configText.replacing("\"num_hidden_layers\": 1", with: "\"num_hidden_layers\": 2147483647")) },
                       .missingTensor("model.layers.1.input_layernorm.weight"))
        XCTAssertEqual(conversionError { try Self.converted(try Self.model(dropping: "lm_head.weight")) },
                       .missingTensor("lm_head.weight (tie_word_embeddings is false)"))
        // Tied: no lm_head is fine, and no output tensor is written.
        let tied = try Self.converted(try Self.model(dropping: "lm_head.weight"),
                                      config: HFLlamaMappingTests.configText.replacing("\"tie_word_embeddings\": false", with: "\"tie_word_embeddings\": true"))
        XCTAssertNil(tied.tensor(named: "output.weight"))
        XCTAssertEqual(conversionError { try Self.converted(try Self.model(), config: HFLlamaMappingTests.configText.replacing("\"intermediate_size\": 16", with: "\"intermediate_size\": 12")) },
                       .unexpectedShape(tensor: "model.layers.0.mlp.gate_proj.weight", shape: [16, 8], expected: "[12, 8]"))
        XCTAssertEqual(conversionError { try Self.converted(try Self.model(extra: [("model.layers.1.mlp.up_proj.weight", [16, 8])])) },
                       .unexpectedShape(tensor: "model.layers.1.mlp.up_proj.weight", shape: [16, 8], expected: "1 layers (num_hidden_layers)"))
        var f64 = try Self.model(dropping: "model.norm.weight")
        try f64.append(try Tensor(name: "model.norm.weight", dtype: .f64, shape: [8], data: TensorData(values: [Double](repeating: 1, count: 8))))
        XCTAssertEqual(conversionError { try Self.converted(f64) }, .unsupportedDType(tensor: "model.norm.weight", dtype: .f64))
    }

    func testTokenizerRefusals() throws {
        let model = try Self.model()
        func error(_ edit: (String) -> String) -> String? {
            conversionError { try Self.converted(model, tokenizer: edit(Self.tokenizerText)) }.map(\.description)
        }
        XCTAssertEqual(error { $0.replacing("\"byte_fallback\": false", with: "\"byte_fallback\": true") }?.contains("SentencePiece-style"), true)
        XCTAssertEqual(error { $0.replacing("\"type\": \"BPE\"", with: "\"type\": \"Unigram\"") }?.contains("not BPE"), true)
        XCTAssertEqual(error { $0.replacing("\"b\": 3", with: "\"b\": 6") }?.contains("outside the 6 rows"), true)
        XCTAssertEqual(error { $0.replacing("\"b\": 3", with: "\"b\": 2") }?.contains("id 2 is given to two tokens"), true)
        XCTAssertEqual(error { $0.replacing("[\"a\", \"b\"]", with: "[\"a\"]") }?.contains("neither"), true)
        XCTAssertEqual(error { $0.replacing("\"normalizer\": null", with: "\"normalizer\": {\"type\": \"Lowercase\"}") }?.contains("normalizer"), true)
        XCTAssertEqual(error { $0.replacing("{\"id\": 4, \"content\": \"<|tool|>\"", with: "{\"id\": 9, \"content\": \"<|tool|>\"") }?.contains("added token"), true)
        let unk = HFLlamaMappingTests.configText.replacing("\"bos_token_id\": 0", with: "\"unk_token_id\": 9, \"bos_token_id\": 0")
        XCTAssertEqual(conversionError { try Self.converted(model, config: unk) },
                       .invalidValue(file: "config.json", key: "unk_token_id", reason: "is 9, outside the 6 tokens"))
    }

    /// Side files through `prepared`: found beside a safetensors file, checked for size and
    /// syntax, ignored for other outputs, their absence keeping today's behaviour.
    func testSideFiles() throws {
        let dir = try temporaryDirectory(self)
        let path = dir + "/model.safetensors"
        try ModelIO.write(try Self.model(), to: path, format: .safetensors)
        func prepare(_ format: ModelFormat = .gguf) throws -> LoadedModel { try HFLlamaConversion.prepared(try ModelIO.read(path: path), for: format) }
        XCTAssertEqual(try prepare().model.tensors.first?.name, "model.embed_tokens.weight")  // no config.json
        try HFLlamaMappingTests.configText.write(toFile: dir + "/config.json", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try prepare()) { XCTAssertEqual($0 as? HFLlamaError, .missingTokenizer(folder: dir)) }
        try Self.tokenizerText.write(toFile: dir + "/tokenizer.json", atomically: true, encoding: .utf8)
        let loaded = try prepare()
        XCTAssertEqual(loaded.model.tensors.first?.name, "token_embd.weight")
        XCTAssertEqual(loaded.identities.count, 3)  // the model, config.json, tokenizer.json
        XCTAssertEqual(try prepare(.checkpoint).model.tensors.first?.name, "model.embed_tokens.weight")
        try "{\"architectures\": [".write(toFile: dir + "/tokenizer_config.json", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try prepare()) { error in
            guard case .invalidJSON(let file, _)? = error as? HFLlamaError else { return XCTFail("\(error)") }
            XCTAssertEqual(file, dir + "/tokenizer_config.json")
        }
        try FileManager.default.removeItem(atPath: dir + "/tokenizer_config.json")
        try Data(count: HFLlamaConversion.configLimit + 1).write(to: URL(fileURLWithPath: dir + "/config.json"))
        XCTAssertThrowsError(try prepare()) {
            XCTAssertEqual($0 as? HFLlamaError, .fileTooLarge(file: dir + "/config.json", size: HFLlamaConversion.configLimit + 1, limit: HFLlamaConversion.configLimit))
        }
        try "[]".write(toFile: dir + "/config.json", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try prepare()) { XCTAssertEqual($0 as? HFLlamaError, .notAnObject(file: dir + "/config.json")) }
        // A tensor error names the model file.
        try HFLlamaMappingTests.configText.replacing("\"intermediate_size\": 16", with: "\"intermediate_size\": 12")
            .write(toFile: dir + "/config.json", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try prepare()) { XCTAssertTrue("\($0)".hasPrefix(path), "\($0)") }
    }
}

import AICompressCore
import Foundation
@testable import AICompressFormats
import XCTest

/// The Hugging Face → llama.cpp mapping piece by piece: tensor names, the q/k row permutation
/// (against a plain reshape/swap oracle and against the two rope conventions it converts
/// between), config.json fields, the pre-tokenizer names.
final class HFLlamaMappingTests: XCTestCase {
    func testTensorNames() {
        let cases: [(String, String, Int?, HFLlamaTensorNames.Role)] = [
            ("model.embed_tokens.weight", "token_embd.weight", nil, .tokenEmbd),
            ("model.norm.weight", "output_norm.weight", nil, .outputNorm),
            ("lm_head.weight", "output.weight", nil, .output),
            ("model.layers.0.input_layernorm.weight", "blk.0.attn_norm.weight", 0, .attnNorm),
            ("model.layers.7.self_attn.q_proj.weight", "blk.7.attn_q.weight", 7, .attnQ),
            ("model.layers.7.self_attn.q_proj.bias", "blk.7.attn_q.bias", 7, .attnQ),
            ("model.layers.12.self_attn.k_proj.weight", "blk.12.attn_k.weight", 12, .attnK),
            ("model.layers.3.self_attn.v_proj.weight", "blk.3.attn_v.weight", 3, .attnV),
            ("model.layers.3.self_attn.o_proj.weight", "blk.3.attn_output.weight", 3, .attnOutput),
            ("model.layers.3.post_attention_layernorm.weight", "blk.3.ffn_norm.weight", 3, .ffnNorm),
            ("model.layers.3.mlp.gate_proj.weight", "blk.3.ffn_gate.weight", 3, .ffnGate),
            ("model.layers.3.mlp.up_proj.weight", "blk.3.ffn_up.weight", 3, .ffnUp),
            ("model.layers.10.mlp.down_proj.weight", "blk.10.ffn_down.weight", 10, .ffnDown),
        ]
        for (hf, gguf, layer, role) in cases {
            XCTAssertEqual(HFLlamaTensorNames.map(hf), .tensor(name: gguf, layer: layer, role: role), hf)
        }
        XCTAssertEqual(HFLlamaTensorNames.map("model.layers.0.self_attn.rotary_emb.inv_freq"), .dropped)
        for unmapped in ["model.layers.01.mlp.up_proj.weight", "model.layers.-1.mlp.up_proj.weight", "model.layers.x.mlp.up_proj.weight",
                         "model.layers.0.input_layernorm.bias", "model.layers.0.mlp.experts.0.w1.weight", "transformer.wte.weight",
                         "lm_head.bias", "model.embed_tokens", "model.layers.0.self_attn.q_proj.scale"] {
            XCTAssertNil(HFLlamaTensorNames.map(unmapped), unmapped)
        }
    }

    /// The converter's `w.reshape(heads, 2, d/2, …).swapaxes(1, 2).reshape(w.shape)`, by
    /// explicit index arithmetic over the 3-index view.
    static func oracle(rows: Int, heads: Int) -> [Int] {
        let half = rows / heads / 2
        var source = [Int](repeating: -1, count: rows)
        for h in 0..<heads {
            for a in 0..<2 {
                for b in 0..<half {
                    // element (h, a, b) of the input view lands at (h, b, a) of the output view
                    source[h * 2 * half + b * 2 + a] = h * 2 * half + a * half + b
                }
            }
        }
        return source
    }

    func testPermutationEqualsTheReshapeOracle() throws {
        for (rows, heads) in [(8, 1), (8, 2), (8, 4), (64, 4), (128, 2), (96, 3)] {
            let expected = Self.oracle(rows: rows, heads: heads)
            XCTAssertEqual((0..<rows).map { HFLlamaPermutation.sourceRow($0, rows: rows, heads: heads) }, expected, "\(rows)/\(heads)")
            XCTAssertEqual(Set(expected).count, rows)
            // Whole rows move: a [rows, 3] f32 tensor, and rows of 18-byte blocks (one Q4_0 block).
            for rowBytes in [12, 18] {
                let data = TensorData(bytes: (0..<(rows * rowBytes)).map { UInt8(truncatingIfNeeded: $0 * 7 + $0 / rowBytes) })
                let out = try HFLlamaPermutation.permuted(data, tensor: "t", rows: rows, heads: heads).byteArray
                let input = data.byteArray
                for r in 0..<rows {
                    XCTAssertEqual(Array(out[(r * rowBytes)..<((r + 1) * rowBytes)]),
                                   Array(input[(expected[r] * rowBytes)..<((expected[r] + 1) * rowBytes)]), "\(rows)/\(heads) row \(r)")
                }
            }
        }
        XCTAssertThrowsError(try HFLlamaPermutation.permuted(TensorData(bytes: [UInt8](repeating: 0, count: 24)), tensor: "t", rows: 6, heads: 2))
        XCTAssertThrowsError(try HFLlamaPermutation.permuted(TensorData(bytes: [UInt8](repeating: 0, count: 10)), tensor: "t", rows: 4, heads: 2))
    }

    /// What the permutation is for: Hugging Face's rotate-half rope on a head's rows equals
    /// llama.cpp's adjacent-pair rope on the permuted rows, permuted.
    func testPermutationTurnsRotateHalfIntoInterleavedRope() {
        let d = 16, heads = 2, rows = d * heads, theta = 10000.0
        let q = (0..<rows).map { sin(Double($0) * 1.7) + 0.1 * Double($0) }
        for pos in [0, 1, 5, 100] {
            var hf = q, cpp = (0..<rows).map { q[HFLlamaPermutation.sourceRow($0, rows: rows, heads: heads)] }
            for h in 0..<heads {
                for i in 0..<(d / 2) {
                    let angle = Double(pos) * pow(theta, -2 * Double(i) / Double(d))
                    let (c, s) = (cos(angle), sin(angle))
                    let a = h * d + i, b = h * d + i + d / 2  // rotate_half pairs
                    (hf[a], hf[b]) = (q[a] * c - q[b] * s, q[b] * c + q[a] * s)
                    let x = h * d + 2 * i, y = x + 1  // llama.cpp's ggml_rope (mode 0) pairs
                    (cpp[x], cpp[y]) = (cpp[x] * c - cpp[y] * s, cpp[y] * c + cpp[x] * s)
                }
            }
            for r in 0..<rows {
                XCTAssertEqual(cpp[r], hf[HFLlamaPermutation.sourceRow(r, rows: rows, heads: heads)], accuracy: 1e-12, "pos \(pos) row \(r)")
            }
        }
    }

    func testPermutationMetadataRoundTrips() throws {
        let text = HFLlamaPermutation.encode(["blk.1.attn_q.weight": 32, "blk.0.attn_k.weight": 8])
        XCTAssertEqual(text, "blk.0.attn_k.weight=8,blk.1.attn_q.weight=32")
        let (heads, rest) = try HFLlamaPermutation.take(from: [HFLlamaPermutation.metadataKey: text, "x": "y"])
        XCTAssertEqual(heads, ["blk.1.attn_q.weight": 32, "blk.0.attn_k.weight": 8])
        XCTAssertEqual(rest, ["x": "y"])
        XCTAssertThrowsError(try HFLlamaPermutation.take(from: [HFLlamaPermutation.metadataKey: "a=0"]))
        XCTAssertThrowsError(try HFLlamaPermutation.take(from: [HFLlamaPermutation.metadataKey: "a"]))
    }

    static let configText = """
        {"architectures": ["LlamaForCausalLM"], "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 1,
         "num_attention_heads": 2, "num_key_value_heads": 1, "vocab_size": 6, "max_position_embeddings": 64,
         "rms_norm_eps": 1e-05, "rope_theta": 500000.0, "tie_word_embeddings": false, "bos_token_id": 0, "eos_token_id": 1}
        """

    func config(_ text: String) throws -> HFLlamaConfig { try HFLlamaConfig(try JSONParser.parse(text), file: "config.json") }

    func configError(_ edit: (String) -> String) -> HFLlamaError? {
        do { _ = try config(edit(Self.configText)) } catch let e as HFLlamaError { return e } catch { return nil }
        return nil
    }

    func testConfigFields() throws {
        let c = try config(Self.configText)
        XCTAssertEqual(c.architecture.ggufName, "llama")
        XCTAssertTrue(c.architecture.permutesQK)
        XCTAssertEqual([c.blockCount, c.embeddingLength, c.feedForwardLength, c.headCount, c.headCountKV, c.headDim, c.vocabSize], [1, 8, 16, 2, 1, 4, 6])
        XCTAssertEqual(c.contextLength, 64)
        XCTAssertEqual(c.rmsNormEps, Float(1e-5))
        XCTAssertEqual(c.ropeTheta, 500000)
        XCTAssertFalse(c.tiedEmbeddings)
        XCTAssertEqual(c.specialTokenIDs, ["bos": 0, "eos": 1])
        XCTAssertNil(c.linearRopeFactor)
        let qwen = try config(Self.configText.replacing("LlamaForCausalLM", with: "Qwen2ForCausalLM"))
        XCTAssertEqual(qwen.architecture.ggufName, "qwen2")
        XCTAssertFalse(qwen.architecture.permutesQK)
        let linear = try config(Self.configText.replacing("\"rope_theta\"", with: "\"rope_scaling\": {\"type\": \"linear\", \"factor\": 4.0}, \"rope_theta\""))
        XCTAssertEqual(linear.linearRopeFactor, 4)
        let defaults = try config(Self.configText.replacing("\"rope_theta\": 500000.0, \"tie_word_embeddings\": false, ", with: ""))
        XCTAssertEqual(defaults.ropeTheta, 10000)
        XCTAssertTrue(defaults.tiedEmbeddings)
        let headDim = try config(Self.configText.replacing("\"vocab_size\"", with: "\"head_dim\": 6, \"vocab_size\""))
        XCTAssertEqual(headDim.headDim, 6)
        XCTAssertTrue(headDim.explicitHeadDim)
    }

    func testConfigErrors() {
        XCTAssertEqual(configError { $0.replacing("LlamaForCausalLM", with: "GPT2LMHeadModel") },
                       .unsupportedArchitecture(file: "config.json", architectures: ["GPT2LMHeadModel"]))
        XCTAssertEqual(configError { $0.replacing("\"architectures\": [\"LlamaForCausalLM\"], ", with: "") },
                       .missingKey(file: "config.json", key: "architectures"))
        XCTAssertEqual(configError { $0.replacing("\"hidden_size\": 8, ", with: "") }, .missingKey(file: "config.json", key: "hidden_size"))
        XCTAssertEqual(configError { $0.replacing("\"num_hidden_layers\": 1", with: "\"num_hidden_layers\": 0") },
                       .invalidValue(file: "config.json", key: "num_hidden_layers", reason: "is 0, must be positive"))
        XCTAssertEqual(configError { $0.replacing("\"vocab_size\": 6", with: "\"vocab_size\": \"6\"") },
                       .invalidValue(file: "config.json", key: "vocab_size", reason: "is \"6\", not an integer from 0 to 2147483647"))
        XCTAssertEqual(configError { $0.replacing("\"num_key_value_heads\": 1", with: "\"num_key_value_heads\": 3") }?.description.contains("does not divide"), true)
        XCTAssertEqual(configError { $0.replacing("\"rms_norm_eps\": 1e-05", with: "\"rms_norm_eps\": -1") }?.description.contains("positive finite"), true)
        XCTAssertEqual(configError { $0.replacing("\"rope_theta\"", with: "\"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0}, \"rope_theta\"") },
                       .unsupportedFeature(file: "config.json", feature: "rope scaling type 'llama3'"))
        XCTAssertEqual(configError { _ in "[1]" }, .notAnObject(file: "config.json"))
    }

    static let llama3Regex = HFLlamaPreTokenizer.known[0].regex

    func preName(_ json: String) throws -> String { try HFLlamaPreTokenizer.name(try JSONParser.parse(json), file: "tokenizer.json") }

    static func sequence(_ regex: String, byteLevel: String = "\"use_regex\": false, \"add_prefix_space\": false") -> String {
        "{\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Split\", \"pattern\": {\"Regex\": \(JSONValue.string(regex))}, "
            + "\"behavior\": \"Isolated\", \"invert\": false}, {\"type\": \"ByteLevel\", \(byteLevel)}]}"
    }

    func testPreTokenizerNames() throws {
        for (regex, pre) in HFLlamaPreTokenizer.known { XCTAssertEqual(try preName(Self.sequence(regex)), pre) }
        XCTAssertEqual(try preName("{\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"use_regex\": true}"), "gpt-2")
        XCTAssertEqual(try preName("{\"type\": \"ByteLevel\"}"), "gpt-2")
        let refused = [
            Self.sequence(Self.llama3Regex.replacing("{1,3}", with: "{1,2}")),
            Self.sequence(Self.llama3Regex, byteLevel: "\"use_regex\": true"),
            Self.sequence(Self.llama3Regex, byteLevel: "\"use_regex\": false, \"add_prefix_space\": true"),
            Self.sequence(Self.llama3Regex).replacing("Isolated", with: "Removed"),
            "{\"type\": \"ByteLevel\", \"add_prefix_space\": true}", "{\"type\": \"ByteLevel\", \"use_regex\": false}",
            "{\"type\": \"Metaspace\", \"replacement\": \"\u{2581}\"}", "null",
        ]
        for json in refused {
            XCTAssertThrowsError(try preName(json), json) { error in
                guard case .unsupportedTokenizer(let file, let reason)? = error as? HFLlamaError else { return XCTFail("\(error)") }
                XCTAssertEqual(file, "tokenizer.json")
                XCTAssertTrue(reason.hasPrefix("pre_tokenizer"), reason)
            }
        }
    }
}

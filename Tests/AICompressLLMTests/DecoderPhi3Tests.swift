import AICompressCore
import AICompressFormats
import Foundation
import XCTest

@testable import AICompressLLM

/// phi3 blocks (one fused attn_qkv of q, k, v rows; one fused ffn_up of gate rows then up rows;
/// NEOX rope) in the fast decoder against its plain twin, which multiplies the fused tensors
/// whole and cuts the results itself, and against the same weights stored unfused.
final class DecoderPhi3Tests: XCTestCase {
    /// 4 heads of 16 over a 64-wide residual (phi3 needs heads × head size = width), `kv` kv heads.
    static func config(layers: Int = 2, kv: Int = 2, embedding: Int = 64, architecture: String = "phi3") -> DecoderConfig {
        DecoderConfig(architecture: architecture, layers: layers, embedding: embedding, feedForward: 2 * embedding, heads: 4, kvHeads: kv,
                      rmsEpsilon: 1e-5, ropeStyle: .halves, vocabulary: 64)
    }

    /// `DecoderTests.model` with each block's q/k/v rows (and biases) concatenated into
    /// attn_qkv and its gate and up rows into ffn_up, the stored bytes as they are (rows are
    /// whole blocks, so this is valid for every type). `swapGateUp` writes up before gate.
    static func fused(_ separate: Model, layers: Int, swapGateUp: Bool = false, fuseQKV: Bool = true) throws -> Model {
        var drop = Set<String>(), added = [String: [Tensor]]()
        func concat(_ parts: [Tensor], _ name: String) throws -> Tensor {
            let rows = parts.reduce(0) { $0 + ($1.shape.dims.count == 2 ? $1.shape.dims[0] : $1.shape.dims[0]) }
            let dims = parts[0].shape.dims.count == 2 ? [rows, parts[0].shape.dims[1]] : [rows]
            return try Tensor(name: name, dtype: parts[0].dtype, shape: Shape(dims), encoding: parts[0].encoding,
                              data: TensorData(bytes: parts.flatMap { $0.data.byteArray }))
        }
        for i in 0..<layers {
            let p = "blk.\(i)."
            var groups: [(String, [String])] = [
                (p + "ffn_up.weight", swapGateUp ? [p + "ffn_up.weight", p + "ffn_gate.weight"] : [p + "ffn_gate.weight", p + "ffn_up.weight"]),
            ]
            if fuseQKV {
                groups.append((p + "attn_qkv.weight", ["q", "k", "v"].map { p + "attn_\($0).weight" }))
                groups.append((p + "attn_qkv.bias", ["q", "k", "v"].map { p + "attn_\($0).bias" }))
            }
            for (name, parts) in groups {
                let tensors = parts.compactMap { separate.tensor(named: $0) }
                guard tensors.count == parts.count else { continue }
                drop.formUnion(parts)
                // The fused tensor goes where its first part was.
                added[parts[0], default: []].append(try concat(tensors, name))
            }
        }
        return try Model(tensors: separate.tensors.flatMap { t in (added[t.name] ?? []) + (drop.contains(t.name) ? [] : [t]) })
    }

    /// The fused model: its twin within 1e-4, and bit for bit the qwen2 decoder of the same
    /// weights stored separately (qwen2 is phi3's graph with separate tensors: NEOX rope, SwiGLU).
    func compare(type: GGMLType, tied: Bool, biases: Bool, kv: Int = 2, embedding: Int = 64, seed: UInt64) throws {
        let c = Self.config(kv: kv, embedding: embedding)
        let separate = try DecoderTests.model(c, type: type, tied: tied, biases: biases, seed: seed)
        let d = try decoder(try Self.fused(separate, layers: c.layers), c)
        XCTAssertEqual(d.weights.layers[1].fusedQKV?.shape, [c.queryWidth + 2 * c.kvWidth, c.embedding])
        XCTAssertEqual(d.weights.layers[1].fusedGateUp?.shape, [2 * c.feedForward, c.embedding])
        XCTAssertEqual(d.weights.layers[1].fusedQKVBias?.count, biases ? c.queryWidth + 2 * c.kvWidth : nil)
        let fast = try logits(d), slow = try DecoderReference(d).logits(DecoderTests.tokens)
        XCTAssertGreaterThan(slow.map { abs($0) }.max() ?? 0, 0.5, "logits too flat to compare")
        XCTAssertLessThanOrEqual(relativeError(fast, slow), 1e-4, "\(type) tied=\(tied) biases=\(biases)")
        var plain = c
        plain.architecture = "qwen2"
        XCTAssertEqual(fast, try logits(try decoder(separate, plain)), "row views compute what the separate tensors do")
    }

    func testF32Tied() throws { try compare(type: .f32, tied: true, biases: false, seed: 41) }
    func testF32UntiedQKVBias() throws { try compare(type: .f32, tied: false, biases: true, kv: 4, seed: 42) }
    func testQ8_0() throws { try compare(type: .q8_0, tied: false, biases: false, seed: 43) }
    func testQ4_K() throws { try compare(type: .q4_K, tied: false, biases: false, embedding: 256, seed: 44) }

    /// The twin cuts ffn_up itself (gate first): the model with up and gate swapped in ffn_up
    /// gives other logits, so a fast path that split it the wrong way would fail `compare`. The
    /// same for q/k/v: phi3 with separate attn_q/k/v (llama.cpp's other phi3 layout) equals fused.
    func testSplitOrderMatters() throws {
        let c = Self.config(layers: 1)
        let separate = try DecoderTests.model(c, type: .f32, tied: false, biases: false, seed: 45)
        let right = try DecoderReference(try decoder(try Self.fused(separate, layers: 1), c)).logits(DecoderTests.tokens)
        let swapped = try DecoderReference(try decoder(try Self.fused(separate, layers: 1, swapGateUp: true), c)).logits(DecoderTests.tokens)
        XCTAssertGreaterThan(relativeError(swapped, right), 1e-2)
        let unfusedQKV = try decoder(try Self.fused(separate, layers: 1, fuseQKV: false), c)
        XCTAssertNil(unfusedQKV.weights.layers[0].fusedQKV)
        XCTAssertEqual(try logits(unfusedQKV), try logits(try decoder(try Self.fused(separate, layers: 1), c)))
    }

    /// Tensors llama.cpp's phi3 loader refuses (unused ones, q/k/v beside attn_qkv), LongRoPE
    /// factors, and a wrong fused shape are refused by name.
    func testTensorRefusals() throws {
        let c = Self.config(layers: 1)
        let model = try Self.fused(try DecoderTests.model(c, type: .f32, tied: false, biases: false, seed: 46), layers: 1)
        func refused(_ extra: Tensor, replacing: Bool = false) -> LLMError? {
            var m = model
            do {
                if replacing { try m.replace(extra) } else { try m.append(extra) }
                _ = try DecoderWeights(model: m, config: c)
            } catch { return error as? LLMError }
            return nil
        }
        func ones(_ name: String, _ dims: [Int]) throws -> Tensor {
            try Tensor(name: name, shape: Shape(dims), floats: [Float](repeating: 1, count: dims.reduce(1, *)))
        }
        for name in ["blk.0.ffn_gate.weight", "blk.0.attn_q.weight"] {
            guard case .unsupportedTensor(name, _)? = refused(try ones(name, [c.feedForward, c.embedding])) else { return XCTFail(name) }
        }
        for (name, n) in [("blk.0.ffn_down.bias", c.embedding), ("blk.0.attn_output.bias", c.embedding), ("blk.0.attn_k.bias", c.kvWidth),
                          ("rope_factors_long.weight", 8), ("rope_freqs.weight", 8)] {
            guard case .unsupportedTensor(name, _)? = refused(try ones(name, [n])) else { return XCTFail(name) }
        }
        XCTAssertEqual(refused(try ones("blk.0.ffn_up.weight", [c.feedForward, c.embedding]), replacing: true),
                       .tensorShape(tensor: "blk.0.ffn_up.weight", expected: [2 * c.feedForward, c.embedding], actual: [c.feedForward, c.embedding]))
        XCTAssertEqual(refused(try ones("blk.0.attn_qkv.weight", [c.queryWidth, c.embedding]), replacing: true),
                       .tensorShape(tensor: "blk.0.attn_qkv.weight", expected: [c.queryWidth + 2 * c.kvWidth, c.embedding], actual: [c.queryWidth, c.embedding]))
    }

    /// phi3 GGUF metadata: NEOX rope, the sliding window (sequences past it refused naming the
    /// key), heads that do not tile the width and LongRoPE's attention factor refused.
    func testGGUFConfigAndRefusals() throws {
        func table(keyLength: Int = 16, extra: [GGUFKeyValue] = []) -> GGUFMetadataTable {
            func u32(_ key: String, _ v: Int) -> GGUFKeyValue { GGUFKeyValue("phi3." + key, .uint32(UInt32(v))) }
            return GGUFMetadataTable([
                GGUFKeyValue("general.architecture", .text("phi3")), u32("block_count", 1), u32("embedding_length", 64),
                u32("feed_forward_length", 128), u32("attention.head_count", 4), u32("attention.head_count_kv", 2),
                u32("attention.key_length", keyLength), u32("attention.value_length", keyLength),
                GGUFKeyValue("phi3.attention.layer_norm_rms_epsilon", .float32(1e-5)), u32("rope.dimension_count", keyLength),
                u32("attention.sliding_window", 8), u32("vocab_size", 64),
            ] + extra)
        }
        let c = try DecoderConfig(gguf: table())
        XCTAssertEqual(c.ropeStyle, .halves)
        XCTAssertTrue(c.fusesProjections)
        XCTAssertEqual(c.attentionWindow, 8)
        XCTAssertEqual(c.attentionWindowKey, "phi3.attention.sliding_window")
        XCTAssertThrowsError(try DecoderConfig(gguf: table(keyLength: 32))) {
            guard case .badKey("phi3.attention.key_length", _)? = $0 as? LLMError else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try DecoderConfig(gguf: table(extra: [GGUFKeyValue("phi3.rope.scaling.attn_factor", .float32(1.19))]))) {
            guard case .badKey("phi3.rope.scaling.attn_factor", _)? = $0 as? LLMError else { return XCTFail("\($0)") }
        }
        let d = try decoder(try Self.fused(try DecoderTests.model(c, type: .f32, tied: true, biases: false, seed: 47), layers: 1), c)
        XCTAssertEqual(try d.hiddenStates(Array(DecoderTests.tokens.prefix(8))).count, 8 * 64)
        XCTAssertThrowsError(try d.hiddenStates(DecoderTests.tokens)) {
            guard case .badKey("phi3.attention.sliding_window", _)? = $0 as? LLMError else { return XCTFail("\($0)") }
        }
    }

    /// The importance matrix files each fused weight under its own name with the sums of its
    /// one input: attn_qkv's are the separate model's attn_q (= attn_k = attn_v) sums, ffn_up's
    /// its ffn_gate (= ffn_up) sums; no attn_q/ffn_gate entries exist (llama-imatrix's names).
    func testImportanceMatrixNamesTheFusedWeights() throws {
        let c = Self.config()
        let separate = try DecoderTests.model(c, type: .f32, tied: false, biases: false, seed: 49)
        func entries(_ model: Model, _ c: DecoderConfig) throws -> [String: [Float]] {
            var d = try decoder(model, c)
            let collector = ImportanceCollector()
            d.observer = collector
            _ = try d.hiddenStates(DecoderTests.tokens)
            return Dictionary(uniqueKeysWithValues: collector.entries.map { ($0.name, $0.sums) })
        }
        var plain = c
        plain.architecture = "qwen2"
        let fused = try entries(try Self.fused(separate, layers: c.layers), c), reference = try entries(separate, plain)
        XCTAssertEqual(fused.keys.sorted(), (0..<2).flatMap { i in ["attn_output", "attn_qkv", "ffn_down", "ffn_up"].map { "blk.\(i).\($0).weight" } }.sorted())
        for i in 0..<2 {
            let p = "blk.\(i)."
            XCTAssertEqual(fused[p + "attn_qkv.weight"], reference[p + "attn_q.weight"])
            XCTAssertEqual(fused[p + "ffn_up.weight"], reference[p + "ffn_gate.weight"])
            XCTAssertEqual(fused[p + "ffn_down.weight"], reference[p + "ffn_down.weight"])
            XCTAssertGreaterThan(fused[p + "attn_qkv.weight"]?.reduce(0, +) ?? 0, 0)
        }
    }
}

import AICompressCore
import AICompressFormats
import Foundation
import XCTest

@testable import AICompressLLM

/// qwen3 blocks (per-head q/k RMSNorm after the projection, before rope; NEOX rope; head size
/// not embedding / heads) in the fast decoder against its plain twin, and the norm's placement
/// shown by what it makes invariant.
final class DecoderQwen3Tests: XCTestCase {
    /// 4 query heads of 32 over a 64-wide residual (q is 128 wide), 2 kv heads.
    static func config(layers: Int = 2) -> DecoderConfig {
        DecoderConfig(architecture: "qwen3", layers: layers, embedding: 64, feedForward: 128, heads: 4, kvHeads: 2,
                      headDimension: 32, rmsEpsilon: 1e-6, ropeBase: 1_000_000, ropeStyle: .halves, vocabulary: 64)
    }

    /// `DecoderTests.model` plus q/k norm weights spread from 0.3 to 2.5 (far from uniform, so that
    /// applying them to rotated dimensions, or not at all, would show).
    static func model(_ c: DecoderConfig, type: GGMLType, tied: Bool, biases: Bool, seed: UInt64) throws -> Model {
        var m = try DecoderTests.model(c, type: type, tied: tied, biases: biases, seed: seed)
        var source = GaussianSource(seed: seed &+ 100)
        for i in 0..<c.layers {
            for name in ["attn_q_norm", "attn_k_norm"] {
                let w = source.values(c.headDimension, 0.6, 1.4).map { min(max($0, 0.3), 2.5) }
                try m.append(try Tensor(name: "blk.\(i).\(name).weight", shape: Shape([c.headDimension]), floats: w))
            }
        }
        return m
    }

    func compare(type: GGMLType, tied: Bool, biases: Bool, seed: UInt64) throws {
        let c = Self.config()
        let d = try decoder(try Self.model(c, type: type, tied: tied, biases: biases, seed: seed), c)
        XCTAssertNotNil(d.weights.layers[1].queryNorm)
        XCTAssertEqual(d.weights.layers[1].keyNorm?.count, 32)
        let fast = try logits(d), slow = try DecoderReference(d).logits(DecoderTests.tokens)
        XCTAssertGreaterThan(slow.map { abs($0) }.max() ?? 0, 0.5, "logits too flat to compare")
        XCTAssertLessThanOrEqual(relativeError(fast, slow), 1e-4, "\(type) tied=\(tied) biases=\(biases)")
    }

    func testF32Tied() throws { try compare(type: .f32, tied: true, biases: false, seed: 31) }
    func testF32UntiedBiases() throws { try compare(type: .f32, tied: false, biases: true, seed: 32) }
    func testQ8_0() throws { try compare(type: .q8_0, tied: false, biases: false, seed: 33) }

    /// The norm is per head and after the projection and its bias: scaling each head's rows of
    /// attn_q (and attn_k), bias included, by its own factor leaves the logits unchanged, where
    /// the same model read as qwen2 (no head norms) changes by far more than rounding.
    func testHeadNormMakesEachHeadScaleInvariant() throws {
        let c = Self.config(layers: 1)
        let model = try Self.model(c, type: .f32, tied: false, biases: true, seed: 34)
        var scaled = model
        for (name, heads) in [("attn_q", c.heads), ("attn_k", c.kvHeads)] {
            for suffix in ["weight", "bias"] {
                let t = try XCTUnwrap(model.tensor(named: "blk.0.\(name).\(suffix)"))
                let rowLength = suffix == "weight" ? c.embedding : 1
                let factors: [Float] = (0..<heads).map { [6, 0.2, 3, 0.5][$0] }
                let v = t.floatValues().enumerated().map { i, x in x * factors[i / rowLength / c.headDimension] }
                try scaled.replace(try Tensor(name: t.name, shape: t.shape, floats: v))
            }
        }
        XCTAssertLessThanOrEqual(relativeError(try logits(try decoder(scaled, c)), try logits(try decoder(model, c))), 2e-5)
        var plain = c
        plain.architecture = "qwen2"
        XCTAssertNil(try decoder(model, plain).weights.layers[0].queryNorm, "qwen2 reads no head norms")
        XCTAssertGreaterThan(relativeError(try logits(try decoder(scaled, plain)), try logits(try decoder(model, plain))), 1e-2)
    }

    /// The norm weights are read and applied per dimension: the same model with them all 1, or
    /// with each head's halves swapped (what applying them after a quarter turn of rope would
    /// amount to), gives other logits; the placement itself is the twin's and llama.cpp's to
    /// judge (testF32*, scripts/interop/llm_eval.py).
    func testNormWeightsMatter() throws {
        let c = Self.config(layers: 1)
        let model = try Self.model(c, type: .f32, tied: false, biases: false, seed: 35)
        let base = try logits(try decoder(model, c))
        for variant in ["ones", "swapped"] {
            var m = model
            for name in ["blk.0.attn_q_norm.weight", "blk.0.attn_k_norm.weight"] {
                let w = try XCTUnwrap(model.tensor(named: name)).floatValues()
                let v = variant == "ones" ? [Float](repeating: 1, count: w.count) : Array(w[16...] + w[..<16])
                try m.replace(try Tensor(name: name, shape: Shape([w.count]), floats: v))
            }
            XCTAssertGreaterThan(relativeError(try logits(try decoder(m, c)), base), 1e-2, variant)
        }
    }

    /// AWQ's four folds (`AWQBlockScales`, random scales in [1/4, 4]) stay exact with the head
    /// norms: they act on the projections' outputs, the attn_norm fold on their inputs, and v (the
    /// v → attn_output fold's producer) has none. The head size is not width / heads here.
    func testAWQFoldsStayExact() throws {
        let c = Self.config()
        let model = try Self.model(c, type: .f32, tied: false, biases: false, seed: 37)
        let weights = try DecoderWeights(model: model, config: c)
        var g = SplitMix64(seed: 12)
        func scales(_ n: Int) -> [Float] { (0..<n).map { _ in Float(pow(4.0, 2 * Double(g.next() >> 11) / Double(1 << 53) - 1)) } }
        var replaced = [String: Tensor]()
        for (i, layer) in weights.layers.enumerated() {
            let s = AWQBlockScales(attention: scales(c.embedding), output: scales(c.kvWidth), feedForward: scales(c.embedding), down: scales(c.feedForward))
            for kind in ActivationSite.Kind.allCases {
                let name = ActivationSite(layer: i, kind: kind).tensorName, m = layer.matrix(kind)
                replaced[name] = try Tensor(name: name, shape: Shape([m.rows, m.columns]), floats: s.folded(kind, of: layer, config: c))
            }
            for (name, w) in [("attn_norm", s.attentionNorm(layer)), ("ffn_norm", s.ffnNorm(layer))] {
                replaced["blk.\(i).\(name).weight"] = try Tensor(name: "blk.\(i).\(name).weight", shape: Shape([c.embedding]), floats: w)
            }
        }
        let folded = try Model(tensors: model.tensors.map { replaced[$0.name] ?? $0 })
        let before = try logits(try decoder(model, c)), after = try logits(try decoder(folded, c))
        XCTAssertLessThanOrEqual(relativeError(after, before), 1e-5)
        let v0 = try XCTUnwrap(model.tensor(named: "blk.1.attn_v.weight")).floatValues()
        XCTAssertGreaterThan(relativeError(try XCTUnwrap(folded.tensor(named: "blk.1.attn_v.weight")).floatValues(), v0), 0.3, "the folds moved the weights")
    }

    /// qwen3 GGUF metadata: explicit key length, NEOX rope; a rope dimension count other than
    /// the head size (which llama.cpp asserts on) and a missing head norm are refused by name.
    func testGGUFConfigAndRefusals() throws {
        func table(rot: Int) -> GGUFMetadataTable {
            func u32(_ key: String, _ v: Int) -> GGUFKeyValue { GGUFKeyValue("qwen3." + key, .uint32(UInt32(v))) }
            return GGUFMetadataTable([
                GGUFKeyValue("general.architecture", .text("qwen3")), u32("block_count", 1), u32("embedding_length", 64),
                u32("feed_forward_length", 128), u32("attention.head_count", 4), u32("attention.head_count_kv", 2),
                u32("attention.key_length", 32), u32("attention.value_length", 32),
                GGUFKeyValue("qwen3.attention.layer_norm_rms_epsilon", .float32(1e-6)), u32("rope.dimension_count", rot),
                u32("vocab_size", 64),
            ])
        }
        let c = try DecoderConfig(gguf: table(rot: 32))
        XCTAssertEqual([c.headDimension, c.queryWidth, c.kvWidth], [32, 128, 64])
        XCTAssertEqual(c.ropeStyle, .halves)
        XCTAssertTrue(c.normalizesHeads)
        XCTAssertThrowsError(try DecoderConfig(gguf: table(rot: 16))) {
            guard case .badKey("qwen3.rope.dimension_count", _)? = $0 as? LLMError else { return XCTFail("\($0)") }
        }
        let model = try Self.model(c, type: .f32, tied: true, biases: false, seed: 36)
        let without = try Model(tensors: model.tensors.filter { $0.name != "blk.0.attn_k_norm.weight" })
        XCTAssertThrowsError(try DecoderWeights(model: without, config: c)) { XCTAssertEqual($0 as? LLMError, .missingTensor("blk.0.attn_k_norm.weight")) }
        var wrong = model
        try wrong.replace(try Tensor(name: "blk.0.attn_q_norm.weight", shape: Shape([16]), floats: [Float](repeating: 1, count: 16)))
        XCTAssertThrowsError(try DecoderWeights(model: wrong, config: c)) {
            XCTAssertEqual($0 as? LLMError, .tensorShape(tensor: "blk.0.attn_q_norm.weight", expected: [32], actual: [16]))
        }
    }
}

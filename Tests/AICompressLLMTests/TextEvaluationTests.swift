import AICompressCore
import AICompressFormats
import Foundation
import XCTest

@testable import AICompressLLM

/// Perplexity and KL divergence against a direct computation from the plain decoder's logits,
/// following llama-perplexity's rules written out here: chunks of n_ctx from the start, BOS in
/// place of each chunk's first token, tokens n_ctx/2+1 … n_ctx−1 scored.
final class TextEvaluationTests: XCTestCase {
    /// A SentencePiece vocabulary of 64 pieces: <unk> <s> </s>, ▁, a–z, ▁a–▁z, and fillers.
    static func vocabulary() throws -> Vocabulary {
        var tokens = ["<unk>", "<s>", "</s>", "▁"], types: [Int32] = [2, 3, 3, 1]
        for c in "abcdefghijklmnopqrstuvwxyz" { tokens.append(String(c)); types.append(1) }
        for c in "abcdefghijklmnopqrstuvwxyz" { tokens.append("▁" + String(c)); types.append(1) }
        while tokens.count < 64 { tokens.append("<extra_\(tokens.count)>"); types.append(5) }
        let scores = tokens.indices.map { GGUFValue.float32(-Float($0)) }
        let table = GGUFMetadataTable([
            GGUFKeyValue("tokenizer.ggml.model", .text("llama")),
            GGUFKeyValue("tokenizer.ggml.tokens", .array(GGUFArray(strings: tokens))),
            GGUFKeyValue("tokenizer.ggml.scores", .array(try GGUFArray(.float32, scores))),
            GGUFKeyValue("tokenizer.ggml.token_type", .array(try GGUFArray(.int32, types.map { .int32($0) }))),
        ])
        return try Vocabulary(gguf: table)
    }

    static func languageModel(seed: UInt64, type: GGMLType = .f32) throws -> LanguageModel {
        let c = DecoderTests.config(.adjacentPairs)
        let d = Decoder(config: c, weights: try DecoderWeights(model: try DecoderTests.model(c, type: type, tied: true, biases: false, seed: seed), config: c))
        return LanguageModel(decoder: d, tokenizer: Tokenizer(try vocabulary()))
    }

    static let text = Array("the quick brown fox jumps over the lazy dog and then some more words follow here so that the text is long".utf8)

    func testSentencePieceTokens() throws {
        let t = Tokenizer(try TextEvaluationTests.vocabulary())
        // BOS, then "▁t" "h" "e": scores fall with id, so ▁t (id 49) beats th-merges that do not exist.
        let ids = try t.tokenize(Array("the".utf8), addSpecial: true)
        XCTAssertEqual(ids, [1, 49, 11, 8])
    }

    func testPerplexityMatchesDirectComputation() throws {
        let lm = try TextEvaluationTests.languageModel(seed: 11)
        let eval = try TextEvaluation(context: 16)
        let r = try eval.run(lm, text: TextEvaluationTests.text)
        let tokens = try lm.tokenizer.tokenize(TextEvaluationTests.text, addSpecial: true)
        XCTAssertEqual(r.tokens, tokens.count)
        XCTAssertEqual(r.chunks, tokens.count / 16)
        var nll = 0.0, n = 0
        let ref = DecoderReference(lm.decoder), v = lm.decoder.config.vocabulary
        for c in 0..<r.chunks {
            var chunk = Array(tokens[(c * 16)..<((c + 1) * 16)])
            chunk[0] = 1
            let logits = try ref.logits(chunk)
            for j in 8..<15 {
                let row = logits[(j * v)..<((j + 1) * v)].map(Double.init)
                let m = row.max()!
                let lse = m + Foundation.log(row.map { Foundation.exp($0 - m) }.reduce(0, +))
                nll += lse - row[Int(tokens[c * 16 + j + 1])]
                n += 1
            }
        }
        XCTAssertEqual(r.scored, n)
        XCTAssertEqual(r.perplexity, Foundation.exp(nll / Double(n)), accuracy: 1e-4 * r.perplexity)
        XCTAssertGreaterThan(r.perplexityError, 0)
    }

    func testKLDivergence() throws {
        let lm = try TextEvaluationTests.languageModel(seed: 11)
        let q = try TextEvaluationTests.languageModel(seed: 11, type: .q8_0)
        let other = try TextEvaluationTests.languageModel(seed: 12)
        let eval = try TextEvaluation(context: 16)
        let same = try eval.run(lm, base: lm, text: TextEvaluationTests.text)
        let close = try eval.run(q, base: lm, text: TextEvaluationTests.text)
        let far = try eval.run(other, base: lm, text: TextEvaluationTests.text)
        let s = try XCTUnwrap(same.comparison), c = try XCTUnwrap(close.comparison), f = try XCTUnwrap(far.comparison)
        // The same model: only llama-perplexity's 16-bit rounding of the base log-probabilities is left.
        XCTAssertLessThan(s.meanKLD, 1e-6)
        XCTAssertEqual(s.sameTop, 1)
        XCTAssertEqual(s.basePerplexity, same.perplexity, accuracy: 1e-3 * same.perplexity)
        XCTAssertGreaterThan(c.meanKLD, s.meanKLD)
        XCTAssertGreaterThan(f.meanKLD, 100 * c.meanKLD)
        XCTAssertLessThan(f.sameTop, c.sameTop)
        XCTAssertEqual(f.kldPercentiles.first?.label, "Maximum")
        XCTAssertEqual(f.kldPercentiles.count, 11)
        let values = f.kldPercentiles.map(\.value)
        XCTAssertEqual(values, values.sorted(by: >))
    }

    func testPercentilesAsLlamaPerplexity() {
        let p = TextEvaluationResult.Accumulator.percentiles([4, 1, 3, 2])
        XCTAssertEqual(p.first { $0.label == "Median" }?.value, 2.5)
        XCTAssertEqual(p.first { $0.label == "90.0%" }?.value ?? 0, 3.7, accuracy: 1e-6)
        XCTAssertEqual(p.first { $0.label == "Maximum" }?.value, 4)
        XCTAssertEqual(p.first { $0.label == "Minimum" }?.value, 1)
    }

    func testRefusals() throws {
        let lm = try TextEvaluationTests.languageModel(seed: 11)
        XCTAssertThrowsError(try TextEvaluation(context: 64).run(lm, text: TextEvaluationTests.text)) {
            guard case .textTooShort(_, 128, 64) = $0 as? LLMError else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try TextEvaluation(context: 2)) { XCTAssertEqual($0 as? LLMError, .invalidParameter(name: "context", reason: "is 2; it must be at least 4")) }
        XCTAssertThrowsError(try TextEvaluation(context: 16, chunks: 0))
    }

    func testConfigFromMetadata() throws {
        var pairs = [GGUFKeyValue("general.architecture", .text("qwen2")), GGUFKeyValue("qwen2.block_count", .uint32(2)),
                     GGUFKeyValue("qwen2.embedding_length", .uint32(64)), GGUFKeyValue("qwen2.feed_forward_length", .uint32(128)),
                     GGUFKeyValue("qwen2.attention.head_count", .uint32(4)), GGUFKeyValue("qwen2.attention.head_count_kv", .uint32(2)),
                     GGUFKeyValue("qwen2.attention.layer_norm_rms_epsilon", .float32(1e-6)), GGUFKeyValue("qwen2.vocab_size", .uint32(64))]
        let c = try DecoderConfig(gguf: GGUFMetadataTable(pairs))
        XCTAssertEqual(c, DecoderConfig(architecture: "qwen2", layers: 2, embedding: 64, feedForward: 128, heads: 4, kvHeads: 2,
                                        rmsEpsilon: 1e-6, ropeStyle: .halves, vocabulary: 64))
        pairs[0] = GGUFKeyValue("general.architecture", .text("gpt2"))
        XCTAssertThrowsError(try DecoderConfig(gguf: GGUFMetadataTable(pairs))) { XCTAssertEqual($0 as? LLMError, .unsupportedArchitecture("gpt2")) }
        pairs[0] = GGUFKeyValue("general.architecture", .text("qwen2"))
        pairs[5] = GGUFKeyValue("qwen2.attention.head_count_kv", .uint32(3))
        XCTAssertThrowsError(try DecoderConfig(gguf: GGUFMetadataTable(pairs))) {
            XCTAssertEqual($0 as? LLMError, .badKey(key: "qwen2.attention.head_count_kv", reason: "3 does not divide the 4 query heads"))
        }
        pairs.remove(at: 6)
        XCTAssertThrowsError(try DecoderConfig(gguf: GGUFMetadataTable(pairs))) { _ in }
    }
}

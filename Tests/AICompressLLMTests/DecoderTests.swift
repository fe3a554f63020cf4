import AICompressCore
import Foundation
import XCTest

@testable import AICompressLLM

/// The fast decoder (panels + sgemm, batched attention on both cores) against its plain twin
/// (`DecoderReference`: one token at a time, row-by-row dot products in double) on tiny random
/// models in every storage the decoder reads.
final class DecoderTests: XCTestCase {
    /// A tiny model: `type` for the 2-D weights (f32, f16 or a ggml block type), norms f32.
    static func model(_ c: DecoderConfig, type: GGMLType, tied: Bool, biases: Bool, seed: UInt64) throws -> Model {
        var source = GaussianSource(seed: seed)
        func gauss(_ n: Int, _ scale: Float, _ mean: Float = 0) -> [Float] { source.values(n, scale, mean) }
        var tensors = [Tensor]()
        func matrix(_ name: String, _ rows: Int, _ cols: Int, _ scale: Float) throws {
            let v = gauss(rows * cols, scale)
            switch type {
            case .f32: tensors.append(try Tensor(name: name, shape: Shape([rows, cols]), floats: v))
            case .f16:
                let h = v.map { Float16($0) }
                tensors.append(try Tensor(name: name, dtype: .f16, shape: Shape([rows, cols]), data: TensorData(values: h)))
            default:
                let bytes = try type.quantize(v)
                tensors.append(try Tensor(name: name, dtype: .f32, shape: Shape([rows, cols]), encoding: .ggml(type), data: TensorData(bytes: bytes)))
            }
        }
        func vector(_ name: String, _ n: Int, _ scale: Float, _ mean: Float = 0) throws {
            tensors.append(try Tensor(name: name, shape: Shape([n]), floats: gauss(n, scale, mean)))
        }
        try matrix("token_embd.weight", c.vocabulary, c.embedding, 0.2)
        for i in 0..<c.layers {
            let p = "blk.\(i)."
            try vector(p + "attn_norm.weight", c.embedding, 0.1, 1)
            try matrix(p + "attn_q.weight", c.queryWidth, c.embedding, 0.15)
            try matrix(p + "attn_k.weight", c.kvWidth, c.embedding, 0.15)
            try matrix(p + "attn_v.weight", c.kvWidth, c.embedding, 0.1)
            if biases {
                try vector(p + "attn_q.bias", c.queryWidth, 0.3)
                try vector(p + "attn_k.bias", c.kvWidth, 0.3)
                try vector(p + "attn_v.bias", c.kvWidth, 0.1)
            }
            try matrix(p + "attn_output.weight", c.embedding, c.queryWidth, 0.1)
            try vector(p + "ffn_norm.weight", c.embedding, 0.1, 1)
            try matrix(p + "ffn_gate.weight", c.feedForward, c.embedding, 0.1)
            try matrix(p + "ffn_up.weight", c.feedForward, c.embedding, 0.1)
            try matrix(p + "ffn_down.weight", c.embedding, c.feedForward, 0.08)
        }
        try vector("output_norm.weight", c.embedding, 0.1, 1)
        if !tied { try matrix("output.weight", c.vocabulary, c.embedding, 0.2) }
        return try Model(tensors: tensors)
    }

    static let tokens: [Int32] = [1, 17, 5, 63, 2, 2, 40, 9, 33, 12, 0, 58, 7]

    /// Largest |fast − reference| over all logits, relative to the largest |reference| logit.
    func compare(_ c: DecoderConfig, type: GGMLType, tied: Bool, biases: Bool, seed: UInt64, budget: Float) throws {
        let model = try DecoderTests.model(c, type: type, tied: tied, biases: biases, seed: seed)
        let d = Decoder(config: c, weights: try DecoderWeights(model: model, config: c))
        let hidden = try d.hiddenStates(DecoderTests.tokens)
        let fast = TextEvaluation.logits(d, hidden, rows: 0..<DecoderTests.tokens.count)
        let slow = try DecoderReference(d).logits(DecoderTests.tokens)
        XCTAssertEqual(fast.count, slow.count)
        let scale = slow.map { abs($0) }.max() ?? 1
        let err = zip(fast, slow).map { abs($0 - $1) }.max() ?? .infinity
        XCTAssertGreaterThan(scale, 0.5, "logits are too flat for the comparison to mean anything")
        XCTAssertLessThanOrEqual(err / scale, budget, "\(type) tied=\(tied) biases=\(biases) \(c.ropeStyle): error \(err) of \(scale)")
    }

    static func config(_ style: DecoderConfig.RopeStyle, embedding: Int = 64) -> DecoderConfig {
        DecoderConfig(architecture: style == .halves ? "qwen2" : "llama", layers: 2, embedding: embedding, feedForward: 2 * embedding,
                      heads: 4, kvHeads: 2, ropeStyle: style, vocabulary: 64)
    }

    func testF32AdjacentPairsTied() throws { try compare(DecoderTests.config(.adjacentPairs), type: .f32, tied: true, biases: false, seed: 1, budget: 1e-4) }
    func testF32HalvesBiases() throws { try compare(DecoderTests.config(.halves), type: .f32, tied: false, biases: true, seed: 2, budget: 1e-4) }
    func testF16() throws { try compare(DecoderTests.config(.adjacentPairs), type: .f16, tied: false, biases: false, seed: 3, budget: 1e-4) }
    func testQ8_0() throws { try compare(DecoderTests.config(.halves), type: .q8_0, tied: true, biases: true, seed: 4, budget: 1e-4) }
    func testQ4_K() throws { try compare(DecoderTests.config(.adjacentPairs, embedding: 256), type: .q4_K, tied: false, biases: false, seed: 5, budget: 1e-4) }

    /// Panels smaller than the matrix (and not dividing it) give the same product as one panel.
    func testPanelsAgreeWithWholeMatrix() throws {
        let c = DecoderTests.config(.adjacentPairs)
        let model = try DecoderTests.model(c, type: .q8_0, tied: true, biases: false, seed: 6)
        let w = try WeightMatrix(model.tensor(named: "blk.0.ffn_gate.weight")!)
        let x = (0..<(5 * w.columns)).map { Float(($0 * 37) % 11) / 7 - 0.7 }
        var whole = [Float](repeating: 0, count: 5 * w.rows), split = whole
        x.withUnsafeBufferPointer { xp in
            whole.withUnsafeMutableBufferPointer { w.multiply(xp.baseAddress!, rows: 5, into: $0.baseAddress!, panelRows: w.rows) }
            split.withUnsafeMutableBufferPointer { w.multiply(xp.baseAddress!, rows: 5, into: $0.baseAddress!, panelRows: 23) }
        }
        // sgemm blocks differently for other widths, so only rounding may differ.
        XCTAssertLessThanOrEqual(zip(whole, split).map { abs($0 - $1) }.max() ?? 1, 1e-5)
        XCTAssertNotEqual(w.rows % 23, 0)
    }

    /// A causal model: the logits of a prefix do not change when tokens are appended.
    func testCausal() throws {
        let c = DecoderTests.config(.adjacentPairs)
        let d = Decoder(config: c, weights: try DecoderWeights(model: try DecoderTests.model(c, type: .f32, tied: true, biases: false, seed: 7), config: c))
        let short = Array(DecoderTests.tokens.prefix(5))
        let a = TextEvaluation.logits(d, try d.hiddenStates(short), rows: 0..<5)
        let b = TextEvaluation.logits(d, try d.hiddenStates(DecoderTests.tokens), rows: 0..<5)
        XCTAssertEqual(zip(a, b).map { abs($0 - $1) }.max() ?? 1, 0, accuracy: 1e-5)
    }

    func testRefusals() throws {
        let c = DecoderTests.config(.adjacentPairs)
        var model = try DecoderTests.model(c, type: .f32, tied: true, biases: false, seed: 8)
        let d = Decoder(config: c, weights: try DecoderWeights(model: model, config: c))
        XCTAssertThrowsError(try d.hiddenStates([64])) { XCTAssertEqual($0 as? LLMError, .tokenOutOfRange(id: 64, vocabulary: 64)) }
        try model.replace(try Tensor(name: "blk.1.attn_k.weight", shape: Shape([64, 64]), floats: [Float](repeating: 0, count: 4096)))
        XCTAssertThrowsError(try DecoderWeights(model: model, config: c)) {
            XCTAssertEqual($0 as? LLMError, .tensorShape(tensor: "blk.1.attn_k.weight", expected: [32, 64], actual: [64, 64]))
        }
        let small = try Model(tensors: model.tensors.filter { $0.name != "blk.0.ffn_up.weight" })
        XCTAssertThrowsError(try DecoderWeights(model: small, config: c)) { XCTAssertEqual($0 as? LLMError, .missingTensor("blk.0.ffn_up.weight")) }
    }
}

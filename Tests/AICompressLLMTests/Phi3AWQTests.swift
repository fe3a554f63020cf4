import AICompressCore
import Foundation
import XCTest

@testable import AICompressLLM

/// AWQ on phi3's fused attn_qkv and ffn_up (gate|up) against the same weights stored
/// separately (qwen2, phi3's graph with separate tensors): the same scales and norms, and the
/// fused weights' bytes and effective values the separate ones' concatenated, block after block.
final class Phi3AWQTests: XCTestCase {
    let sequences: [[Int32]] = [DecoderTests.tokens, DecoderTests.tokens.reversed(), DecoderTests.tokens.map { ($0 * 7 + 3) % 64 }]
    let config = DecoderPhi3Tests.config()

    func decoder(_ model: Model, architecture: String) throws -> Decoder {
        var c = config
        c.architecture = architecture
        return Decoder(config: c, weights: try DecoderWeights(model: model, config: c))
    }

    func run(_ d: Decoder, types: [ActivationSite.Kind: GGMLType]) throws -> [AWQBlock.Result] {
        var out: [AWQBlock.Result] = []
        try LayerwiseDecoderCalibration(decoder: d, sequences: sequences).run { block in
            let r = try AWQBlock.run(block, config: d.config, types: types, search: AWQScaleSearch(grid: 8))
            out.append(r)
            return r.effective
        }
        return out
    }

    func testFusedAWQEqualsTheSeparateOne() throws {
        let plain = try DecoderTests.model(config, type: .f32, tied: false, biases: false, seed: 51)
        let fused = try run(try decoder(try DecoderPhi3Tests.fused(plain, layers: config.layers), architecture: "phi3"),
                            types: [.query: .q4_0, .output: .q4_0, .up: .q4_0, .down: .q4_0])
        let separate = try run(try decoder(plain, architecture: "qwen2"),
                               types: Dictionary(uniqueKeysWithValues: ActivationSite.Kind.allCases.map { ($0, GGMLType.q4_0) }))
        XCTAssertEqual(fused.count, config.layers)
        XCTAssertEqual(separate.count, config.layers)
        for (i, (f, s)) in zip(fused, separate).enumerated() {
            XCTAssertEqual(f.scales, s.scales, "block \(i)")
            XCTAssertNotNil(f.scales.attention, "block \(i)")
            XCTAssertNotNil(f.scales.output, "block \(i)")
            XCTAssertNotNil(f.scales.feedForward, "block \(i)")
            XCTAssertNotNil(f.scales.down, "block \(i)")
            XCTAssertEqual(f.attentionNorm, s.attentionNorm, "block \(i)")
            XCTAssertEqual(f.ffnNorm, s.ffnNorm, "block \(i)")
            XCTAssertEqual(f.folds.map(\.alpha), s.folds.map(\.alpha), "block \(i)")
            func cat<T>(_ m: [ActivationSite.Kind: [T]], _ kinds: [ActivationSite.Kind]) throws -> [T] {
                try kinds.flatMap { try XCTUnwrap(m[$0], "block \(i) \($0)") }
            }
            XCTAssertEqual(try cat(f.encoded, [.query]), try cat(s.encoded, [.query, .key, .value]), "block \(i) attn_qkv")
            XCTAssertEqual(try cat(f.encoded, [.up]), try cat(s.encoded, [.gate, .up]), "block \(i) ffn_up")
            XCTAssertEqual(try cat(f.effective, [.query]), try cat(s.effective, [.query, .key, .value]), "block \(i) attn_qkv")
            XCTAssertEqual(try cat(f.effective, [.up]), try cat(s.effective, [.gate, .up]), "block \(i) ffn_up")
            for kind in [ActivationSite.Kind.output, .down] {
                XCTAssertEqual(f.encoded[kind], s.encoded[kind], "block \(i) \(kind)")
                XCTAssertEqual(f.effective[kind], s.effective[kind], "block \(i) \(kind)")
            }
        }
    }
}

import AICompressCore
import Foundation
import XCTest

@testable import AICompressLLM

/// AWQ's folds (`AWQBlockScales`) leave the float model's function unchanged, and `AWQBlock`
/// on the calibration engine encodes what it says: logits of the synthetic decoder (2 blocks,
/// embedding 64, 4 query heads over 2 kv heads) before and after folding random scales.
final class AWQFoldTests: XCTestCase {
    /// Every tensor of `model` with the folds of `scales[i]` applied to block i, as f32.
    func folded(_ model: Model, _ c: DecoderConfig, _ scales: [AWQBlockScales]) throws -> Model {
        let weights = try DecoderWeights(model: model, config: c)
        var replaced: [String: Tensor] = [:]
        for (i, layer) in weights.layers.enumerated() {
            for kind in ActivationSite.Kind.allCases {
                let name = ActivationSite(layer: i, kind: kind).tensorName, m = layer.matrix(kind)
                replaced[name] = try Tensor(name: name, shape: Shape([m.rows, m.columns]), floats: scales[i].folded(kind, of: layer, config: c))
            }
            replaced["blk.\(i).attn_norm.weight"] = try Tensor(name: "blk.\(i).attn_norm.weight", shape: Shape([c.embedding]),
                                                               floats: scales[i].attentionNorm(layer))
            replaced["blk.\(i).ffn_norm.weight"] = try Tensor(name: "blk.\(i).ffn_norm.weight", shape: Shape([c.embedding]),
                                                            floats: scales[i].ffnNorm(layer))
        }
        return try Model(tensors: model.tensors.map { replaced[$0.name] ?? $0 })
    }

    func logits(_ model: Model, _ c: DecoderConfig) throws -> [Float] {
        let d = Decoder(config: c, weights: try DecoderWeights(model: model, config: c))
        return TextEvaluation.logits(d, try d.hiddenStates(DecoderTests.tokens), rows: 0..<DecoderTests.tokens.count)
    }

    /// Largest |a − b| relative to the largest |a|.
    func relative(_ a: [Float], _ b: [Float]) -> Float {
        (zip(a, b).map { abs($0 - $1) }.max() ?? .infinity) / max(a.map(abs).max() ?? 0, 1e-30)
    }

    /// Scales in [1/4, 4] (log-uniform), `n` of them.
    func randomScales(_ n: Int, _ g: inout SplitMix64) -> [Float] {
        (0..<n).map { _ in Float(pow(4.0, 2 * Double(g.next() >> 11) / Double(1 << 53) - 1)) }
    }

    func testAllFourFoldsLeaveTheLogitsUnchanged() throws {
        let c = DecoderTests.config(.adjacentPairs)
        let model = try DecoderTests.model(c, type: .f32, tied: false, biases: false, seed: 31)
        var g = SplitMix64(seed: 8)
        let scales = (0..<c.layers).map { _ in
            AWQBlockScales(attention: randomScales(c.embedding, &g), output: randomScales(c.kvWidth, &g),
                           feedForward: randomScales(c.embedding, &g), down: randomScales(c.feedForward, &g))
        }
        let before = try logits(model, c), after = try logits(try folded(model, c, scales), c)
        XCTAssertGreaterThan(before.map(abs).max() ?? 0, 0.5, "logits too flat for the comparison to mean anything")
        XCTAssertLessThan(relative(before, after), 1e-5)
        // The folds did change the stored weights (a no-op fold would pass the line above too).
        let moved = try folded(model, c, scales).tensor(named: "blk.1.attn_v.weight")!.floatValues()
        let original = try model.tensor(named: "blk.1.attn_v.weight")!.floatValues()
        XCTAssertGreaterThan(relative(original, moved), 0.5)
    }

    /// A v → attn_output fold whose scales ignore the kv-head grouping is not exact: the test can
    /// tell a wrong head mapping from a right one.
    func testWrongHeadMappingIsCaught() throws {
        let c = DecoderTests.config(.adjacentPairs)
        let model = try DecoderTests.model(c, type: .f32, tied: false, biases: false, seed: 32)
        var g = SplitMix64(seed: 9)
        let right = AWQBlockScales(output: randomScales(c.kvWidth, &g))
        let before = try logits(model, c)
        XCTAssertLessThan(relative(before, try logits(try folded(model, c, [right, AWQBlockScales()]), c)), 1e-5)
        // Feed the v-row scales to attn_output's columns by head h instead of kv head h / group.
        let hd = c.headDimension
        let weights = try DecoderWeights(model: model, config: c), layer = weights.layers[0]
        let wrongColumns = (0..<c.queryWidth).map { right.output![($0 / hd % c.kvHeads) * hd + $0 % hd] }
        let o = layer.matrix(.output)
        let w = AWQScaleSearch.scaled(o.floats(), rows: o.rows, rowScales: nil, columnScales: wrongColumns)
        var tensors = try folded(model, c, [right, AWQBlockScales()]).tensors
        tensors = try tensors.map { $0.name == "blk.0.attn_output.weight" ? try Tensor(name: $0.name, shape: $0.shape, floats: w) : $0 }
        XCTAssertGreaterThan(relative(before, try logits(try Model(tensors: tensors), c)), 1e-3)
    }

    /// With qwen2's q/k/v biases the norm folds stay exact; `AWQBlock` does not fold v's rows
    /// (its bias would need the scale too).
    func testNormFoldsWithBiasesAndNoValueFold() throws {
        let c = DecoderTests.config(.halves)
        let model = try DecoderTests.model(c, type: .f32, tied: true, biases: true, seed: 33)
        var g = SplitMix64(seed: 10)
        let scales = (0..<c.layers).map { _ in AWQBlockScales(attention: randomScales(c.embedding, &g), feedForward: randomScales(c.embedding, &g)) }
        XCTAssertLessThan(relative(try logits(model, c), try logits(try folded(model, c, scales), c)), 1e-5)
        let d = Decoder(config: c, weights: try DecoderWeights(model: model, config: c))
        let types = Dictionary(uniqueKeysWithValues: ActivationSite.Kind.allCases.map { ($0, GGMLType.q8_0) })
        try LayerwiseDecoderCalibration(decoder: d, sequences: [DecoderTests.tokens]).run { block in
            let r = try AWQBlock.run(block, config: c, types: types, search: AWQScaleSearch(grid: 4))
            XCTAssertNil(r.scales.output)
            XCTAssertNotNil(r.scales.attention)
            XCTAssertNotNil(r.scales.down)
            return r.effective
        }
    }

    /// On the engine, Q4_0: every projection encoded, four folds per block, each no worse than
    /// α = 0; `effective` is diag(r)·decode(bytes)·diag(1/s); every XᵀX released after its fold;
    /// two runs give the same bytes.
    func testBlockOnTheEngineIsConsistentAndDeterministic() throws {
        let c = DecoderTests.config(.adjacentPairs)
        let model = try DecoderTests.model(c, type: .f32, tied: false, biases: false, seed: 34)
        let d = Decoder(config: c, weights: try DecoderWeights(model: model, config: c))
        let sequences: [[Int32]] = [DecoderTests.tokens, DecoderTests.tokens.reversed(), DecoderTests.tokens.map { ($0 * 5 + 1) % 64 }]
        let types = Dictionary(uniqueKeysWithValues: ActivationSite.Kind.allCases.map { ($0, GGMLType.q4_0) })
        func run() throws -> [[ActivationSite.Kind: [UInt8]]] {
            var out: [[ActivationSite.Kind: [UInt8]]] = []
            try LayerwiseDecoderCalibration(decoder: d, sequences: sequences).run { block in
                let r = try AWQBlock.run(block, config: c, types: types, search: AWQScaleSearch(grid: 8))
                XCTAssertEqual(Set(r.encoded.keys), Set(ActivationSite.Kind.allCases))
                XCTAssertEqual(r.folds.map(\.label), ["attn_v -> attn_output", "ffn_up -> ffn_down",
                                                      "attn_norm -> attn_q, attn_k, attn_v", "ffn_norm -> ffn_gate, ffn_up"])
                for f in r.folds { XCTAssertLessThanOrEqual(f.loss, f.baseLoss, f.label) }
                // Each fold's input lets its XᵀX go once searched; Σx² and Σ|x| stay.
                XCTAssertEqual(block.statistics.count, 4)
                XCTAssertTrue(block.statistics.values.allSatisfy { $0.gram == nil && $0.sumSquares.count == $0.columns && $0.sumAbsolute != nil })
                for kind in ActivationSite.Kind.allCases {
                    let m = block.weights(kind), q = try GGMLType.q4_0.dequantize(r.encoded[kind]!)
                    let s = r.scales.columnScales(kind, config: c)!, rows = r.scales.rowScales(kind)
                    let e = try XCTUnwrap(r.effective[kind])
                    for i in 0..<m.rows {
                        for j in 0..<m.columns {
                            XCTAssertEqual(e[i * m.columns + j], q[i * m.columns + j] * (rows?[i] ?? 1) / s[j],
                                           accuracy: 1e-6 * max(1, abs(e[i * m.columns + j])))
                        }
                    }
                }
                out.append(r.encoded)
                return r.effective
            }
            return out
        }
        let a = try run(), b = try run()
        XCTAssertEqual(a.count, c.layers)
        XCTAssertEqual(a, b)
    }
}

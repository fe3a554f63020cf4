import AICompressCore
import Foundation
import XCTest

@testable import AICompressLLM

/// The layer-by-layer engine on phi3's fused projections: attn_qkv and ffn_up are each one
/// stored weight with one input (the one q/k/v and gate/up share); their statistics against
/// sums over `DecoderReference`'s explicit activations, a fused replacement feeding the next
/// block, and the whole sweep bit for bit the sweep of the same weights stored separately (qwen2,
/// phi3's graph with separate tensors).
final class Phi3CalibrationTests: XCTestCase {
    let sequences: [[Int32]] = [DecoderTests.tokens, DecoderTests.tokens.reversed(), DecoderTests.tokens.map { ($0 * 7 + 3) % 64 }]
    let config = DecoderPhi3Tests.config()

    func separate() throws -> Model { try DecoderTests.model(config, type: .f32, tied: false, biases: false, seed: 51) }

    func decoder(_ model: Model, architecture: String = "phi3") throws -> Decoder {
        var c = config
        c.architecture = architecture
        return Decoder(config: c, weights: try DecoderWeights(model: model, config: c))
    }

    /// Every row of `w`, as f32.
    func values(_ w: WeightMatrix) -> [Float] { (0..<w.rows).flatMap { w.row($0) } }

    /// Σx² per column and XᵀX of each (block, group) input, summed in Double over the reference's
    /// explicit activations of every sequence.
    func referenceSums(_ d: Decoder) throws -> [String: (sums: [Double], gram: [Double])] {
        var out: [String: (sums: [Double], gram: [Double])] = [:]
        for s in sequences {
            _ = try DecoderReference(d).logits(s) { site, x in
                let key = "\(site.layer).\(BlockInputStatistics.Group(site.kind).rawValue)", n = x.count
                var acc = out[key] ?? ([Double](repeating: 0, count: n), [Double](repeating: 0, count: n * n))
                for i in 0..<n {
                    acc.sums[i] += Double(x[i]) * Double(x[i])
                    for j in 0..<n { acc.gram[i * n + j] += Double(x[i]) * Double(x[j]) }
                }
                out[key] = acc
            }
        }
        return out
    }

    /// Block 0's four stored weights replaced (each row scaled by its own factor, so a wrong cut
    /// of the fused rows would show): block 0's statistics are the original model's, block 1's
    /// those of the model holding the replacements, each against the reference's sums; the
    /// fused feed-forward input is gathered (one reader, `.up`), and its XᵀX too.
    func testFusedStatisticsAgainstTheReference() throws {
        let original = try DecoderPhi3Tests.fused(try separate(), layers: config.layers)
        let d = try decoder(original)
        var replacement: [ActivationSite.Kind: [Float]] = [:], replacedTensors: [String: [Float]] = [:]
        for site in d.weights.layers[0].projections(block: 0) {
            let w = d.weights.layers[0].matrix(site), v = values(w)
            let scaled = (0..<v.count).map { v[$0] * (0.5 + 0.01 * Float(($0 / w.columns) % 7)) }
            replacement[site.kind] = scaled
            replacedTensors[site.tensorName] = scaled
        }
        let changed = try Model(tensors: original.tensors.map { t in
            guard let v = replacedTensors[t.name] else { return t }
            return try Tensor(name: t.name, shape: t.shape, floats: v)
        })
        let before = try referenceSums(d), after = try referenceSums(try decoder(changed))
        var checked = 0
        try LayerwiseDecoderCalibration(decoder: d, sequences: sequences).run { block in
            XCTAssertEqual(block.projections.map(\.tensorName), ["attn_qkv", "attn_output", "ffn_up", "ffn_down"].map { "blk.\(block.index).\($0).weight" })
            XCTAssertEqual(block.weights(block.projections[0]).shape, [config.queryWidth + 2 * config.kvWidth, config.embedding])
            XCTAssertEqual(block.weights(block.projections[2]).shape, [2 * config.feedForward, config.embedding])
            XCTAssertEqual(Set(block.statistics.keys), Set(BlockInputStatistics.Group.allCases))
            let reference = block.index == 0 ? before : after
            for site in block.projections {
                let s = try XCTUnwrap(block.statistics(for: site.kind)), g = try XCTUnwrap(s.gram)
                let want = try XCTUnwrap(reference["\(block.index).\(s.group.rawValue)"])
                XCTAssertEqual(s.rows, 3 * DecoderTests.tokens.count)
                XCTAssertEqual(s.columns, block.weights(site).columns)
                for j in 0..<s.columns { XCTAssertEqual(s.sumSquares[j], want.sums[j], accuracy: 1e-4 * want.sums[j] + 1e-9, "\(site.tensorName) \(j)") }
                let largest = want.gram.map(abs).max() ?? 1
                for k in 0..<g.count { XCTAssertEqual(g[k], want.gram[k], accuracy: 1e-4 * largest, "\(site.tensorName) \(k)") }
                if block.index == 1 {
                    let old = try XCTUnwrap(before["1.\(s.group.rawValue)"]).sums
                    let moved = zip(old, want.sums).map { abs($0 - $1) / $1 }.max() ?? 0
                    XCTAssertGreaterThan(moved, 1e-3, "block 0's replacement must change block 1's inputs (\(site.tensorName))")
                }
                checked += 1
            }
            return block.index == 0 ? replacement : [:]
        }
        XCTAssertEqual(checked, 8)
    }

    /// A per-element compressor (rounding onto a grid that depends on the column's Σx²) run on
    /// phi3 and on the same weights stored separately as qwen2: every block's statistics are the
    /// same bits, and each fused replacement is the separate ones' rows stacked (q, k, v; gate,
    /// up), so a fused block feeds the next one exactly as the separate block does.
    func testFusedSweepEqualsTheSeparateOne() throws {
        let plain = try separate()
        func sweep(_ d: Decoder) throws -> (stats: [String: BlockInputStatistics], replaced: [String: [Float]]) {
            var stats: [String: BlockInputStatistics] = [:], replaced: [String: [Float]] = [:]
            try LayerwiseDecoderCalibration(decoder: d, sequences: sequences).run { block in
                var out: [ActivationSite.Kind: [Float]] = [:]
                for (group, s) in block.statistics { stats["\(block.index).\(group.rawValue)"] = s }
                for site in block.projections {
                    let w = block.weights(site), v = values(w), s = try XCTUnwrap(block.statistics(for: site.kind))
                    let top = s.sumSquares.max() ?? 1
                    out[site.kind] = (0..<v.count).map { k in
                        let step = Float(1.0 / 16 / (1 + s.sumSquares[k % w.columns] / top))
                        return (v[k] / step).rounded() * step
                    }
                    replaced[site.tensorName] = out[site.kind]
                }
                return out
            }
            return (stats, replaced)
        }
        let fused = try sweep(try decoder(try DecoderPhi3Tests.fused(plain, layers: config.layers)))
        let separate = try sweep(try decoder(plain, architecture: "qwen2"))
        XCTAssertEqual(Set(fused.stats.keys), Set(separate.stats.keys))
        XCTAssertEqual(fused.stats.count, 4 * config.layers)
        for (key, s) in fused.stats {
            let t = try XCTUnwrap(separate.stats[key])
            XCTAssertEqual(s.sumSquares, t.sumSquares, key)
            XCTAssertEqual(s.gram, t.gram, key)
            XCTAssertEqual(s.rows, t.rows, key)
        }
        for i in 0..<config.layers {
            func r(_ map: [String: [Float]], _ names: [String]) throws -> [Float] {
                try names.flatMap { try XCTUnwrap(map["blk.\(i).\($0).weight"], $0) }
            }
            XCTAssertEqual(try r(fused.replaced, ["attn_qkv"]), try r(separate.replaced, ["attn_q", "attn_k", "attn_v"]))
            XCTAssertEqual(try r(fused.replaced, ["ffn_up"]), try r(separate.replaced, ["ffn_gate", "ffn_up"]))
            for name in ["attn_output", "ffn_down"] { XCTAssertEqual(try r(fused.replaced, [name]), try r(separate.replaced, [name])) }
        }
    }

    /// A replacement keyed by a row view of a fused weight, or holding only some of its rows, is
    /// refused naming the fused tensor.
    func testRefusals() throws {
        let d = try decoder(try DecoderPhi3Tests.fused(try separate(), layers: config.layers))
        let calibration = LayerwiseDecoderCalibration(decoder: d, sequences: sequences)
        let qkv = (config.queryWidth + 2 * config.kvWidth) * config.embedding
        XCTAssertThrowsError(try calibration.run { _ in [.key: [Float](repeating: 0, count: qkv)] }) { error in
            guard case LLMError.unsupportedTensor(let name, let reason) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(name, "blk.0.attn_qkv.weight")
            XCTAssertTrue(reason.contains("keyed by attn_q, not attn_k"), reason)
        }
        XCTAssertThrowsError(try calibration.run { _ in [.query: [Float](repeating: 0, count: config.queryWidth * config.embedding)] }) { error in
            guard case LLMError.tensorShape(let name, let expected, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(name, "blk.0.attn_qkv.weight")
            XCTAssertEqual(expected, [config.queryWidth + 2 * config.kvWidth, config.embedding])
        }
    }
}

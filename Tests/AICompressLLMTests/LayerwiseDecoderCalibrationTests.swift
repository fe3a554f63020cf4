import AICompressCore
import Foundation
import XCTest

@testable import AICompressLLM

/// The layer-by-layer engine: its statistics against ones computed here from the decoder's own
/// pieces, and block i+1 seeing block i's *replacement* weights.
final class LayerwiseDecoderCalibrationTests: XCTestCase {
    let sequences: [[Int32]] = [DecoderTests.tokens, DecoderTests.tokens.reversed(), DecoderTests.tokens.map { ($0 * 7 + 3) % 64 }]

    func decoder(_ model: Model) throws -> Decoder {
        let c = DecoderTests.config(.adjacentPairs)
        return Decoder(config: c, weights: try DecoderWeights(model: model, config: c))
    }

    func model() throws -> Model {
        try DecoderTests.model(DecoderTests.config(.adjacentPairs), type: .f32, tied: true, biases: false, seed: 21)
    }

    /// Σx² and XᵀX of block 0's attention input against RMSNorm(embedding) summed here in
    /// Double; every block's Σx² against `ImportanceCollector` on the unchanged model (nothing
    /// replaced); each call sees one block, four groups, every calibration token.
    func testStatisticsOfAnUnchangedModel() throws {
        let m = try model()
        let d = try decoder(m), c = d.config
        let collector = ImportanceCollector()
        var observed = d
        observed.observer = collector
        for s in sequences { _ = try observed.hiddenStates(s) }
        let reference = Dictionary(uniqueKeysWithValues: collector.entries.map { ($0.name, $0.sums) })
        var seen: [Int] = []
        var firstGram: [Double] = []
        try LayerwiseDecoderCalibration(decoder: d, sequences: sequences).run { block in
            seen.append(block.index)
            XCTAssertEqual(block.blocks, c.layers)
            XCTAssertEqual(Set(block.statistics.keys), Set(BlockInputStatistics.Group.allCases))
            for kind in ActivationSite.Kind.allCases {
                let s = try XCTUnwrap(block.statistics(for: kind))
                XCTAssertEqual(s.rows, 3 * DecoderTests.tokens.count)
                XCTAssertEqual(s.columns, block.weights(kind).columns)
                let expected = try XCTUnwrap(reference[block.tensorName(kind)])
                for j in 0..<s.columns {
                    XCTAssertEqual(s.sumSquares[j], Double(expected[j]), accuracy: 1e-5 * Double(expected[j]) + 1e-9, "\(kind) \(j)")
                }
                let g = try XCTUnwrap(s.gram)
                for i in 0..<s.columns {
                    XCTAssertEqual(g[i * s.columns + i], s.sumSquares[i], accuracy: 1e-5 * s.sumSquares[i] + 1e-9)
                    for j in 0..<i { XCTAssertEqual(g[i * s.columns + j], g[j * s.columns + i], accuracy: 1e-5) }
                }
            }
            if block.index == 0 { firstGram = block.statistics[.attention]?.gram ?? [] }
            return [:]
        }
        XCTAssertEqual(seen, Array(0..<c.layers))
        // Block 0's attention input is RMSNorm(embedding) · norm weights.
        let e = c.embedding
        let embedding = try XCTUnwrap(m.tensor(named: "token_embd.weight")).floatValues()
        let norm = try XCTUnwrap(m.tensor(named: "blk.0.attn_norm.weight")).floatValues().map(Double.init)
        var gram = [Double](repeating: 0, count: e * e)
        for s in sequences {
            for t in s {
                let row = embedding[(Int(t) * e)..<((Int(t) + 1) * e)].map(Double.init)
                let scale = 1 / (row.reduce(0) { $0 + $1 * $1 } / Double(e) + Double(c.rmsEpsilon)).squareRoot()
                let x = (0..<e).map { row[$0] * scale * norm[$0] }
                for i in 0..<e { for j in 0..<e { gram[i * e + j] += x[i] * x[j] } }
            }
        }
        XCTAssertEqual(firstGram.count, e * e)
        let largest = gram.map(abs).max() ?? 1
        for k in 0..<(e * e) { XCTAssertEqual(firstGram[k], gram[k], accuracy: 1e-5 * largest) }
    }

    /// Block 0 replaced by halved weights: block 1's statistics are those of a model whose
    /// block 0 holds the halved weights (run whole by `ImportanceCollector`), not the original's.
    func testReplacementFeedsTheNextBlock() throws {
        let m = try model()
        let d = try decoder(m)
        var halved: [ActivationSite.Kind: [Float]] = [:]
        for kind in ActivationSite.Kind.allCases {
            let w = d.weights.layers[0].matrix(kind)
            halved[kind] = (0..<w.rows).flatMap { w.row($0) }.map { $0 * 0.5 }
        }
        let changed = try Model(tensors: m.tensors.map { t in
            guard let kind = ActivationSite.Kind.allCases.first(where: { ActivationSite(layer: 0, kind: $0).tensorName == t.name }),
                  let v = halved[kind] else { return t }
            return try Tensor(name: t.name, shape: t.shape, floats: v)
        })
        func sums(_ model: Model) throws -> [String: [Float]] {
            let collector = ImportanceCollector()
            var observed = try decoder(model)
            observed.observer = collector
            for s in sequences { _ = try observed.hiddenStates(s) }
            return Dictionary(uniqueKeysWithValues: collector.entries.map { ($0.name, $0.sums) })
        }
        let expected = try sums(changed), original = try sums(m)
        var checked = 0
        try LayerwiseDecoderCalibration(decoder: d, sequences: sequences, gram: false).run { block in
            XCTAssertNil(block.statistics[.down]?.gram)
            if block.index == 1 {
                for kind in ActivationSite.Kind.allCases {
                    let got = try XCTUnwrap(block.statistics(for: kind)).sumSquares
                    let want = try XCTUnwrap(expected[block.tensorName(kind)]), old = try XCTUnwrap(original[block.tensorName(kind)])
                    var moved = 0.0
                    for j in 0..<got.count {
                        XCTAssertEqual(got[j], Double(want[j]), accuracy: 1e-5 * Double(want[j]) + 1e-9)
                        moved = max(moved, abs(Double(old[j]) - Double(want[j])) / Double(want[j]))
                    }
                    XCTAssertGreaterThan(moved, 1e-3, "halving block 0 must change block 1's inputs (\(kind))")
                    checked += 1
                }
            }
            return block.index == 0 ? halved : [:]
        }
        XCTAssertEqual(checked, 7)
    }

    /// A replacement of the wrong size is refused naming the tensor; short texts and bad
    /// options are refused before anything runs.
    func testRefusals() throws {
        let d = try decoder(try model())
        XCTAssertThrowsError(try LayerwiseDecoderCalibration(decoder: d, sequences: sequences).run { _ in [.down: [1, 2, 3]] }) { error in
            guard case LLMError.tensorShape(let name, _, let actual) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(name, "blk.0.ffn_down.weight")
            XCTAssertEqual(actual, [3])
        }
        XCTAssertThrowsError(try LayerwiseDecoderCalibration(decoder: d, sequences: [[1, 2, 3], [1, 2]]).run { _ in [:] })
    }
}

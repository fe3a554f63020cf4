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

    /// Block 0's projections halved: the replacement weights, and the model that stores them.
    func halvedBlockZero(_ m: Model, _ d: Decoder) throws -> ([ActivationSite.Kind: [Float]], Model) {
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
        return (halved, changed)
    }

    /// Block 0 replaced by halved weights: block 1's statistics are those of a model whose
    /// block 0 holds the halved weights (run whole by `ImportanceCollector`), not the original's.
    func testReplacementFeedsTheNextBlock() throws {
        let m = try model()
        let d = try decoder(m)
        let (halved, changed) = try halvedBlockZero(m, d)
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

    /// Dense targets: block 0 replaced by halved weights; block 1's ΔᵀX of every group equals
    /// Σ (x_dense − x)ᵀ x summed here in Double from the inputs the original model and the halved
    /// one compute (each run whole), block 0 has none (its inputs are the same), and the other
    /// statistics are those of a run without dense targets.
    func testDenseTargetsGatherTheShiftOfEveryInput() throws {
        let m = try model()
        let d = try decoder(m)
        let (halved, changed) = try halvedBlockZero(m, d)
        func inputs(_ model: Model) throws -> [[BlockInputRecorder.Input]] {
            try sequences.map { s in
                let recorder = BlockInputRecorder(layer: 1)
                var observed = try decoder(model)
                observed.observer = recorder
                _ = try observed.hiddenStates(s)
                return recorder.inputs
            }
        }
        let dense = try inputs(m), compressed = try inputs(changed)
        var expected: [BlockInputStatistics.Group: [Double]] = [:]
        for (ds, cs) in zip(dense, compressed) {
            XCTAssertEqual(ds.map(\.group), cs.map(\.group))
            for (a, b) in zip(ds, cs) {
                let n = try XCTUnwrap(d.weights.layers[1].matrix(a.group.kinds[0]).columns as Int?), rows = a.values.count / n
                var acc = expected[a.group] ?? [Double](repeating: 0, count: n * n)
                for r in 0..<rows {
                    for i in 0..<n {
                        let delta = Double(a.values[r * n + i]) - Double(b.values[r * n + i])
                        for j in 0..<n { acc[i * n + j] += delta * Double(b.values[r * n + j]) }
                    }
                }
                expected[a.group] = acc
            }
        }
        var plain: [Int: [BlockInputStatistics.Group: BlockInputStatistics]] = [:]
        try LayerwiseDecoderCalibration(decoder: d, sequences: sequences).run { block in
            plain[block.index] = block.statistics
            return block.index == 0 ? halved : [:]
        }
        var checked = 0
        try LayerwiseDecoderCalibration(decoder: d, sequences: sequences, denseTargets: true).run { block in
            for group in BlockInputStatistics.Group.allCases {
                let s = try XCTUnwrap(block.statistics[group]), p = try XCTUnwrap(plain[block.index]?[group])
                XCTAssertEqual(s.gram, p.gram, "\(group): the statistics of the compressed inputs are unchanged")
                XCTAssertEqual(s.sumSquares, p.sumSquares)
                XCTAssertNil(p.cross)
                if block.index == 0 {
                    XCTAssertNil(s.cross, "block 0's inputs are the dense model's")
                } else if block.index == 1 {
                    let got = try XCTUnwrap(s.cross), want = try XCTUnwrap(expected[group])
                    let largest = want.map(abs).max() ?? 1
                    XCTAssertGreaterThan(largest, 1e-3)
                    for k in 0..<want.count { XCTAssertEqual(got[k], want[k], accuracy: 1e-4 * largest, "\(group) \(k)") }
                    checked += 1
                }
            }
            return block.index == 0 ? halved : [:]
        }
        XCTAssertEqual(checked, 4)
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

import AICompressCore
import AICompressFormats
import Foundation
import XCTest

@testable import AICompressLLM

/// The activation-observer hook and llama-imatrix's statistics on a tiny random model.
final class ImportanceCollectorTests: XCTestCase {
    func decoder() throws -> (Decoder, Model) {
        let c = DecoderTests.config(.adjacentPairs)
        let model = try DecoderTests.model(c, type: .f32, tied: true, biases: false, seed: 11)
        return (Decoder(config: c, weights: try DecoderWeights(model: model, config: c)), model)
    }

    /// The observer sees every block projection's input; the decoder's output does not change;
    /// the first block's q/k/v sums equal Σ RMSNorm(embedding)² computed here in double.
    func testObserverSumsAndCounts() throws {
        let (plain, model) = try decoder()
        let c = plain.config, tokens = DecoderTests.tokens
        let collector = ImportanceCollector()
        var observed = plain
        observed.observer = collector
        XCTAssertEqual(try observed.hiddenStates(tokens), try plain.hiddenStates(tokens))
        let entries = collector.entries
        XCTAssertEqual(entries.count, 7 * c.layers)
        XCTAssertEqual(Set(entries.map(\.name)), Set((0..<c.layers).flatMap { l in ActivationSite.Kind.allCases.map { ActivationSite(layer: l, kind: $0).tensorName } }))
        XCTAssertTrue(entries.allSatisfy { $0.count == tokens.count })
        let byName = Dictionary(uniqueKeysWithValues: entries.map { ($0.name, $0.sums) })
        XCTAssertEqual(byName["blk.0.attn_q.weight"], byName["blk.0.attn_k.weight"])
        XCTAssertEqual(byName["blk.1.ffn_gate.weight"], byName["blk.1.ffn_up.weight"])
        XCTAssertEqual(byName["blk.0.ffn_down.weight"]?.count, c.feedForward)
        XCTAssertEqual(byName["blk.0.attn_output.weight"]?.count, c.queryWidth)
        let embedding = try XCTUnwrap(model.tensor(named: "token_embd.weight")).floatValues()
        let norm = try XCTUnwrap(model.tensor(named: "blk.0.attn_norm.weight")).floatValues()
        var expected = [Double](repeating: 0, count: c.embedding)
        for t in tokens {
            let row = embedding[(Int(t) * c.embedding)..<((Int(t) + 1) * c.embedding)].map(Double.init)
            let scale = 1 / (row.reduce(0) { $0 + $1 * $1 } / Double(c.embedding) + Double(c.rmsEpsilon)).squareRoot()
            for j in 0..<c.embedding { expected[j] += pow(row[j] * scale * Double(norm[j]), 2) }
        }
        let got = try XCTUnwrap(byName["blk.0.attn_v.weight"])
        for j in 0..<c.embedding { XCTAssertEqual(Double(got[j]), expected[j], accuracy: 1e-5 * expected[j] + 1e-9, "column \(j)") }
    }

    /// The file is llama-imatrix's layout: keys, NAME.in_sum2 [columns] and NAME.counts [1].
    func testWriterLayout() throws {
        let (d, _) = try decoder()
        let collector = ImportanceCollector()
        var observed = d
        observed.observer = collector
        _ = try observed.hiddenStates(DecoderTests.tokens)
        let bytes = try ImportanceMatrixWriter.encode(collector, datasets: ["calibration.txt"])
        let file = try GGUFReader.read(bytes.withUnsafeBytes { ByteBuffer.copying($0) })
        XCTAssertEqual(file["general.type"], .string(GGUFString("imatrix")))
        XCTAssertEqual(file["imatrix.datasets"], .array(GGUFArray(strings: ["calibration.txt"])))
        XCTAssertNotNil(file["imatrix.chunk_count"])
        XCTAssertEqual(file.tensors.count, 2 * collector.entries.count)
        for e in collector.entries {
            let sums = try XCTUnwrap(file.tensor(named: e.name + ".in_sum2"))
            let counts = try XCTUnwrap(file.tensor(named: e.name + ".counts"))
            XCTAssertEqual(sums.info.type, .f32)
            XCTAssertEqual(sums.info.dims, [UInt64(e.sums.count)])
            XCTAssertEqual(counts.info.dims, [1])
            let first = sums.data.withUnsafeBytes { Float(bitPattern: $0.loadUnaligned(as: UInt32.self)) }
            XCTAssertEqual(first, e.sums[0])
            let n = counts.data.withUnsafeBytes { Float(bitPattern: $0.loadUnaligned(as: UInt32.self)) }
            XCTAssertEqual(n, Float(DecoderTests.tokens.count))
        }
    }
}

import AICompressCore
import Foundation
import XCTest

@testable import AICompressLLM

/// The on-demand engine: the same results as `LayerwiseDecoderCalibration.run`, bit for bit, in
/// any order the tensors are asked for; blocks run only when one of their tensors is asked for;
/// an item is handed out once; a failure stops every later block.
final class LayerwiseDecoderStreamTests: XCTestCase {
    static let sequences: [[Int32]] = [DecoderTests.tokens, DecoderTests.tokens.map { ($0 * 5 + 1) % 64 }]
    var sequences: [[Int32]] { Self.sequences }
    func calibration() throws -> LayerwiseDecoderCalibration { try Self.calibration() }

    /// Two sequences through a 3-block llama (also DecoderHeadStatisticsTests' model).
    static func calibration() throws -> LayerwiseDecoderCalibration {
        let c = DecoderConfig(architecture: "llama", layers: 3, embedding: 64, feedForward: 128, heads: 4, kvHeads: 2,
                              ropeStyle: .adjacentPairs, vocabulary: 64)
        let m = try DecoderTests.model(c, type: .f32, tied: false, biases: false, seed: 33)
        return LayerwiseDecoderCalibration(decoder: Decoder(config: c, weights: try DecoderWeights(model: m, config: c)),
                                           sequences: sequences)
    }

    /// A compression whose result depends on the block's statistics (each row scaled by the
    /// column's mean square of the input), so a block calibrated on other inputs differs.
    static func compress(_ block: DecoderBlockCalibration) -> [ActivationSite.Kind: [Float]] {
        var out: [ActivationSite.Kind: [Float]] = [:]
        for kind in ActivationSite.Kind.allCases {
            let w = block.weights(kind), s = block.statistics(for: kind)!
            out[kind] = (0..<w.rows).flatMap { r in
                w.row(r).enumerated().map { j, x in x * Float(0.5 + s.sumSquares[j] / Double(s.rows)) }
            }
        }
        return out
    }

    static var names: [String: Int] {
        var n: [String: Int] = [:]
        for i in 0..<3 { for k in ActivationSite.Kind.allCases { n[ActivationSite(layer: i, kind: k).tensorName] = i } }
        return n
    }

    func stream(_ c: LayerwiseDecoderCalibration, calls: @escaping (Int) throws -> Void = { _ in })
        -> LayerwiseDecoderStream<[Float]> {
        LayerwiseDecoderStream(c, blocks: Self.names) { block in
            try calls(block.index)
            let r = Self.compress(block)
            return (r, Dictionary(uniqueKeysWithValues: r.map { (block.tensorName($0.key), $0.value) }))
        }
    }

    func testSameAsRunInOrderAndOutOfOrder() throws {
        let c = try calibration()
        var expected: [String: [Float]] = [:]
        try c.run { block in
            let r = Self.compress(block)
            for (k, v) in r { expected[block.tensorName(k)] = v }
            return r
        }
        XCTAssertEqual(expected.count, 21)
        // In model order: each block runs at its first tensor, and nothing is held past its block.
        let ordered = stream(c)
        XCTAssertEqual(ordered.blocksDone, 0)
        for i in 0..<3 {
            for (n, k) in ActivationSite.Kind.allCases.enumerated() {
                let name = ActivationSite(layer: i, kind: k).tensorName
                XCTAssertEqual(try ordered.take(name), expected[name], name)
                XCTAssertEqual(ordered.blocksDone, i + 1)
                XCTAssertEqual(ordered.waiting, 6 - n)
            }
        }
        // The last block first: blocks 0 and 1 run ahead and wait, with the same values.
        let reversed = stream(c)
        for i in (0..<3).reversed() {
            for k in ActivationSite.Kind.allCases {
                let name = ActivationSite(layer: i, kind: k).tensorName
                XCTAssertEqual(try reversed.take(name), expected[name], name)
                XCTAssertEqual(reversed.blocksDone, 3)
            }
        }
        XCTAssertEqual(reversed.waiting, 0)
        // Handed out once; names the stream was not given run nothing.
        XCTAssertNil(try reversed.take("blk.0.attn_q.weight"))
        let idle = stream(c)
        XCTAssertNil(try idle.take("token_embd.weight"))
        XCTAssertNil(try idle.take("blk.9.attn_q.weight"))
        XCTAssertEqual(idle.blocksDone, 0)
    }

    struct Refused: Error, Equatable { let block: Int }

    func testFailureStopsLaterBlocks() throws {
        var ran: [Int] = []
        let s = stream(try calibration()) { i in
            ran.append(i)
            if i == 1 { throw Refused(block: 1) }
        }
        XCTAssertNotNil(try s.take("blk.0.ffn_down.weight"))
        for _ in 0..<2 {
            XCTAssertThrowsError(try s.take("blk.2.attn_q.weight")) { XCTAssertEqual($0 as? Refused, Refused(block: 1)) }
        }
        XCTAssertThrowsError(try s.take("blk.0.attn_q.weight"))
        XCTAssertEqual(ran, [0, 1])
    }
}

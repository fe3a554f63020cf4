import AICompressCore
import XCTest

@testable import AICompressPasses

/// `GGMLGPTQ.quantizeInChunks` against GPTQ of the whole matrix at once (`quantize(_:gram:)`,
/// the path the embedding and the head took before): chunks of 1, 7 and 300 rows, the default
/// and one chunk give the same bytes, for a K-type and for Q4_0 with act-order and the
/// sweep-loss scale search, with and without importance.
final class GGMLGPTQChunkTests: XCTestCase {
    func assertChunksGiveTheSameBytes(_ gptq: GGMLGPTQ, layer: GGMLGPTQTests.Layer, importance: [Float]?,
                                      file: StaticString = #filePath, line: UInt = #line) throws {
        let (rows, n) = (layer.rows, layer.n), gram = layer.gram, weights = layer.weights
        let whole = try gptq.quantize(weights, rows: rows, columns: n, gram: gram, importance: importance, layer: "w", decoding: false)
        XCTAssertEqual(whole.bytes.count, rows * n / gptq.type.blockSize * gptq.type.bytesPerBlock, file: file, line: line)
        for chunk in [1, 7, 300, rows, 10 * rows, nil] as [Int?] {
            var asked = [Range<Int>]()
            let got = try gptq.quantizeInChunks(rows: rows, columns: n, gram: gram, importance: importance, layer: "w",
                                                chunkRows: chunk) { range, out in
                asked.append(range)
                for (i, v) in weights[(range.lowerBound * n)..<(range.upperBound * n)].enumerated() { out[i] = v }
            }
            let c = min(rows, chunk ?? rows)
            XCTAssertEqual(asked, stride(from: 0, to: rows, by: c).map { $0..<min(rows, $0 + c) }, file: file, line: line)
            XCTAssertTrue(got.bytes == whole.bytes, "\(gptq.type) chunks of \(chunk.map(String.init) ?? "default") rows", file: file, line: line)
            XCTAssertTrue(got.weights.isEmpty, file: file, line: line)
            XCTAssertEqual(got.loss, whole.loss, accuracy: 1e-9 * max(1, whole.loss), file: file, line: line)
        }
    }

    func testKTypeChunksGiveTheBytesOfOneChunk() throws {
        let layer = GGMLGPTQTests.Layer(rows: 613, n: 256, tokens: 320, seed: 31)
        try assertChunksGiveTheSameBytes(try GGMLGPTQ(type: .q4_K), layer: layer, importance: layer.importance)
        try assertChunksGiveTheSameBytes(try GGMLGPTQ(type: .q6_K, actOrder: true), layer: layer, importance: nil)
    }

    func testQ4_0ActOrderSweepLossChunksGiveTheBytesOfOneChunk() throws {
        let layer = GGMLGPTQTests.Layer(rows: 601, n: 320, tokens: 352, seed: 32)
        let gptq = try GGMLGPTQ(type: .q4_0, blockSize: 64, actOrder: true, scaleSearch: .sweepLoss)
        try assertChunksGiveTheSameBytes(gptq, layer: layer, importance: layer.importance)
    }

    func testRefusesRowsOfPartialBlocks() {
        XCTAssertThrowsError(try GGMLGPTQ(type: .q4_0).quantizeInChunks(rows: 2, columns: 40, gram: [Double](repeating: 0, count: 1600),
                                                                        importance: nil, layer: "w", chunkRows: 1) { _, _ in }) {
            XCTAssertTrue("\($0)".contains("w"))
        }
    }
}

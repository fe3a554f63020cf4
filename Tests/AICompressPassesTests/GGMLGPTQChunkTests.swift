import AICompressCore
import XCTest

@testable import AICompressPasses

/// `GGMLGPTQ.quantizeInChunks` against GPTQ of the whole matrix at once (`quantize(_:gram:)`,
/// the path the embedding and the head took before): chunks of 1, 7 and 300 rows, the default
/// and one chunk give the same bytes, for a K-type and for Q4_0 with act-order and the
/// sweep-loss scale search, with and without importance, and with dense targets.
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

    /// ΔᵀX of `layer`'s inputs against a "dense" input that differs from them by about 10%.
    static func cross(_ layer: GGMLGPTQTests.Layer, seed: UInt64) -> [Double] {
        let n = layer.n
        var g = SplitMix64(seed: seed), c = [Double](repeating: 0, count: n * n)
        for t in 0..<layer.tokens {
            let x = layer.inputs[(t * n)..<((t + 1) * n)].map(Double.init)
            let d = x.map { $0 * 0.1 * (2 * g.unit() - 1) }
            for i in 0..<n where d[i] != 0 { for j in 0..<n { c[i * n + j] += d[i] * x[j] } }
        }
        return c
    }

    /// With dense targets (ΔᵀX) the head's chunks still give the bytes of one chunk, and those
    /// are GPTQ of W* = W + W·G: W* satisfies the normal equations (W* − W)·H = W·(ΔᵀX) in
    /// Double (H the damped XᵀX), and the row-independent product is bit for bit a plain loop
    /// in ascending order and agrees with the BLAS one to rounding.
    func testDenseTargetChunksGiveTheBytesOfOneChunk() throws {
        let layer = GGMLGPTQTests.Layer(rows: 203, n: 256, tokens: 320, seed: 33)
        let (rows, n) = (layer.rows, layer.n), gram = layer.gram, cross = Self.cross(layer, seed: 5)
        for gptq in [try GGMLGPTQ(type: .q4_K), try GGMLGPTQ(type: .q4_0, actOrder: true)] {
            let factored = try gptq.factored(gram: gram, columns: n, layer: "w")
            let gain = DenseTargetGain(cross: cross, factor: factored.factor, order: factored.order)
            let target = try gain.rowIndependentTarget(layer.weights, rows: rows, layer: "w")
            // The plain twin: each element from its own value, terms k = 0, 1, … as w·g added.
            var plain = layer.weights
            for r in 0..<rows {
                for j in 0..<n {
                    var c = plain[r * n + j]
                    for k in 0..<n { c = c + layer.weights[r * n + k] * gain.gain[k * n + j] }
                    plain[r * n + j] = c
                }
            }
            XCTAssertTrue(target == plain, "\(gptq.type): the kernel is the ascending-order loop")
            let blas = try gain.target(layer.weights, rows: rows, layer: "w")
            let scale = target.map { abs($0) }.max()!
            XCTAssertLessThan(zip(target, blas).map { abs($0 - $1) }.max()! / scale, 1e-5)
            // (W* − W)·H − W·C, relative to W·C, in Double.
            let h = HessianFactor.damped(gram: gram, columns: n, dampFraction: gptq.dampFraction).hessian
            var residual = 0.0, norm = 0.0
            for r in 0..<rows {
                let w = layer.weights[(r * n)..<((r + 1) * n)].map(Double.init)
                let d = (0..<n).map { Double(target[r * n + $0]) - w[$0] }
                for j in 0..<n {
                    var lhs = 0.0, rhs = 0.0
                    for k in 0..<n { lhs += d[k] * h[k * n + j]; rhs += w[k] * cross[k * n + j] }
                    residual += (lhs - rhs) * (lhs - rhs)
                    norm += rhs * rhs
                }
            }
            XCTAssertLessThan((residual / norm).squareRoot(), 1e-3, "\(gptq.type): W* fits the dense outputs")
            XCTAssertGreaterThan(zip(target, layer.weights).map { abs($0 - $1) }.max()!, 1e-3, "the targets move the weights")
            let whole = try gptq.quantize(target, rows: rows, columns: n, factored: factored, importance: layer.importance,
                                          layer: "w", decoding: false)
            for chunk in [1, 7, 150, nil] as [Int?] {
                let got = try gptq.quantizeInChunks(rows: rows, columns: n, gram: gram, importance: layer.importance, layer: "w",
                                                    chunkRows: chunk, cross: cross) { range, out in
                    for (i, v) in layer.weights[(range.lowerBound * n)..<(range.upperBound * n)].enumerated() { out[i] = v }
                }
                XCTAssertTrue(got.bytes == whole.bytes, "\(gptq.type) dense targets, chunks of \(chunk.map(String.init) ?? "default") rows")
            }
            let own = try gptq.quantizeInChunks(rows: rows, columns: n, gram: gram, importance: layer.importance, layer: "w") { range, out in
                for (i, v) in layer.weights[(range.lowerBound * n)..<(range.upperBound * n)].enumerated() { out[i] = v }
            }
            XCTAssertFalse(own.bytes == whole.bytes, "dense targets change the bytes")
        }
    }

    func testRefusesRowsOfPartialBlocks() {
        XCTAssertThrowsError(try GGMLGPTQ(type: .q4_0).quantizeInChunks(rows: 2, columns: 40, gram: [Double](repeating: 0, count: 1600),
                                                                        importance: nil, layer: "w", chunkRows: 1) { _, _ in }) {
            XCTAssertTrue("\($0)".contains("w"))
        }
    }
}

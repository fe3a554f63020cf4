import Foundation
import XCTest
@testable import AICompressCore

/// The importance-weighted Q2_K and Q3_K quantizers (llama-quantize --imatrix's
/// `quantize_row_q2_K_impl` / `quantize_row_q3_K_impl`) against their plain twin
/// (`GGMLWeightedTwin`), and the twin against llama-quantize's bytes.
final class GGMLWeightedLowBitTests: XCTestCase {
    private struct Rows {
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        mutating func next() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state >> 11) % 2_000_001 - 1_000_000) / 1_000_000
        }
    }

    /// Rows of two super-blocks: uniform values, a heavy-tailed row, a row with an all-zero
    /// group, a constant group and a negative-only group, a row of tiny values, an all-zero row;
    /// the importance has zero columns, a dominant column every 16, and an all-zero group.
    private func data() -> (x: [Float], w: [Float], rows: Int, n: Int) {
        var g = Rows()
        let n = 512, rows = 8
        var x = [Float]()
        for r in 0..<rows {
            for j in 0..<n {
                let v = g.next()
                switch r {
                case 1: x.append(v * v * v * 40)
                case 2: x.append(j < 16 ? 0 : (j < 32 ? 0.75 : (j < 48 ? -abs(v) - 0.1 : v)))
                case 3: x.append(v * 1e-6)
                case 4: x.append(0)
                case 5: x.append(j % 37 == 0 ? v * 100 : v * 0.01)
                default: x.append(v * Float(r + 1))
                }
            }
        }
        var w = [Float]()
        for j in 0..<n { w.append(j % 16 == 3 ? 50 : (j % 11 == 0 || (256..<272).contains(j) ? 0 : abs(g.next()) + 0.001)) }
        return (x, w, rows, n)
    }

    func testWeightedQ2KAndQ3KEqualTheirTwin() throws {
        let (x, w, rows, n) = data()
        for (type, twin) in [(GGMLType.q2_K, GGMLWeightedTwin.q2K), (.q3_K, GGMLWeightedTwin.q3K)] {
            let ours = try type.quantize(x, rowLength: n, importance: w)
            var expected = [UInt8]()
            for r in 0..<rows { expected += twin(Array(x[(r * n)..<((r + 1) * n)]), w) }
            XCTAssertEqual(ours.count, expected.count, "\(type)")
            XCTAssertEqual(ours.count, rows * n / 256 * type.bytesPerBlock, "\(type)")
            let size = type.bytesPerBlock
            let differing = (0..<(ours.count / size)).filter { ours[($0 * size)..<(($0 + 1) * size)] != expected[($0 * size)..<(($0 + 1) * size)] }
            XCTAssertEqual(differing, [], "\(type): super-blocks where the library and its twin differ")
            // The weighted quantizer is not the plain one on this data (the importance is read).
            XCTAssertNotEqual(ours, try type.quantize(x), "\(type)")
        }
    }

    /// The twin alone gives llama-quantize --imatrix's bytes on its fixture (so the twin is a
    /// faithful reading of the C code, not a copy of the library's mistakes).
    func testTwinEqualsLlamaQuantize() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("fixtures/gguf/imatrix/weighted")
        let raw = [UInt8](try Data(contentsOf: folder.appendingPathComponent("importance.f32")))
        let importance = raw.withUnsafeBytes { b in (0..<(b.count / 4)).map { Float(bitPattern: b.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)) } }
        let input = try oracleInput()
        XCTAssertEqual(input.count, 16 * 256)
        for (type, twin) in [(GGMLType.q2_K, GGMLWeightedTwin.q2K), (.q3_K, GGMLWeightedTwin.q3K)] {
            let expected = [UInt8](try Data(contentsOf: folder.appendingPathComponent("\(type.name).bin")))
            var got = [UInt8]()
            for r in 0..<16 { got += twin(Array(input[(256 * r)..<(256 * r + 256)]), importance) }
            XCTAssertEqual(got.count, expected.count, "\(type)")
            XCTAssertTrue(got == expected, "\(type): the twin differs from llama-quantize --imatrix")
        }
    }

    /// The importance-weighted squared error of the decoded uniform rows is lower with the
    /// importance than without it (what the weights are for), for Q2_K and Q3_K.
    func testWeightedErrorBudget() throws {
        let (x, w, _, n) = data()
        let uniform = Array(x[0..<n]) + Array(x[(6 * n)..<(8 * n)])
        for type in [GGMLType.q2_K, .q3_K] {
            func error(_ bytes: [UInt8]) throws -> Double {
                let y = try type.dequantize(bytes)
                var sum = 0.0
                for i in 0..<uniform.count {
                    let d = Double(uniform[i] - y[i])
                    sum += Double(w[i % n]) * d * d
                }
                return sum
            }
            let weighted = try error(type.quantize(uniform, rowLength: n, importance: w))
            let plain = try error(type.quantize(uniform))
            XCTAssertLessThan(weighted, plain, "\(type): weighted \(weighted) vs plain \(plain)")
        }
    }
}

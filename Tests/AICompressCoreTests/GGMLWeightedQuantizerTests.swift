import Foundation
import XCTest
@testable import AICompressCore

/// fixtures/gguf/imatrix/weighted/ (made by fixtures/gguf/imatrix/make_weighted_fixture.py with
/// llama.cpp's llama-quantize --imatrix).
private let weightedURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("fixtures/gguf/imatrix/weighted")

private func fixture(_ file: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: weightedURL.appendingPathComponent(file))) }

private func floats(_ bytes: [UInt8]) -> [Float] {
    bytes.withUnsafeBytes { raw in (0..<(raw.count / 4)).map { Float(bitPattern: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)) } }
}

final class GGMLWeightedQuantizerTests: XCTestCase {
    static let types: [GGMLType] = [.q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .iq4_NL, .iq4_XS]

    /// Every type's bytes equal llama-quantize --imatrix's for the 16 oracle rows and the
    /// fixture's importance (zero and dominant columns included), block by block.
    func testBytesEqualLlamaQuantizeWithImatrix() throws {
        let input = try oracleInput(), importance = floats(try fixture("importance.f32"))
        XCTAssertEqual(input.count, 16 * 256)
        XCTAssertEqual(importance.count, 256)
        XCTAssertTrue(importance.contains(0))
        for type in Self.types {
            let expected = try fixture("\(type.name).bin")
            let ours = try type.quantize(input, rowLength: 256, importance: importance)
            XCTAssertEqual(ours.count, expected.count, "\(type)")
            let size = type.bytesPerBlock
            let differing = (0..<(expected.count / size)).filter { b in ours[(b * size)..<((b + 1) * size)] != expected[(b * size)..<((b + 1) * size)] }
            XCTAssertEqual(differing, [], "\(type): blocks that differ from llama-quantize --imatrix")
        }
    }

    /// The importance changes the bytes for every type whose ggml quantizer reads it, and not
    /// for Q8_0 (ggml ignores it there).
    func testImportanceIsUsed() throws {
        let input = try oracleInput(), importance = floats(try fixture("importance.f32"))
        for type in Self.types {
            let weighted = try type.quantize(input, rowLength: 256, importance: importance)
            let plain = try type.quantize(input)
            XCTAssertEqual(weighted != plain, type.usesImportance, "\(type)")
        }
        XCTAssertFalse(GGMLType.q8_0.usesImportance)
        XCTAssertFalse(GGMLType.f16.usesImportance)
    }

    /// Weighting by importance lowers the importance-weighted squared error against the plain
    /// quantizer on rows whose importance is very uneven (what the weights are for).
    func testWeightedErrorIsLower() throws {
        let rows = 32, n = 256
        var x = [Float](), w = [Float]()
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state >> 11) % 2_000_001 - 1_000_000) / 1_000_000
        }
        for _ in 0..<(rows * n) { x.append(next()) }
        for j in 0..<n { w.append(j % 16 == 0 ? 100 : 0.01 + abs(next())) }
        for type in Self.types where type.usesImportance {
            func weightedError(_ bytes: [UInt8]) throws -> Double {
                let y = try type.dequantize(bytes)
                var sum = 0.0
                for i in 0..<x.count {
                    let d = Double(x[i] - y[i])
                    sum += Double(w[i % n]) * d * d
                }
                return sum
            }
            let weighted = try weightedError(type.quantize(x, rowLength: n, importance: w))
            let plain = try weightedError(type.quantize(x))
            XCTAssertLessThan(weighted, plain, "\(type)")
        }
    }

    func testSizeErrors() {
        let x = [Float](repeating: 1, count: 512)
        XCTAssertThrowsError(try GGMLType.q4_K.quantize(x, rowLength: 256, importance: [Float](repeating: 1, count: 255)))
        XCTAssertThrowsError(try GGMLType.q4_K.quantize(x, rowLength: 128, importance: [Float](repeating: 1, count: 128)))
        XCTAssertThrowsError(try GGMLType.q4_0.quantize(x, rowLength: 48, importance: [Float](repeating: 1, count: 48)))
        XCTAssertNoThrow(try GGMLType.q4_0.quantize(x, rowLength: 64, importance: [Float](repeating: 1, count: 64)))
    }
}

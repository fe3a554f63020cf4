import Foundation
import XCTest
@testable import AICompressCore

/// fixtures/gguf/oracle/ (made by fixtures/gguf/make_gguf_fixtures.py with gguf-py).
private let oracleURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("fixtures/gguf/oracle")

private func oracleBytes(_ file: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: oracleURL.appendingPathComponent(file)))
}

private struct OracleCase {
    let type: GGMLType
    let file: String
    let quantizedByGGUFPy: Bool
    let dequantizedSHA256: String
    let firstValues: [UInt32]
}

private func oracleCases() throws -> [OracleCase] {
    let json = try JSONSerialization.jsonObject(with: Data(contentsOf: oracleURL.appendingPathComponent("oracle.json")))
    let cases = try XCTUnwrap((json as? [String: Any])?["cases"] as? [[String: Any]])
    return try cases.map { c in
        let name = try XCTUnwrap(c["type"] as? String)
        return OracleCase(
            type: try XCTUnwrap(GGMLType(name: name), name),
            file: try XCTUnwrap(c["file"] as? String),
            quantizedByGGUFPy: (c["made_by"] as? String)?.hasPrefix("gguf.quants.quantize") == true,
            dequantizedSHA256: try XCTUnwrap(c["dequantized_sha256"] as? String),
            firstValues: try XCTUnwrap(c["first_values_hex"] as? [String]).compactMap { UInt32($0, radix: 16) })
    }
}

/// The oracle's input rows.
func oracleInput() throws -> [Float] {
    try oracleBytes("input.f32").withUnsafeBytes { raw in
        (0..<(raw.count / 4)).map { Float(bitPattern: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)) }
    }
}

final class GGMLOracleTests: XCTestCase {
    /// Our quantizer gives gguf-py's bytes for every type gguf-py quantizes (Q8_0, Q4_0, Q4_1,
    /// Q5_0, Q5_1, BF16, F16; gguf-py's legacy quantizers are bit-exact ports of ggml's refs).
    func testQuantizersMatchGGUFPy() throws {
        let input = try oracleInput()
        let cases = try oracleCases().filter(\.quantizedByGGUFPy)
        XCTAssertEqual(Set(cases.map(\.type)), [.q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .bf16, .f16])
        for c in cases {
            let expected = try oracleBytes(c.file)
            let ours = try c.type.quantize(input)
            XCTAssertEqual(ours.count, expected.count, "\(c.type)")
            let firstDiff = zip(ours, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset
            XCTAssertNil(firstDiff, "\(c.type): first differing byte \(firstDiff ?? -1) (block \((firstDiff ?? 0) / c.type.bytesPerBlock))")
        }
    }

    /// Our dequantizer gives gguf-py's float bits for every case: gguf-py's own quantized rows
    /// and random blocks of every quantized type we decode.
    func testDequantizersMatchGGUFPyBitForBit() throws {
        let cases = try oracleCases()
        XCTAssertEqual(Set(cases.map(\.type)), [.q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .bf16, .f16, .iq4_NL,
                                                .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .iq4_XS])
        for c in cases {
            let values = try c.type.dequantize(try oracleBytes(c.file))
            XCTAssertEqual(Array(values.prefix(16).map(\.bitPattern)), c.firstValues, "\(c.type) \(c.file)")
            let sha = values.withUnsafeBytes { SHA256.hex($0) }
            XCTAssertEqual(sha, c.dequantizedSHA256, "\(c.type) \(c.file)")
        }
    }
}

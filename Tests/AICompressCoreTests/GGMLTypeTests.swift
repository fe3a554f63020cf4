import XCTest
@testable import AICompressCore

final class GGMLTypeTests: XCTestCase {
    /// Each block layout, declared once, has ggml-common.h's size (its static_asserts), and the
    /// field offsets the codecs use.
    func testBlockLayoutsHaveGGMLSizes() {
        let expected: [GGMLType: (values: Int, bytes: Int)] = [
            .f32: (1, 4), .f16: (1, 2), .bf16: (1, 2), .f64: (1, 8), .i8: (1, 1), .i16: (1, 2), .i32: (1, 4), .i64: (1, 8),
            .q4_0: (32, 18), .q4_1: (32, 20), .q5_0: (32, 22), .q5_1: (32, 24), .q8_0: (32, 34),
            .q2_K: (256, 84), .q3_K: (256, 110), .q4_K: (256, 144), .q5_K: (256, 176), .q6_K: (256, 210),
            .iq4_NL: (32, 18), .iq4_XS: (256, 136),
        ]
        XCTAssertEqual(Set(expected.keys), Set(GGMLType.allCases))
        for (t, e) in expected {
            XCTAssertEqual(t.blockSize, e.values, "\(t)")
            XCTAssertEqual(t.bytesPerBlock, e.bytes, "\(t)")
        }
        XCTAssertEqual(GGMLType.q4_K.bitsPerWeight, 4.5)
        XCTAssertEqual(GGMLType.q6_K.bitsPerWeight, 6.5625)
        // Offsets the dequantizers and quantizers hard-code.
        XCTAssertEqual(GGMLBlockLayout.q5_0.offset("qs"), 6)
        XCTAssertEqual(GGMLBlockLayout.q5_1.offset("qh"), 4)
        XCTAssertEqual(GGMLBlockLayout.q5_1.offset("qs"), 8)
        XCTAssertEqual(GGMLBlockLayout.q2_K.offset("qs"), 16)
        XCTAssertEqual(GGMLBlockLayout.q2_K.offset("d"), 80)
        XCTAssertEqual(GGMLBlockLayout.q3_K.offset("qs"), 32)
        XCTAssertEqual(GGMLBlockLayout.q3_K.offset("scales"), 96)
        XCTAssertEqual(GGMLBlockLayout.q3_K.offset("d"), 108)
        XCTAssertEqual(GGMLBlockLayout.q4_K.offset("scales"), 4)
        XCTAssertEqual(GGMLBlockLayout.q4_K.offset("qs"), 16)
        XCTAssertEqual(GGMLBlockLayout.q5_K.offset("qh"), 16)
        XCTAssertEqual(GGMLBlockLayout.q5_K.offset("qs"), 48)
        XCTAssertEqual(GGMLBlockLayout.q6_K.offset("qh"), 128)
        XCTAssertEqual(GGMLBlockLayout.q6_K.offset("scales"), 192)
        XCTAssertEqual(GGMLBlockLayout.q6_K.offset("d"), 208)
        XCTAssertEqual(GGMLBlockLayout.iq4_XS.offset("scales_l"), 4)
        XCTAssertEqual(GGMLBlockLayout.iq4_XS.offset("qs"), 8)
    }

    func testTypeIdsAndNames() throws {
        XCTAssertEqual(try GGMLType(id: 12), .q4_K)
        XCTAssertEqual(try GGMLType(id: 30), .bf16)
        XCTAssertThrowsError(try GGMLType(id: 15)) { XCTAssertEqual($0 as? GGMLError, .unsupportedType(id: 15, name: "Q8_K")) }
        XCTAssertThrowsError(try GGMLType(id: 9)) { XCTAssertEqual($0 as? GGMLError, .unsupportedType(id: 9, name: "Q8_1")) }
        XCTAssertThrowsError(try GGMLType(id: 16)) { XCTAssertEqual($0 as? GGMLError, .unsupportedType(id: 16, name: "IQ2_XXS")) }
        XCTAssertThrowsError(try GGMLType(id: 1000)) { XCTAssertEqual($0 as? GGMLError, .unknownType(id: 1000)) }
        for t in GGMLType.allCases { XCTAssertEqual(GGMLType(name: t.name), t) }
        XCTAssertEqual(GGMLType(name: "q4_k"), .q4_K)
        XCTAssertEqual(GGMLType.q4_K.byteCount(elements: 512), 288)
        XCTAssertNil(GGMLType.q4_K.byteCount(elements: 100))
        XCTAssertNil(GGMLType.q8_0.byteCount(elements: Int.max - 31))
    }

    func testSizeErrors() {
        XCTAssertThrowsError(try GGMLType.q8_0.dequantize([UInt8](repeating: 0, count: 35))) {
            XCTAssertEqual($0 as? GGMLError, .notWholeBlocks(type: .q8_0, bytes: 35))
        }
        XCTAssertThrowsError(try GGMLType.q4_K.quantize([Float](repeating: 0, count: 32))) {
            XCTAssertEqual($0 as? GGMLError, .valuesNotWholeBlocks(type: .q4_K, values: 32))
        }
        XCTAssertThrowsError(try GGMLType.f64.quantize([Float](repeating: 0, count: 4))) {
            XCTAssertEqual($0 as? GGMLError, .noQuantizer(.f64))
        }
    }

    /// ggml's scalar helpers: nearest_int ties to even; fp16 rounding to nearest even, NaN to
    /// 0x7E00; C casts never trap.
    func testScalarHelpers() {
        XCTAssertEqual(GGMLScalar.nearestInt(2.5), 2)
        XCTAssertEqual(GGMLScalar.nearestInt(3.5), 4)
        XCTAssertEqual(GGMLScalar.nearestInt(-2.5), -2)
        XCTAssertEqual(GGMLScalar.nearestInt(-0.4), 0)
        for f: Float in [0, 1, -1, 0.1, 65504, 65520, 1e-8, 6e-5, -3.14159, .infinity, 1e30] {
            XCTAssertEqual(GGMLScalar.fp16Bits(f), Float16(f).bitPattern, "\(f)")
        }
        XCTAssertEqual(GGMLScalar.fp16Bits(.nan), 0x7E00)
        XCTAssertEqual(GGMLScalar.bf16Bits(1.00390625), 0x3F80)  // tie to even
        XCTAssertEqual(GGMLScalar.cInt8(.nan), 0)
        XCTAssertEqual(GGMLScalar.cInt8(300), 44)  // low byte of 300
        XCTAssertEqual(GGMLScalar.cInt8(-1e20), 0)
    }

    /// The library's K-quant, IQ4_NL and IQ4_XS quantizers agree byte for byte with the plain twin.
    func testKQuantsMatchThePlainTwin() throws {
        var input = try oracleInput()
        // More random rows beyond the oracle's, with a fixed seed.
        var s: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<(256 * 24) {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17
            let u = Float(s >> 40) / Float(1 << 24)
            input.append((u - 0.5) * Float(1 + (s >> 20) % 7))
        }
        XCTAssertEqual(try GGMLType.q4_K.quantize(input), GGMLReferenceTwin.q4q5K(input, q5: false))
        XCTAssertEqual(try GGMLType.q5_K.quantize(input), GGMLReferenceTwin.q4q5K(input, q5: true))
        XCTAssertEqual(try GGMLType.q6_K.quantize(input), GGMLReferenceTwin.q6K(input))
        XCTAssertEqual(try GGMLType.iq4_NL.quantize(input), GGMLReferenceTwin.iq4NL(input))
        XCTAssertEqual(try GGMLType.iq4_XS.quantize(input), GGMLReferenceTwin.iq4XS(input))
        XCTAssertEqual(try GGMLType.q2_K.quantize(input), GGMLReferenceTwin.q2K(input))
        XCTAssertEqual(try GGMLType.q3_K.quantize(input), GGMLReferenceTwin.q3K(input))
    }

    /// The SIMD K-quant searches (Q4_K, Q5_K, Q6_K) give the scalar reference's bytes on random
    /// rows and on the edge cases of their selects: all-zero, constant, positive-only and
    /// negative-only sub-blocks, a lone spike, tiny and huge magnitudes.
    func testSIMDKQuantsMatchTheScalarReference() throws {
        var input = [Float]()
        var s: UInt64 = 0x2545_F491_4F6C_DD1D
        func next() -> Float {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17
            return Float(s >> 40) / Float(1 << 24) - 0.5
        }
        for block in 0..<96 {
            let scale: Float = [1, 0.02, 1e-3, 1e-20, 3e4, 1e-12][block % 6]
            for sub in 0..<8 {
                for _ in 0..<32 {
                    var v = next() * scale
                    switch (block / 6 + sub) % 9 {
                    case 0: v = 0
                    case 1: v = scale * 0.25
                    case 2: v = abs(v)
                    case 3: v = -abs(v)
                    case 4: v = next() > 0.45 ? scale : 0
                    default: break
                    }
                    input.append(v)
                }
            }
        }
        input += [Float](repeating: 0, count: 256) + [Float](repeating: -1, count: 256)
        for t in [GGMLType.q4_K, .q5_K, .q6_K] {
            XCTAssertEqual(try t.quantize(input), try t.quantizeReference(input), "\(t)")
        }
    }

    /// Every quantizer round-trips within a named error budget (relative RMS error per type).
    func testRoundTripErrorBudgets() throws {
        var input = [Float]()
        var s: UInt64 = 12345
        for _ in 0..<(256 * 16) {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17
            input.append(Float(Int64(s >> 33) - (1 << 30)) / Float(1 << 30))
        }
        let budgets: [GGMLType: Double] = [.f32: 0, .f16: 0.001, .bf16: 0.005, .q8_0: 0.01, .q6_K: 0.03, .q5_K: 0.05,
                                           .q5_0: 0.06, .q5_1: 0.05, .q4_K: 0.1, .q4_0: 0.12, .q4_1: 0.1, .iq4_NL: 0.12, .iq4_XS: 0.12,
                                           .q3_K: 0.2, .q2_K: 0.35]
        let power = input.reduce(0) { $0 + Double($1) * Double($1) }
        for (t, budget) in budgets {
            let back = try t.dequantize(try t.quantize(input))
            let err = zip(input, back).reduce(0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }
            XCTAssertLessThanOrEqual((err / power).squareRoot(), budget, "\(t)")
        }
    }
}

import XCTest
@testable import AICompressCore

final class DTypeAndShapeTests: XCTestCase {
    func testByteCounts() {
        XCTAssertEqual(DType.f32.byteCount(elements: 3), 12)
        XCTAssertEqual(DType.bf16.byteCount(elements: 3), 6)
        XCTAssertEqual(DType.i4.byteCount(elements: 3), 2)
        XCTAssertEqual(DType.u4.byteCount(elements: 4), 2)
        XCTAssertEqual(DType.u4.byteCount(elements: 0), 0)
        XCTAssertEqual(DType.bool.byteCount(elements: 5), 5)
        XCTAssertNil(DType.f64.byteCount(elements: Int.max / 4))
        XCTAssertNil(DType.i4.byteCount(elements: Int.max))
        for d in DType.allCases { XCTAssertEqual(DType(name: d.name), d) }
    }

    func testShapeChecks() throws {
        XCTAssertEqual(try Shape([2, 3, 4]).elementCount, 24)
        XCTAssertEqual(try Shape([]).elementCount, 1)
        XCTAssertEqual(try Shape([5, 0]).elementCount, 0)
        XCTAssertThrowsError(try Shape([1 << 62, 4])) { XCTAssertEqual($0 as? ModelError, .shapeOverflow([1 << 62, 4])) }
        XCTAssertThrowsError(try Shape([2, -1])) { XCTAssertEqual($0 as? ModelError, .negativeDimension([2, -1])) }
    }

    func testTensorLengthIsChecked() {
        XCTAssertThrowsError(try Tensor(name: "t", dtype: .f32, shape: [2, 2], data: TensorData(bytes: [0, 0, 0]))) {
            XCTAssertEqual($0 as? ModelError, .dataLengthMismatch(tensor: "t", expected: 16, actual: 3))
        }
    }

    func testModelNamesAreUniqueAndNonEmpty() throws {
        let a = try Tensor(name: "a", shape: [1], floats: [1])
        XCTAssertThrowsError(try Model(tensors: [a, a])) { XCTAssertEqual($0 as? ModelError, .duplicateTensorName("a")) }
        let unnamed = try Tensor(name: "", shape: [1], floats: [1])
        XCTAssertThrowsError(try Model(tensors: [unnamed])) { XCTAssertEqual($0 as? ModelError, .emptyTensorName) }
        var m = try Model(tensors: [a])
        try m.replace(try Tensor(name: "a", shape: [2], floats: [1, 2]))
        XCTAssertEqual(m.tensor(named: "a")?.elementCount, 2)
        XCTAssertThrowsError(try m.replace(try Tensor(name: "b", shape: [1], floats: [1])))
    }

    func testProvenanceStepsAppendInOrder() {
        var m = Model()
        for i in 0..<12 { m.appendStep("step \(i)") }
        XCTAssertEqual(m.metadata["aicompress.step.000"], "step 0")
        XCTAssertEqual(m.metadata["aicompress.step.011"], "step 11")
        XCTAssertEqual(m.metadata.keys.sorted().last, "aicompress.step.011")
    }
}

final class ConversionTests: XCTestCase {
    /// Our binary16 decoder agrees with the hardware/library Float16 on all 65,536 patterns.
    func testFloat16DecodingIsExactForEveryPattern() {
        for bits in 0...UInt16.max {
            let ours = Float(float16Bits: bits)
            let reference = Float(Float16(bitPattern: bits))
            if reference.isNaN { XCTAssertTrue(ours.isNaN, "bits \(bits)") } else {
                XCTAssertEqual(ours.bitPattern, reference.bitPattern, "bits \(bits)")
            }
        }
    }

    func testBFloat16IsUpperHalf() {
        XCTAssertEqual(Float(bfloat16Bits: 0x3FC0), 1.5)
        XCTAssertEqual(Float(bfloat16Bits: 0xC000), -2)
    }

    func testFourBitDecoding() throws {
        // [0,-1,2,-3,4,-5] as signed nibbles, element 2k in the low nibble.
        let i4 = try Tensor(name: "i4", dtype: .i4, shape: [6], data: TensorData(bytes: [0xF0, 0xD2, 0xB4]))
        XCTAssertEqual(i4.doubleValues(), [0, -1, 2, -3, 4, -5])
        let u4 = try Tensor(name: "u4", dtype: .u4, shape: [3], data: TensorData(bytes: [0x21, 0x03]))
        XCTAssertEqual(u4.doubleValues(), [1, 2, 3])
    }
}

final class StatisticsTests: XCTestCase {
    /// Deterministic pseudo-random floats (xorshift), so failures reproduce.
    static func values(_ n: Int, seed: UInt64 = 0x9E37_79B9_7F4A_7C15) -> [Float] {
        var s = seed
        return (0..<n).map { _ in
            s ^= s << 13; s ^= s >> 7; s ^= s << 17
            return Float(Int64(bitPattern: s) % 2_000_001) / 1_000_000 + 0.25
        }
    }

    /// The SIMD and parallel path equals the plain reference path within a stated budget.
    func testFastPathMatchesReference() throws {
        for n in [0, 1, 7, 8, 4095, 4096, 4097, 100_003, (1 << 20) + 5] {
            var v = Self.values(n)
            if n > 10 { for i in stride(from: 0, to: n, by: 10) { v[i] = 0 } }
            let t = try Tensor(name: "t", shape: try Shape([n]), floats: v)
            let fast = t.statistics()
            let ref = TensorStatistics.of(v.map(Double.init))
            XCTAssertEqual(fast.count, ref.count)
            XCTAssertEqual(fast.zeros, ref.zeros, "n=\(n)")
            XCTAssertEqual(fast.min, ref.min)
            XCTAssertEqual(fast.max, ref.max)
            XCTAssertEqual(fast.mean, ref.mean, accuracy: 1e-6 * max(1, abs(ref.mean)), "n=\(n)")
            XCTAssertEqual(fast.standardDeviation, ref.standardDeviation, accuracy: 1e-5 * max(1, ref.standardDeviation), "n=\(n)")
        }
    }

    func testNonFiniteValuesAreCountedApart() throws {
        let t = try Tensor(name: "t", shape: [6], floats: [1, .nan, 3, .infinity, 0, -.infinity])
        let s = t.statistics()
        XCTAssertEqual(s.nonFinite, 3)
        XCTAssertEqual(s.zeros, 1)
        XCTAssertEqual(s.min, 0)
        XCTAssertEqual(s.max, 3)
        XCTAssertEqual(s.mean, 4.0 / 3.0, accuracy: 1e-12)
    }

    func testExactFigures() throws {
        let t = try Tensor(name: "t", shape: [2, 4], floats: [2, 4, 4, 4, 5, 5, 7, 9])
        let s = t.statistics()
        XCTAssertEqual(s.mean, 5)
        XCTAssertEqual(s.standardDeviation, 2)
        XCTAssertEqual(s.sparsity, 0)
        XCTAssertEqual(t.histogram(bins: 7, low: 2, high: 9), [1, 0, 3, 2, 0, 1, 1])
    }

    func testStatisticsOfIntegerTypes() throws {
        let t = try Tensor(name: "t", dtype: .i8, shape: [4], data: TensorData(bytes: [0, 0xFF, 2, 0x80]))
        let s = t.statistics()
        XCTAssertEqual(s.min, -128)
        XCTAssertEqual(s.max, 2)
        XCTAssertEqual(s.zeros, 1)
    }
}

@testable import AICompressCore
@testable import AICompressPasses
import CKernels
import XCTest

/// The AVX2 K-quant kernels (`GGMLFastEncoder`, Sources/CKernels/ggml_kquants_avx2.c) against
/// their plain twin, AICompressCore's scalar `GGMLKQuantizer` (ggml's reference code in Swift),
/// byte for byte.
final class GGMLKernelTests: XCTestCase {
    /// Random rows and the edge cases of the kernels' blends: all-zero, constant, one-signed,
    /// spiky, tiny (subnormal), huge and non-finite sub-blocks.
    static func adversarialRows() -> [Float] {
        var input = [Float]()
        var s: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> Float {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17
            return Float(s >> 40) / Float(1 << 24) - 0.5
        }
        for block in 0..<160 {
            let scale: Float = [1, 0.02, 1e-3, 1e-20, 3e4, 1e-12, 1e-40, 3e37][block % 8]
            for sub in 0..<16 {
                for k in 0..<16 {
                    var v = next() * scale
                    switch (block / 8 + sub) % 13 {
                    case 0: v = 0
                    case 1: v = scale * 0.25
                    case 2: v = abs(v)
                    case 3: v = -abs(v)
                    case 4: v = next() > 0.45 ? scale : 0
                    case 5: v = k == 3 ? -scale : v * 1e-3
                    case 6 where block % 16 == 5: v = k == 7 ? .nan : v
                    case 7 where block % 16 == 7: v = k == 0 ? .infinity : v
                    case 8 where block % 16 == 9: v = k == 9 ? -.infinity : -0.0
                    default: break
                    }
                    input.append(v)
                }
            }
        }
        return input + [Float](repeating: 0, count: 256) + [Float](repeating: -1, count: 256)
            + [Float](repeating: -0.0, count: 256) + [Float](repeating: .greatestFiniteMagnitude, count: 256)
    }

    /// Random super-blocks for the low-bit searches: every block its own magnitude (1e-37 …
    /// 1e29, log-uniform), every sub-block of 16 within a factor 10 of it and its own shape
    /// (uniform, one-signed, on a coarse grid so levels tie, a single outlier, mostly zeros,
    /// constant). Stopping make_q3_quants after one pass, or Q2_K's search after 12 steps,
    /// changes about 60 and 140 of 1,500 blocks.
    static func randomRows(blocks: Int) -> [Float] {
        var s: UInt64 = 0xD1B5_4A32_D192_ED03
        func next() -> Float {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17
            return Float(s >> 40) / Float(1 << 24)
        }
        var input = [Float]()
        input.reserveCapacity(256 * blocks)
        var blockMagnitude: Float = 1
        for sub in 0..<(16 * blocks) {
            if sub % 16 == 0 { blockMagnitude = Float(pow(10, Double(-37 + 66 * next()))) }
            let magnitude = blockMagnitude * Float(pow(10, Double(next() - 1)))
            let shape = Int(next() * 6)
            let constant = (next() - 0.5) * magnitude
            for k in 0..<16 {
                let u = next() - 0.5
                switch shape {
                case 0: input.append(u * magnitude)
                case 1: input.append(abs(u) * magnitude * (k % 2 == 0 ? 1 : 0.5))
                case 2: input.append((u * 8).rounded() / 8 * magnitude)
                case 3: input.append(k == Int(next() * 16) ? magnitude * 40 : u * magnitude)
                case 4: input.append(next() > 0.8 ? u * magnitude : 0)
                default: input.append(constant)
                }
            }
        }
        return input
    }

    /// The AVX2 encoders of every K-quant type against the plain twins, block by block.
    func assertKernelsMatchThePlainTwin(_ input: [Float], types: [GGMLType], file: StaticString = #filePath, line: UInt = #line) throws {
        for type in types {
            XCTAssertTrue(GGMLFastEncoder.hasKernel(type), file: file, line: line)
            let reference = try type.quantizeReference(input)
            var fast = [UInt8](repeating: 0xAA, count: reference.count)
            try input.withUnsafeBufferPointer { x in try fast.withUnsafeMutableBytes { try GGMLFastEncoder.encode(type, x, into: $0) } }
            let size = type.bytesPerBlock
            let different = (0..<(reference.count / size)).filter { b in
                reference[(b * size)..<((b + 1) * size)] != fast[(b * size)..<((b + 1) * size)]
            }
            XCTAssertEqual(different.count, 0, "\(type): \(different.count) blocks differ, the first \(different.first ?? -1)",
                           file: file, line: line)
        }
    }

    func testAVX2LowBitKQuantsMatchThePlainTwinOnRandomRows() throws {
        try XCTSkipUnless(GGMLFastEncoder.avx2, "no AVX2 on this CPU")
        try assertKernelsMatchThePlainTwin(Self.randomRows(blocks: 1500), types: [.q2_K, .q3_K])
    }

    func testAVX2KQuantsMatchThePlainTwin() throws {
        try XCTSkipUnless(GGMLFastEncoder.avx2, "no AVX2 on this CPU")
        try assertKernelsMatchThePlainTwin(Self.adversarialRows(), types: [.q2_K, .q3_K, .q4_K, .q5_K, .q6_K])
    }

    /// Importances of `count` columns: log-uniform over 1e-12 … 1e12, with runs of zeros (a whole
    /// sub-block of them too) and of equal values.
    static func importances(_ count: Int) -> [Float] {
        var s: UInt64 = 0x2545_F491_4F6C_DD1D
        func next() -> Float {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17
            return Float(s >> 40) / Float(1 << 24)
        }
        return (0..<count).map { c in
            switch (c / 16) % 7 {
            case 0: return 0
            case 1: return 1
            case 2: return next() > 0.7 ? 0 : next()
            default: return Float(pow(10, Double(-12 + 24 * next())))
            }
        }
    }

    /// The importance-weighted AVX2 encoders (llama-quantize --imatrix's Q2_K and Q3_K) against
    /// the plain twin `GGMLType.quantize(_:rowLength:importance:into:)`, block by block: rows of
    /// 512 (two super-blocks, so the importance advances within a row) over the random and the
    /// adversarial values.
    func testAVX2WeightedLowBitKQuantsMatchThePlainTwin() throws {
        try XCTSkipUnless(GGMLFastEncoder.avx2, "no AVX2 on this CPU")
        let row = 512
        var input = Self.randomRows(blocks: 400) + Self.adversarialRows()
        input += [Float](repeating: 0, count: (row - input.count % row) % row)
        let importance = Self.importances(row)
        for type in [GGMLType.q2_K, .q3_K] {
            XCTAssertTrue(GGMLFastEncoder.hasWeightedKernel(type))
            let reference = try type.quantize(input, rowLength: row, importance: importance)
            var fast = [UInt8](repeating: 0xAA, count: reference.count)
            try input.withUnsafeBufferPointer { x in
                try importance.withUnsafeBufferPointer { w in
                    try fast.withUnsafeMutableBytes { try GGMLFastEncoder.encode(type, x, rowLength: row, importance: w, into: $0) }
                }
            }
            let size = type.bytesPerBlock
            let different = (0..<(reference.count / size)).filter { b in
                reference[(b * size)..<((b + 1) * size)] != fast[(b * size)..<((b + 1) * size)]
            }
            XCTAssertEqual(different.count, 0, "\(type): \(different.count) blocks differ, the first \(different.first ?? -1)")
        }
    }

    /// The weighted kernels check sizes as the plain twin does.
    func testAVX2WeightedKernelRefusesBadSizes() {
        let x = [Float](repeating: 1, count: 512), w = [Float](repeating: 1, count: 256)
        var out = [UInt8](repeating: 0, count: 2 * 84)
        for (row, weights) in [(300, w), (512, w), (256, [Float](repeating: 1, count: 255))] {
            XCTAssertThrowsError(try x.withUnsafeBufferPointer { x in
                try weights.withUnsafeBufferPointer { w in
                    try out.withUnsafeMutableBytes { try GGMLFastEncoder.encode(.q2_K, x, rowLength: row, importance: w, into: $0) }
                }
            }, "row \(row), \(weights.count) weights")
        }
    }

    /// Sizes are checked as `GGMLType.quantize(_:into:)` checks them.
    func testAVX2KernelRefusesPartialBlocks() {
        let x = [Float](repeating: 1, count: 300)
        var out = [UInt8](repeating: 0, count: 144)
        XCTAssertThrowsError(try x.withUnsafeBufferPointer { x in
            try out.withUnsafeMutableBytes { try GGMLFastEncoder.encode(.q4_K, x, into: $0) }
        })
        XCTAssertThrowsError(try x[0..<256].withUnsafeBufferPointer { x in
            try out.withUnsafeMutableBytes { try GGMLFastEncoder.encode(.q6_K, x, into: $0) }
        })
    }

    /// Every half bit pattern widens as Swift's exact conversion does; NaNs come out quiet with
    /// their payload, as ggml's software fp16→fp32 (which multiplies) makes them. Unaligned input.
    func testF16CWideningIsExact() throws {
        try XCTSkipUnless(GGMLFastEncoder.f16c, "no F16C on this CPU")
        var bytes = [UInt8](repeating: 0, count: 2 * 65536 + 1)
        for h in 0..<65536 {
            bytes[1 + 2 * h] = UInt8(h & 0xFF)
            bytes[2 + 2 * h] = UInt8(h >> 8)
        }
        var out = [Float](repeating: 0, count: 65536)
        bytes.withUnsafeBytes { raw in
            out.withUnsafeMutableBufferPointer {
                aic_f16_to_f32_f16c((raw.baseAddress! + 1).assumingMemoryBound(to: UInt16.self), $0.baseAddress!, 65536)
            }
        }
        for h in 0..<65536 {
            let exact = Float(Float16(bitPattern: UInt16(h)))
            let want = exact.isNaN ? exact.bitPattern | 0x0040_0000 : exact.bitPattern
            XCTAssertEqual(out[h].bitPattern, want, "half 0x\(String(h, radix: 16))")
        }
    }
}

extension GGMLType {
    /// True when aicompress can encode into this type (bit-identically to ggml's reference
    /// quantizer, see `quantize(_:into:)`).
    public var hasQuantizer: Bool {
        switch self {
        case .f32, .f16, .bf16, .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .iq4_NL, .iq4_XS: return true
        case .f64, .i8, .i16, .i32, .i64: return false
        }
    }

    /// Encodes floats into whole blocks of this type, bit-identically to what llama-quantize
    /// writes without an importance matrix: ggml's `quantize_row_*_ref` for Q4_0, Q4_1, Q5_0,
    /// Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K; `quantize_iq4_nl` (7 scale tries) for IQ4_NL, `quantize_iq4_xs` for IQ4_XS; ggml's
    /// fp32→fp16 and fp32→bf16 rounding for F16 and BF16.
    /// - Parameters:
    ///   - values: a whole number of blocks of values (ggml quantizes along the row).
    ///   - out: room for exactly `values.count / blockSize * bytesPerBlock` bytes.
    /// - Throws: `GGMLError.noQuantizer`, `.valuesNotWholeBlocks`, `.sizeMismatch`.
    public func quantize(_ values: UnsafeBufferPointer<Float>, into out: UnsafeMutableRawBufferPointer) throws(GGMLError) {
        guard hasQuantizer else { throw .noQuantizer(self) }
        let n = blockSize, size = bytesPerBlock
        guard values.count % n == 0 else { throw .valuesNotWholeBlocks(type: self, values: values.count) }
        let blocks = values.count / n
        guard out.count == blocks * size else { throw .sizeMismatch(type: self, values: values.count, bytes: out.count) }
        encodeBlocks(values, out)
    }

    /// The loop of `quantize(_:into:)`, once the type and sizes are checked. `reference` runs
    /// the plain scalar K-quant searches instead of their SIMD twins (`GGMLKQuantizerSIMD`;
    /// the same bytes, tested against each other).
    func encodeBlocks(_ values: UnsafeBufferPointer<Float>, _ out: UnsafeMutableRawBufferPointer, reference: Bool = false) {
        let n = blockSize, size = bytesPerBlock
        guard let x = values.baseAddress else { return }
        let blocks = values.count / n
        var scratch = GGMLKQuantizer.Scratch()
        for i in 0..<blocks {
            let y = UnsafeMutableRawBufferPointer(rebasing: out[(i * size)..<((i + 1) * size)])
            let xb = x + i * n
            switch self {
            case .f32: y.ggmlStoreU32(xb[0].bitPattern, at: 0)
            case .f16: y.ggmlStoreU16(GGMLScalar.fp16Bits(xb[0]), at: 0)
            case .bf16: y.ggmlStoreU16(GGMLScalar.bf16Bits(xb[0]), at: 0)
            case .q4_0: GGMLLegacyQuantizer.q4_0(xb, y)
            case .q4_1: GGMLLegacyQuantizer.q4_1(xb, y)
            case .q5_0: GGMLLegacyQuantizer.q5_0(xb, y)
            case .q5_1: GGMLLegacyQuantizer.q5_1(xb, y)
            case .q8_0: GGMLLegacyQuantizer.q8_0(xb, y)
            case .q2_K: GGMLLowBitKQuantizer.q2_K(xb, y, &scratch)
            case .q3_K: GGMLLowBitKQuantizer.q3_K(xb, y, &scratch)
            case .q4_K, .q5_K:
                let fifthBits = self == .q5_K
                if reference {
                    GGMLKQuantizer.fitQ4K(xb, &scratch, fifthBits: fifthBits)
                } else {
                    GGMLKQuantizerSIMD.fitQ4K(xb, &scratch, fifthBits: fifthBits)
                }
                GGMLKQuantizer.packQ4K(xb, y, &scratch, fifthBits: fifthBits)
            case .q6_K:
                if reference { GGMLKQuantizer.q6_K(xb, y, &scratch) } else {
                    GGMLKQuantizerSIMD.fitQ6K(xb, &scratch)
                    GGMLKQuantizer.packQ6K(xb, y, &scratch)
                }
            case .iq4_NL: GGMLIQ4NLQuantizer.block(xb, y)
            case .iq4_XS: GGMLIQ4XSQuantizer.superBlock(xb, y)
            case .f64, .i8, .i16, .i32, .i64: return  // refused by quantize(_:into:)
            }
        }
    }

    /// `quantize(_:)` through the plain scalar searches (the reference twin of the SIMD ones).
    func quantizeReference(_ values: [Float]) throws(GGMLError) -> [UInt8] {
        guard hasQuantizer else { throw .noQuantizer(self) }
        guard values.count % blockSize == 0 else { throw .valuesNotWholeBlocks(type: self, values: values.count) }
        var out = [UInt8](repeating: 0, count: values.count / blockSize * bytesPerBlock)
        values.withUnsafeBufferPointer { x in out.withUnsafeMutableBytes { encodeBlocks(x, $0, reference: true) } }
        return out
    }

    /// Encodes floats into a new byte array (see `quantize(_:into:)`).
    /// - Throws: `GGMLError.noQuantizer`, `.valuesNotWholeBlocks`.
    public func quantize(_ values: [Float]) throws(GGMLError) -> [UInt8] {
        guard hasQuantizer else { throw .noQuantizer(self) }
        guard values.count % blockSize == 0 else { throw .valuesNotWholeBlocks(type: self, values: values.count) }
        var out = [UInt8](repeating: 0, count: values.count / blockSize * bytesPerBlock)
        values.withUnsafeBufferPointer { x in out.withUnsafeMutableBytes { encodeBlocks(x, $0) } }
        return out
    }
}

/// ggml-quants.c's `quantize_row_{q4_0,q4_1,q5_0,q5_1,q8_0}_ref`, one block of 32 at a time,
/// with C's float→integer casts spelled out (GGMLScalar).
enum GGMLLegacyQuantizer {
    /// The value of largest magnitude, sign kept (the first one on ties).
    @inline(__always)
    static func signedAbsMax(_ x: UnsafePointer<Float>) -> Float {
        var amax: Float = 0, maxValue: Float = 0
        for j in 0..<32 where amax < abs(x[j]) {
            amax = abs(x[j])
            maxValue = x[j]
        }
        return maxValue
    }

    @inline(__always)
    static func minMax(_ x: UnsafePointer<Float>) -> (min: Float, max: Float) {
        var lo = Float.greatestFiniteMagnitude, hi = -Float.greatestFiniteMagnitude
        for j in 0..<32 {
            if x[j] < lo { lo = x[j] }
            if x[j] > hi { hi = x[j] }
        }
        return (lo, hi)
    }

    /// `MIN(limit, (int8_t)v)` stored into a uint8_t.
    @inline(__always)
    static func clampedNibble(_ v: Float, _ limit: Int32) -> UInt8 {
        UInt8(truncatingIfNeeded: GGMLScalar.cMin(limit, Int32(GGMLScalar.cInt8(v))))
    }

    static func q4_0(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawBufferPointer) {
        let d = signedAbsMax(x) / -8
        let id: Float = d != 0 ? 1 / d : 0
        y.ggmlStoreHalf(d, at: 0)
        for j in 0..<16 {
            let x0 = x[j] * id, x1 = x[16 + j] * id
            y[2 + j] = clampedNibble(x0 + 8.5, 15) | clampedNibble(x1 + 8.5, 15) << 4
        }
    }

    /// The min-offset scale of Q4_1/Q5_1 (`d = (max - min) / levels`): stores d and min, returns
    /// min and 1/d.
    @inline(__always)
    static func storeScaleAndMin(_ x: UnsafePointer<Float>, levels: Float, _ y: UnsafeMutableRawBufferPointer) -> (min: Float, id: Float) {
        let (lo, hi) = minMax(x)
        let d = (hi - lo) / levels
        y.ggmlStoreHalf(d, at: 0)
        y.ggmlStoreHalf(lo, at: 2)
        return (lo, d != 0 ? 1 / d : 0)
    }

    /// Stores the 5-bit levels q0 (value j) and q1 (value j + 16): low nibbles at `qs + j`, fifth
    /// bits into `qh`.
    @inline(__always)
    static func storeFiveBit(_ q0: UInt8, _ q1: UInt8, _ j: Int, qs: Int, _ y: UnsafeMutableRawBufferPointer, _ qh: inout UInt32) {
        y[qs + j] = (q0 & 0x0F) | (q1 & 0x0F) << 4
        qh |= (UInt32(q0 & 0x10) >> 4) << UInt32(j)
        qh |= (UInt32(q1 & 0x10) >> 4) << UInt32(j + 16)
    }

    static func q4_1(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawBufferPointer) {
        let (lo, id) = storeScaleAndMin(x, levels: 15, y)
        for j in 0..<16 {
            let x0 = (x[j] - lo) * id, x1 = (x[16 + j] - lo) * id
            y[4 + j] = clampedNibble(x0 + 0.5, 15) | clampedNibble(x1 + 0.5, 15) << 4
        }
    }

    static func q5_0(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawBufferPointer) {
        let d = signedAbsMax(x) / -16
        let id: Float = d != 0 ? 1 / d : 0
        y.ggmlStoreHalf(d, at: 0)
        var qh: UInt32 = 0
        for j in 0..<16 {
            let x0 = x[j] * id, x1 = x[16 + j] * id
            storeFiveBit(clampedNibble(x0 + 16.5, 31), clampedNibble(x1 + 16.5, 31), j, qs: 6, y, &qh)
        }
        y.ggmlStoreU32(qh, at: 2)
    }

    static func q5_1(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawBufferPointer) {
        let (lo, id) = storeScaleAndMin(x, levels: 31, y)
        var qh: UInt32 = 0
        for j in 0..<16 {
            let q0 = GGMLScalar.cUInt8((x[j] - lo) * id + 0.5), q1 = GGMLScalar.cUInt8((x[16 + j] - lo) * id + 0.5)
            storeFiveBit(q0, q1, j, qs: 8, y, &qh)
        }
        y.ggmlStoreU32(qh, at: 4)
    }

    static func q8_0(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawBufferPointer) {
        var amax: Float = 0
        for j in 0..<32 { amax = GGMLScalar.cMax(amax, abs(x[j])) }
        let d = amax / 127
        let id: Float = d != 0 ? 1 / d : 0
        y.ggmlStoreHalf(d, at: 0)
        for j in 0..<32 {
            y[2 + j] = UInt8(bitPattern: GGMLScalar.cInt8((x[j] * id).rounded(.toNearestOrAwayFromZero)))
        }
    }
}

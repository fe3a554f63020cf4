/// The scalar conversions of ggml's C code, written so that Swift gives the same bits: C's
/// implicit float→integer casts (which Swift would trap on), `nearest_int`, and ggml's own
/// fp32→fp16 rounding. None of these trap, whatever the input (NaN and infinities included).
enum GGMLScalar {
    /// ggml `nearest_int`: round to nearest, ties to even, by the 1.5·2²³ trick. Exact for
    /// |x| ≤ 4194303 (ggml asserts that in debug builds); outside it returns what the trick
    /// gives, as release builds of ggml do.
    @inline(__always)
    static func nearestInt(_ x: Float) -> Int32 {
        let v = x + 12582912
        return Int32(bitPattern: v.bitPattern & 0x007f_ffff) - 0x0040_0000
    }

    /// A C `(int)x` conversion as x86-64 does it (cvttss2si): truncation toward zero, and the
    /// "integer indefinite" Int32.min for NaN and out-of-range values.
    @inline(__always)
    static func truncatingInt32(_ x: Float) -> Int32 {
        guard x > -2147483904, x < 2147483648 else { return Int32.min }
        return Int32(x)
    }

    /// C `(int8_t)x` for a float x: the low byte of the 32-bit truncation.
    @inline(__always)
    static func cInt8(_ x: Float) -> Int8 { Int8(truncatingIfNeeded: truncatingInt32(x)) }

    /// C `(uint8_t)x` for a float x: the low byte of the 32-bit truncation.
    @inline(__always)
    static func cUInt8(_ x: Float) -> UInt8 { UInt8(truncatingIfNeeded: truncatingInt32(x)) }

    // ggml's `MAX(a, b)` and `MIN(a, b)` macros, `a > b ? a : b` and `a < b ? a : b` (their NaN
    // behaviour differs from `Swift.max`/`min`). Concrete overloads, not one generic: a generic
    // across files was left unspecialised and dominated the quantizers' profile.
    @inline(__always) static func cMax(_ a: Float, _ b: Float) -> Float { a > b ? a : b }
    @inline(__always) static func cMax(_ a: Int32, _ b: Int32) -> Int32 { a > b ? a : b }
    @inline(__always) static func cMax(_ a: Int8, _ b: Int8) -> Int8 { a > b ? a : b }
    @inline(__always) static func cMin(_ a: Int32, _ b: Int32) -> Int32 { a < b ? a : b }
    @inline(__always) static func cMin(_ a: Int8, _ b: Int8) -> Int8 { a < b ? a : b }
    @inline(__always) static func cMin(_ a: UInt8, _ b: UInt8) -> UInt8 { a < b ? a : b }

    /// ggml `GGML_FP32_TO_FP16` (ggml_compute_fp32_to_fp16): round to nearest even, overflow to
    /// infinity, every NaN to the quiet NaN 0x7E00 with the sign kept.
    @inline(__always)
    static func fp16Bits(_ f: Float) -> UInt16 {
        let scaleToInf = Float(bitPattern: 0x7780_0000)   // 2^112
        let scaleToZero = Float(bitPattern: 0x0880_0000)  // 2^-110
        var base = (abs(f) * scaleToInf) * scaleToZero
        let w = f.bitPattern
        let shl1 = w &+ w
        let sign = w & 0x8000_0000
        var bias = shl1 & 0xFF00_0000
        if bias < 0x7100_0000 { bias = 0x7100_0000 }
        base = Float(bitPattern: (bias >> 1) &+ 0x0780_0000) + base
        let bits = base.bitPattern
        let expBits = (bits >> 13) & 0x0000_7C00
        let mantissa = bits & 0x0000_0FFF
        let nonsign = expBits &+ mantissa
        return UInt16(truncatingIfNeeded: (sign >> 16) | (shl1 > 0xFF00_0000 ? 0x7E00 : nonsign))
    }

    /// An fp16 bit pattern as Float (exact).
    @inline(__always)
    static func fp16ToFloat(_ bits: UInt16) -> Float { Float(Float16(bitPattern: bits)) }

    /// ggml `GGML_FP32_TO_BF16` (ggml_compute_fp32_to_bf16): NaN made quiet, else round to
    /// nearest even.
    @inline(__always)
    static func bf16Bits(_ f: Float) -> UInt16 {
        let u = f.bitPattern
        if (u & 0x7fff_ffff) > 0x7f80_0000 { return UInt16(truncatingIfNeeded: (u >> 16) | 64) }
        return UInt16(truncatingIfNeeded: (UInt64(u) + UInt64(0x7fff + ((u >> 16) & 1))) >> 16)
    }

    /// A bf16 bit pattern as Float (exact).
    @inline(__always)
    static func bf16ToFloat(_ bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }

    /// The IQ4_NL / IQ4_XS value table (ggml `kvalues_iq4nl`).
    static let iq4nlValues: [Int8] = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113]
}

extension UnsafeRawBufferPointer {
    /// The little-endian u16 at byte `offset` (unaligned).
    @inline(__always)
    func ggmlU16(_ offset: Int) -> UInt16 { UInt16(self[offset]) | UInt16(self[offset + 1]) << 8 }

    /// The little-endian u32 at byte `offset` (unaligned).
    @inline(__always)
    func ggmlU32(_ offset: Int) -> UInt32 {
        UInt32(self[offset]) | UInt32(self[offset + 1]) << 8 | UInt32(self[offset + 2]) << 16 | UInt32(self[offset + 3]) << 24
    }

    /// The fp16 at byte `offset`, as Float.
    @inline(__always)
    func ggmlHalf(_ offset: Int) -> Float { GGMLScalar.fp16ToFloat(ggmlU16(offset)) }
}

extension UnsafeMutableRawBufferPointer {
    /// Stores `v` little-endian at byte `offset`.
    @inline(__always)
    func ggmlStoreU16(_ v: UInt16, at offset: Int) {
        self[offset] = UInt8(truncatingIfNeeded: v)
        self[offset + 1] = UInt8(truncatingIfNeeded: v >> 8)
    }

    /// Stores `v` little-endian at byte `offset`.
    @inline(__always)
    func ggmlStoreU32(_ v: UInt32, at offset: Int) {
        for k in 0..<4 { self[offset + k] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(k))) }
    }

    /// Stores `f` as ggml fp16 at byte `offset`.
    @inline(__always)
    func ggmlStoreHalf(_ f: Float, at offset: Int) { ggmlStoreU16(GGMLScalar.fp16Bits(f), at: offset) }
}

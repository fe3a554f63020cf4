import AICompressCore

/// The grid one encoded ggml block offers each of its values once its scales (and mins) are
/// fixed: value = Float(q − bias) · multiplier + offset for a level q in `levels` (the affine
/// types), or multiplier · table[q] (IQ4_NL, IQ4_XS: ggml's non-uniform `kvalues_iq4nl`),
/// computed with the float operations of ggml's `dequantize_row_*` (so a value rounded here
/// decodes to exactly itself), and the placement of each level's bits in the block. GPTQ fixes a
/// block's header with the type's own scale search, then rounds each column onto this grid.
///
/// Every quantized type the planner writes is described: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K,
/// Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS.
struct GGMLBlockGrid {
    /// The types this grid describes.
    static let supported: [GGMLType] = [.q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .iq4_NL, .iq4_XS]

    let type: GGMLType
    /// Smallest and largest stored level.
    let levels: ClosedRange<Int>
    /// Subtracted from a level before scaling (8 for Q4_0, 16 for Q5_0, 4 for Q3_K, 32 for Q6_K).
    let bias: Int
    /// The value of each level before scaling, for the non-uniform types (nil: q − bias).
    let table: [Float]?

    init?(_ type: GGMLType) {
        switch type {
        case .q4_0: (levels, bias) = (0...15, 8)
        case .q4_1, .q4_K: (levels, bias) = (0...15, 0)
        case .q5_0: (levels, bias) = (0...31, 16)
        case .q5_1, .q5_K: (levels, bias) = (0...31, 0)
        case .q8_0: (levels, bias) = (-128...127, 0)
        case .q6_K: (levels, bias) = (0...63, 32)
        case .q2_K: (levels, bias) = (0...3, 0)
        case .q3_K: (levels, bias) = (0...7, 4)
        case .iq4_NL, .iq4_XS: (levels, bias) = (0...15, 0)
        default: return nil
        }
        table = type == .iq4_NL || type == .iq4_XS ? GGMLType.iq4Levels.map(Float.init) : nil
        self.type = type
    }

    /// Multiplier and offset of every value of `block` (the header's scales; levels ignored).
    func parameters(_ block: UnsafeRawBufferPointer, multipliers: UnsafeMutablePointer<Float>, offsets: UnsafeMutablePointer<Float>) {
        func half(_ at: Int) -> Float { Float(Float16(bitPattern: UInt16(block[at]) | UInt16(block[at + 1]) << 8)) }
        switch type {
        case .q4_0, .q5_0, .q8_0:
            let d = half(0)
            for k in 0..<32 { (multipliers[k], offsets[k]) = (d, 0) }
        case .q4_1, .q5_1:
            let d = half(0), m = half(2)
            for k in 0..<32 { (multipliers[k], offsets[k]) = (d, m) }
        case .q4_K, .q5_K:
            let d = half(0), dmin = half(2)
            for j in 0..<8 {
                let (sc, m) = Self.scaleMinK4(j, block)
                let dj = d * Float(sc), mj = dmin * Float(m)
                for k in (32 * j)..<(32 * j + 32) { (multipliers[k], offsets[k]) = (dj, -mj) }
            }
        case .q6_K:
            let d = half(208)
            for j in 0..<16 {
                let dj = d * Float(Int8(bitPattern: block[192 + j]))
                for k in (16 * j)..<(16 * j + 16) { (multipliers[k], offsets[k]) = (dj, 0) }
            }
        case .q2_K:
            // value = d·(sc & 15)·q − dmin·(sc >> 4): the offset is the negated min, as for Q4_K.
            let d = half(80), dmin = half(82)
            for j in 0..<16 {
                let dl = d * Float(block[j] & 0x0F), ml = dmin * Float(block[j] >> 4)
                for k in (16 * j)..<(16 * j + 16) { (multipliers[k], offsets[k]) = (dl, -ml) }
            }
        case .q3_K:
            let d = half(108), scales = UnsafeRawBufferPointer(rebasing: block[96..<108])
            for j in 0..<16 {
                let dl = d * Float(GGMLType.q3_KScale(scales, j))
                for k in (16 * j)..<(16 * j + 16) { (multipliers[k], offsets[k]) = (dl, 0) }
            }
        case .iq4_NL:
            let d = half(0)
            for k in 0..<32 { (multipliers[k], offsets[k]) = (d, 0) }
        case .iq4_XS:
            let d = half(0), high = UInt16(block[2]) | UInt16(block[3]) << 8
            for j in 0..<8 {
                let ls = Int((block[4 + j / 2] >> (4 * UInt8(j % 2))) & 0x0F) | Int((high >> (2 * UInt16(j))) & 3) << 4
                let dl = d * Float(ls - 32)
                for k in (32 * j)..<(32 * j + 32) { (multipliers[k], offsets[k]) = (dl, 0) }
            }
        default: return
        }
    }

    /// The level nearest `value` on a value's grid (the lowest-error level; a zero multiplier
    /// makes every level the offset, and the one of value 0 is taken).
    @inline(__always)
    func level(_ value: Float, multiplier: Float, offset: Float) -> Int {
        if let table { return Self.nearest(value, multiplier: multiplier, table) }
        guard multiplier != 0, value.isFinite else { return min(max(bias, levels.lowerBound), levels.upperBound) }
        let q = ((value - offset) / multiplier).rounded(.toNearestOrEven)
        guard q.isFinite else { return bias }
        return min(levels.upperBound, max(levels.lowerBound, Int(max(-1e6, min(1e6, q))) + bias))
    }

    /// The value level `q` decodes to, as ggml's dequantizer computes it.
    @inline(__always)
    func value(_ q: Int, multiplier: Float, offset: Float) -> Float {
        if let table { return multiplier * table[q] }
        return Float(q - bias) * multiplier + offset
    }

    /// The index of the table entry whose scaled value is nearest `value` (the lower index on a
    /// tie; with a zero multiplier every entry decodes to 0 and the smallest |entry| is taken).
    static func nearest(_ value: Float, multiplier: Float, _ table: [Float]) -> Int {
        var best = 0, bestError = Float.infinity
        for (q, t) in table.enumerated() {
            let e = value.isFinite ? abs(multiplier * t - value) : abs(t)
            if e < bestError { (best, bestError) = (q, e) }
        }
        return best
    }

    /// Writes level `q` of value `k` into `block` (its bits cleared first).
    func store(_ q: Int, at k: Int, _ block: UnsafeMutableRawBufferPointer) {
        let u = UInt8(truncatingIfNeeded: q)
        func nibble(_ byte: Int, high: Bool) {
            block[byte] = high ? (block[byte] & 0x0F) | (u & 0x0F) << 4 : (block[byte] & 0xF0) | (u & 0x0F)
        }
        func bit(_ byte: Int, _ b: Int, _ on: Bool) {
            block[byte] = on ? block[byte] | UInt8(1 << b) : block[byte] & ~UInt8(1 << b)
        }
        switch type {
        case .q4_0: nibble(2 + k % 16, high: k >= 16)
        case .q4_1: nibble(4 + k % 16, high: k >= 16)
        case .q5_0, .q5_1:
            let qs = type == .q5_0 ? 6 : 8, qh = type == .q5_0 ? 2 : 4
            nibble(qs + k % 16, high: k >= 16)
            bit(qh + k / 8, k % 8, u & 0x10 != 0)  // qh is a little-endian u32: value k's fifth bit at bit k
        case .q8_0: block[2 + k] = u
        case .q4_K, .q5_K:
            let chunk = k / 64, within = k % 64, l = within % 32
            nibble((type == .q5_K ? 48 : 16) + 32 * chunk + l, high: within >= 32)
            if type == .q5_K { bit(16 + l, 2 * chunk + (within >= 32 ? 1 : 0), u & 0x10 != 0) }
        case .q6_K:
            let half = k / 128, quarter = (k % 128) / 32, l = k % 32
            nibble(64 * half + l + (quarter % 2 == 1 ? 32 : 0), high: quarter >= 2)
            let qh = 128 + 32 * half + l, shift = 2 * quarter
            block[qh] = (block[qh] & ~UInt8(3 << shift)) | ((u >> 4) & 3) << UInt8(shift)
        case .q2_K, .q3_K:
            // Value k: half n = k / 128 of 32 qs bytes, 2-bit plane j = (k % 128) / 32, byte l = k % 32;
            // Q3_K's third bit is bit 4n + j of hmask byte l, set for the upper four levels.
            let n = k / 128, j = (k % 128) / 32, l = k % 32, shift = UInt8(2 * j)
            let qs = (type == .q2_K ? 16 : 32) + 32 * n + l
            block[qs] = (block[qs] & ~(3 << shift)) | (u & 3) << shift
            if type == .q3_K { bit(l, 4 * n + j, u & 4 != 0) }
        case .iq4_NL: nibble(2 + k % 16, high: k >= 16)
        case .iq4_XS:
            let j = k / 32, l = k % 32
            nibble(8 + 16 * j + l % 16, high: l >= 16)
        default: return
        }
    }

    /// ggml `get_scale_min_k4`.
    static func scaleMinK4(_ j: Int, _ block: UnsafeRawBufferPointer) -> (scale: UInt8, min: UInt8) {
        let q = 4  // scales[12] follow d and dmin
        if j < 4 { return (block[q + j] & 63, block[q + j + 4] & 63) }
        return ((block[q + j + 4] & 0x0F) | ((block[q + j - 4] >> 6) << 4), (block[q + j + 4] >> 4) | ((block[q + j] >> 6) << 4))
    }
}

/// ggml-quants.c's `quantize_iq4_xs` (what `quantize_row_iq4_xs_ref` and llama-quantize run)
/// for one IQ4_XS super-block of 256 without importance weights: the IQ4_NL scale search
/// (`quantize_row_iq4_nl_impl`, 7 trials) on each of the 8 sub-blocks of 32, then the sub-block
/// scales as 6-bit multiples of one f16 super-block scale `d = -max_scale / 32`, and every value
/// re-indexed against its sub-block's rounded scale.
///
/// Layout (`GGMLBlockLayout.iq4_XS`): f16 d; u16 scales_h (2 high bits per sub-block);
/// u8 scales_l[4] (4 low bits per sub-block, two a byte); u8 qs[128] (per sub-block of 32,
/// 16 bytes of nibble pairs: value j low, j + 16 high).
enum GGMLIQ4XSQuantizer {
    static func superBlock(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawBufferPointer) {
        GGMLScalar.iq4nlValues.withUnsafeBufferPointer { values in
            var scales = (Float(0), Float(0), Float(0), Float(0), Float(0), Float(0), Float(0), Float(0))
            var maxScale: Float = 0, amaxScale: Float = 0
            withUnsafeMutableBytes(of: &scales) { raw in
                let s = raw.bindMemory(to: Float.self)
                for ib in 0..<8 {
                    let d = GGMLIQ4NLQuantizer.fitScale(x + 32 * ib, values)
                    s[ib] = d
                    if abs(d) > amaxScale {
                        amaxScale = abs(d)
                        maxScale = d
                    }
                }
                let d = -maxScale / 32
                y.ggmlStoreHalf(d, at: 0)
                let id: Float = d != 0 ? 1 / d : 0
                var scalesHigh: UInt16 = 0
                for k in 4..<8 { y[k] = 0 }
                for ib in 0..<8 {
                    let l = GGMLScalar.cMax(-32, GGMLScalar.cMin(31, GGMLScalar.nearestInt(id * s[ib])))
                    let dl = d * Float(l)
                    let idl: Float = dl != 0 ? 1 / dl : 0
                    let xb = x + 32 * ib, qs = 8 + 16 * ib
                    for j in 0..<16 {
                        let lo = GGMLIQ4NLQuantizer.bestIndex(values, idl * xb[j])
                        let hi = GGMLIQ4NLQuantizer.bestIndex(values, idl * xb[16 + j])
                        y[qs + j] = UInt8(lo | hi << 4)
                    }
                    let biased = UInt8(truncatingIfNeeded: l + 32)
                    y[4 + ib / 2] |= (biased & 0x0F) << (4 * UInt8(ib % 2))
                    scalesHigh |= UInt16(biased >> 4) << (2 * UInt16(ib))
                }
                y.ggmlStoreU16(scalesHigh, at: 2)
            }
        }
    }
}

/// ggml-quants.c's `quantize_row_q2_K_ref` and `quantize_row_q3_K_ref` (with `make_q3_quants`),
/// one 256-value super-block at a time, float operations in the C code's order.
enum GGMLLowBitKQuantizer {
    /// `quantize_row_q2_K_ref`: 16 groups of 16, scale and min fitted by `make_qkx2_quants` on
    /// absolute-value weights and mean absolute error, both quantized to 4 bits.
    static func q2_K(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawBufferPointer, _ s: inout GGMLKQuantizer.Scratch) {
        var maxScale: Float = 0, maxMin: Float = 0
        s.levels.withUnsafeMutableBufferPointer { L in
            s.aux.withUnsafeMutableBufferPointer { aux in
                s.weights.withUnsafeMutableBufferPointer { w in
                    for j in 0..<16 {
                        for l in 0..<16 { w[l] = abs(x[16 * j + l]) }
                        let (scale, theMin) = GGMLKQuantizer.makeQKX2(
                            16, 3, x + 16 * j, w, UnsafeMutableBufferPointer(rebasing: L[(16 * j)..<(16 * j + 16)]), aux,
                            rmin: -0.5, rdelta: 0.1, nstep: 15, useMAD: true)
                        s.scales[j] = scale
                        s.mins[j] = theMin
                        if scale > maxScale { maxScale = scale }
                        if theMin > maxMin { maxMin = theMin }
                    }
                }
            }
        }
        if maxScale > 0 {
            let iscale = 15 / maxScale
            for j in 0..<16 { y[j] = UInt8(truncatingIfNeeded: GGMLScalar.nearestInt(iscale * s.scales[j])) }
            y.ggmlStoreHalf(maxScale / 15, at: 80)
        } else {
            for j in 0..<16 { y[j] = 0 }
            y.ggmlStoreHalf(0, at: 80)
        }
        if maxMin > 0 {
            let iscale = 15 / maxMin
            for j in 0..<16 { y[j] |= UInt8(truncatingIfNeeded: GGMLScalar.nearestInt(iscale * s.mins[j]) << 4) }
            y.ggmlStoreHalf(maxMin / 15, at: 82)
        } else {
            y.ggmlStoreHalf(0, at: 82)
        }
        let d = UnsafeRawBufferPointer(y).ggmlHalf(80), dmin = UnsafeRawBufferPointer(y).ggmlHalf(82)
        for j in 0..<16 {
            let dj = d * Float(y[j] & 0x0F)
            if dj == 0 { continue }
            let dm = dmin * Float(y[j] >> 4)
            for ii in 0..<16 {
                let l = GGMLScalar.nearestInt((x[16 * j + ii] + dm) / dj)
                s.levels[16 * j + ii] = UInt8(truncatingIfNeeded: GGMLScalar.cMax(0, GGMLScalar.cMin(3, l)))
            }
        }
        packTwoBit(s.levels, y, at: 16)
    }

    /// Four 2-bit levels per byte: byte `l` of each 32-byte run holds values l, l+32, l+64, l+96
    /// of its 128 (the layout of Q2_K and of Q3_K's low bits).
    static func packTwoBit(_ L: [UInt8], _ y: UnsafeMutableRawBufferPointer, at qs: Int) {
        for j in stride(from: 0, to: 256, by: 128) {
            for l in 0..<32 {
                y[qs + j / 4 + l] = L[j + l] | L[j + l + 32] << 2 | L[j + l + 64] << 4 | L[j + l + 96] << 6
            }
        }
    }

    /// `make_q3_quants` with `do_rmse`: a symmetric scale, then up to 5 passes that move single
    /// levels when that improves the weighted fit; levels (offset by `nmax`) go to `L`.
    static func makeQ3(_ n: Int, _ nmax: Int32, _ x: UnsafePointer<Float>, _ L: UnsafeMutableBufferPointer<UInt8>) -> Float {
        var maxValue: Float = 0, amax: Float = 0
        for i in 0..<n where abs(x[i]) > amax {
            amax = abs(x[i])
            maxValue = x[i]
        }
        if amax < GGMLKQuantizer.groupMaxEps {
            for i in 0..<n { L[i] = 0 }
            return 0
        }
        let iscale = Float(-nmax) / maxValue
        var levels = [Int32](repeating: 0, count: n)
        var sumLX: Float = 0, sumL2: Float = 0
        for i in 0..<n {
            let l = GGMLScalar.cMax(-nmax, GGMLScalar.cMin(nmax - 1, GGMLScalar.nearestInt(iscale * x[i])))
            levels[i] = l
            let w = x[i] * x[i]
            sumLX += w * x[i] * Float(l)
            sumL2 += w * Float(l) * Float(l)
        }
        for _ in 0..<5 {
            var changed = 0
            for i in 0..<n {
                let w = x[i] * x[i]
                var slx = sumLX - w * x[i] * Float(levels[i])
                guard slx > 0 else { continue }
                var sl2 = sumL2 - w * Float(levels[i]) * Float(levels[i])
                let newL = GGMLScalar.cMax(-nmax, GGMLScalar.cMin(nmax - 1, GGMLScalar.nearestInt(x[i] * sl2 / slx)))
                if newL != levels[i] {
                    slx += w * x[i] * Float(newL)
                    sl2 += w * Float(newL) * Float(newL)
                    if sl2 > 0 && slx * slx * sumL2 > sumLX * sumLX * sl2 {
                        levels[i] = newL
                        sumLX = slx
                        sumL2 = sl2
                        changed += 1
                    }
                }
            }
            if changed == 0 { break }
        }
        for i in 0..<n { L[i] = UInt8(truncatingIfNeeded: levels[i] + nmax) }
        return sumL2 > 0 ? sumLX / sumL2 : 0
    }

    /// `quantize_row_q3_K_ref`: 16 groups of 16, signed scales quantized to 6 bits, 3-bit levels
    /// (2 low bits in qs, the third in hmask).
    static func q3_K(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawBufferPointer, _ s: inout GGMLKQuantizer.Scratch) {
        var maxScale: Float = 0, amax: Float = 0
        s.levels.withUnsafeMutableBufferPointer { L in
            for j in 0..<16 {
                let scale = makeQ3(16, 4, x + 16 * j, UnsafeMutableBufferPointer(rebasing: L[(16 * j)..<(16 * j + 16)]))
                s.scales[j] = scale
                if abs(scale) > amax {
                    amax = abs(scale)
                    maxScale = scale
                }
            }
        }
        let sc = 96  // offset of scales[12]
        for k in 0..<12 { y[sc + k] = 0 }
        if maxScale != 0 {
            let iscale = -32 / maxScale
            for j in 0..<16 {
                let raw = Int8(truncatingIfNeeded: GGMLScalar.nearestInt(iscale * s.scales[j]))
                let l = UInt8(GGMLScalar.cMax(-32, GGMLScalar.cMin(31, raw)) + 32)
                if j < 8 { y[sc + j] = l & 0x0F } else { y[sc + j - 8] |= (l & 0x0F) << 4 }
                y[sc + j % 4 + 8] |= (l >> 4) << (2 * UInt8(j / 4))
            }
            y.ggmlStoreHalf(1 / iscale, at: 108)
        } else {
            y.ggmlStoreHalf(0, at: 108)
        }
        let d = UnsafeRawBufferPointer(y).ggmlHalf(108)
        for j in 0..<16 {
            let scale = GGMLDequantizer.q3_KScale(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(y)[sc..<(sc + 12)]), j)
            let dj = d * Float(scale)
            if dj == 0 { continue }
            for ii in 0..<16 {
                let l = GGMLScalar.cMax(-4, GGMLScalar.cMin(3, GGMLScalar.nearestInt(x[16 * j + ii] / dj)))
                s.levels[16 * j + ii] = UInt8(truncatingIfNeeded: l + 4)
            }
        }
        for k in 0..<32 { y[k] = 0 }
        var m = 0
        var hm: UInt8 = 1
        for j in 0..<256 {
            if s.levels[j] > 3 {
                y[m] |= hm
                s.levels[j] -= 4
            }
            m += 1
            if m == 32 {
                m = 0
                hm <<= 1
            }
        }
        packTwoBit(s.levels, y, at: 32)
    }
}

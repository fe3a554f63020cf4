/// ggml-quants.c's K-quant reference quantizers (`quantize_row_q4_K_ref`, `_q5_K_ref`,
/// `_q6_K_ref`) and their helpers `make_qkx2_quants` and `make_qx_quants`, one 256-value
/// super-block at a time. Every float operation is the C code's, in its order (no fused
/// multiply-add, no reassociation), so the bytes are the same.
enum GGMLKQuantizer {
    /// ggml `GROUP_MAX_EPS`: below this magnitude a group counts as all zero.
    static let groupMaxEps: Float = 1e-15

    /// Work arrays, reused from block to block.
    struct Scratch {
        var levels = [UInt8](repeating: 0, count: 256)
        var aux = [UInt8](repeating: 0, count: 32)
        var weights = [Float](repeating: 0, count: 32)
        var scales = [Float](repeating: 0, count: 16)
        var mins = [Float](repeating: 0, count: 16)
    }

    /// `make_qkx2_quants`: fits scale and min of one group by a weighted grid search; writes
    /// the levels to `L`. Returns the scale and the (negated) min, as the C code's `the_min`.
    static func makeQKX2(
        _ n: Int, _ nmax: Int32, _ x: UnsafePointer<Float>, _ weights: UnsafeMutableBufferPointer<Float>,
        _ L: UnsafeMutableBufferPointer<UInt8>, _ aux: UnsafeMutableBufferPointer<UInt8>,
        rmin: Float, rdelta: Float, nstep: Int, useMAD: Bool
    ) -> (scale: Float, theMin: Float) {
        var lo = x[0], hi = x[0]
        var sumW = weights[0]
        var sumX = sumW * x[0]
        for i in 1..<n {
            if x[i] < lo { lo = x[i] }
            if x[i] > hi { hi = x[i] }
            let w = weights[i]
            sumW += w
            sumX += w * x[i]
        }
        if lo > 0 { lo = 0 }
        if hi == lo {
            for i in 0..<n { L[i] = 0 }
            return (0, -lo)
        }
        var iscale = Float(nmax) / (hi - lo)
        var scale = 1 / iscale
        var bestError: Float = 0
        for i in 0..<n {
            let l = GGMLScalar.nearestInt(iscale * (x[i] - lo))
            L[i] = UInt8(truncatingIfNeeded: GGMLScalar.cMax(0, GGMLScalar.cMin(nmax, l)))
            var diff = scale * Float(L[i]) + lo - x[i]
            diff = useMAD ? abs(diff) : diff * diff
            bestError += weights[i] * diff
        }
        if nstep < 1 { return (scale, -lo) }
        for step in 0...nstep {
            iscale = (rmin + rdelta * Float(step) + Float(nmax)) / (hi - lo)
            var sumL: Float = 0, sumL2: Float = 0, sumXL: Float = 0
            for i in 0..<n {
                let l = GGMLScalar.cMax(0, GGMLScalar.cMin(nmax, GGMLScalar.nearestInt(iscale * (x[i] - lo))))
                aux[i] = UInt8(truncatingIfNeeded: l)
                let w = weights[i], fl = Float(l)
                sumL += w * fl
                sumL2 += w * fl * fl
                sumXL += w * fl * x[i]
            }
            let D = sumW * sumL2 - sumL * sumL
            guard D > 0 else { continue }
            var thisScale = (sumW * sumXL - sumX * sumL) / D
            var thisMin = (sumL2 * sumX - sumL * sumXL) / D
            if thisMin > 0 {
                thisMin = 0
                thisScale = sumXL / sumL2
            }
            var curError: Float = 0
            for i in 0..<n {
                var diff = thisScale * Float(aux[i]) + thisMin - x[i]
                diff = useMAD ? abs(diff) : diff * diff
                curError += weights[i] * diff
            }
            if curError < bestError {
                for i in 0..<n { L[i] = aux[i] }
                bestError = curError
                scale = thisScale
                lo = thisMin
            }
        }
        return (scale, -lo)
    }

    /// `make_qx_quants` for `rmse_type` ≥ 1: a symmetric scale refined over 18 trial scales;
    /// levels (offset by `nmax`) go to `L`. The weight of a value is `weights[i]` when given
    /// (the C code's `qw`), else the one `rmse_type` names.
    static func makeQX(_ n: Int, _ nmax: Int32, _ x: UnsafePointer<Float>, _ L: UnsafeMutableBufferPointer<UInt8>, rmseType: Int,
                       weights qw: UnsafePointer<Float>? = nil) -> Float {
        var maxValue: Float = 0, amax: Float = 0
        for i in 0..<n where abs(x[i]) > amax {
            amax = abs(x[i])
            maxValue = x[i]
        }
        if amax < groupMaxEps {
            for i in 0..<n { L[i] = 0 }
            return 0
        }
        @inline(__always) func weight(_ i: Int) -> Float {
            if let qw { return qw[i] }
            let v = x[i]
            switch rmseType {
            case 1: return v * v
            case 2: return 1
            case 3: return abs(v)
            default: return abs(v).squareRoot()
            }
        }
        @inline(__always) func level(_ iscale: Float, _ v: Float) -> Int32 {
            GGMLScalar.cMax(-nmax, GGMLScalar.cMin(nmax - 1, GGMLScalar.nearestInt(iscale * v)))
        }
        var iscale = Float(-nmax) / maxValue
        var sumLX: Float = 0, sumL2: Float = 0
        for i in 0..<n {
            let l = level(iscale, x[i])
            L[i] = UInt8(truncatingIfNeeded: l + nmax)
            let w = weight(i), fl = Float(l)
            sumLX += w * x[i] * fl
            sumL2 += w * fl * fl
        }
        var scale: Float = sumL2 != 0 ? sumLX / sumL2 : 0
        var best = scale * sumLX
        for step in -9...9 where step != 0 {
            iscale = -(Float(nmax) + 0.1 * Float(step)) / maxValue
            sumLX = 0
            sumL2 = 0
            for i in 0..<n {
                let l = level(iscale, x[i])
                let w = weight(i), fl = Float(l)
                sumLX += w * x[i] * fl
                sumL2 += w * fl * fl
            }
            if sumL2 > 0 && sumLX * sumLX > best * sumL2 {
                for i in 0..<n { L[i] = UInt8(truncatingIfNeeded: nmax + level(iscale, x[i])) }
                scale = sumLX / sumL2
                best = scale * sumLX
            }
        }
        return scale
    }

    /// `quantize_row_q4_K_ref`, or `quantize_row_q5_K_ref` when `fifthBits`.
    static func q4_K(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawBufferPointer, _ s: inout Scratch, fifthBits: Bool) {
        fitQ4K(x, &s, fifthBits: fifthBits)
        packQ4K(x, y, &s, fifthBits: fifthBits)
    }

    /// The first half of `quantize_row_q4_K_ref`/`_q5_K_ref`: each sub-block's scale and min by
    /// `make_qkx2_quants` into `s.scales`, `s.mins`, its levels into `s.levels`.
    static func fitQ4K(_ x: UnsafePointer<Float>, _ s: inout Scratch, fifthBits: Bool) {
        let nmax: Int32 = fifthBits ? 31 : 15
        let rmin: Float = fifthBits ? -0.5 : -1, nstep = fifthBits ? 15 : 20
        s.levels.withUnsafeMutableBufferPointer { L in
            s.aux.withUnsafeMutableBufferPointer { aux in
                s.weights.withUnsafeMutableBufferPointer { w in
                    for j in 0..<8 {
                        let xj = x + 32 * j
                        var sumX2: Float = 0
                        for l in 0..<32 { sumX2 += xj[l] * xj[l] }
                        let avX = (sumX2 / 32).squareRoot()
                        for l in 0..<32 { w[l] = avX + abs(xj[l]) }
                        let (scale, theMin) = makeQKX2(32, nmax, xj, w, UnsafeMutableBufferPointer(rebasing: L[(32 * j)..<(32 * j + 32)]), aux,
                                                       rmin: rmin, rdelta: 0.1, nstep: nstep, useMAD: false)
                        s.scales[j] = scale
                        s.mins[j] = theMin
                    }
                }
            }
        }
    }

    /// The second half of `quantize_row_q4_K_ref`/`_q5_K_ref`, from the fitted `s.scales`,
    /// `s.mins` and `s.levels`: the 6-bit scales and mins against the super-block's, then
    /// `packQ4K(_:_:levels:ls:lm:d:dmin:fifthBits:)`.
    static func packQ4K(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawBufferPointer, _ s: inout Scratch, fifthBits: Bool) {
        var maxScale: Float = 0, maxMin: Float = 0
        for j in 0..<8 {
            if s.scales[j] > maxScale { maxScale = s.scales[j] }
            if s.mins[j] > maxMin { maxMin = s.mins[j] }
        }
        let invScale: Float = maxScale > 0 ? 63 / maxScale : 0
        let invMin: Float = maxMin > 0 ? 63 / maxMin : 0
        // The 6-bit levels go in s.aux (scales in 0..<8, mins in 8..<16): no allocation per block.
        for j in 0..<8 {
            s.aux[j] = GGMLScalar.cMin(63, UInt8(truncatingIfNeeded: GGMLScalar.nearestInt(invScale * s.scales[j])))
            s.aux[8 + j] = GGMLScalar.cMin(63, UInt8(truncatingIfNeeded: GGMLScalar.nearestInt(invMin * s.mins[j])))
        }
        s.levels.withUnsafeMutableBufferPointer { levels in
            s.aux.withUnsafeBufferPointer { aux in
                packQ4K(x, y, levels: levels.baseAddress!, ls: aux.baseAddress!, lm: aux.baseAddress! + 8,
                        d: maxScale / 63, dmin: maxMin / 63, fifthBits: fifthBits)
            }
        }
    }

    /// The tail that `quantize_row_q4_K_ref`/`_q5_K_ref` and their importance-weighted forms
    /// share: the 6-bit sub-block scales `ls` and mins `lm` (8 each) packed into scales[12] (at 4), the
    /// super-block scale `d` and min `dmin` as halves (at 0 and 2), the 256 `levels` again from
    /// the rounded scales (kept from the fit where a scale rounds to 0), then the levels packed:
    /// qs[128] at 16 (Q4_K), or qh[32] at 16 and qs[128] at 48 (Q5_K).
    static func packQ4K(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawBufferPointer, levels: UnsafeMutablePointer<UInt8>,
                        ls: UnsafePointer<UInt8>, lm: UnsafePointer<UInt8>, d: Float, dmin: Float, fifthBits: Bool) {
        let nmax: Int32 = fifthBits ? 31 : 15
        let sc = 4  // offset of scales[12]
        for j in 0..<8 {
            if j < 4 {
                y[sc + j] = ls[j]
                y[sc + j + 4] = lm[j]
            } else {
                y[sc + j + 4] = (ls[j] & 0x0F) | (lm[j] & 0x0F) << 4
                y[sc + j - 4] |= (ls[j] >> 4) << 6
                y[sc + j] |= (lm[j] >> 4) << 6
            }
        }
        y.ggmlStoreHalf(d, at: 0)
        y.ggmlStoreHalf(dmin, at: 2)
        let dh = UnsafeRawBufferPointer(y).ggmlHalf(0), dminh = UnsafeRawBufferPointer(y).ggmlHalf(2)
        let scales = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(y)[4..<16])
        for j in 0..<8 {
            let (scale, m) = GGMLDequantizer.scaleMinK4(j, scales)
            let dj = dh * Float(scale)
            if dj == 0 { continue }
            let dm = dminh * Float(m)
            for ii in 0..<32 {
                let l = GGMLScalar.nearestInt((x[32 * j + ii] + dm) / dj)
                levels[32 * j + ii] = UInt8(truncatingIfNeeded: GGMLScalar.cMax(0, GGMLScalar.cMin(nmax, l)))
            }
        }
        if fifthBits {
            for j in 0..<32 { y[16 + j] = 0 }
            var m1: UInt8 = 1, m2: UInt8 = 2, ql = 48
            for n in stride(from: 0, to: 256, by: 64) {
                for j in 0..<32 {
                    var l1 = levels[n + j], l2 = levels[n + j + 32]
                    if l1 > 15 { l1 -= 16; y[16 + j] |= m1 }
                    if l2 > 15 { l2 -= 16; y[16 + j] |= m2 }
                    y[ql + j] = l1 | l2 << 4
                }
                m1 <<= 2
                m2 <<= 2
                ql += 32
            }
        } else {
            var q = 16
            for j in stride(from: 0, to: 256, by: 64) {
                for l in 0..<32 { y[q + l] = levels[j + l] | levels[j + l + 32] << 4 }
                q += 32
            }
        }
    }

    /// `quantize_row_q6_K_ref`.
    static func q6_K(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawBufferPointer, _ s: inout Scratch) {
        s.levels.withUnsafeMutableBufferPointer { L in
            for ib in 0..<16 {
                s.scales[ib] = makeQX(16, 32, x + 16 * ib, UnsafeMutableBufferPointer(rebasing: L[(16 * ib)..<(16 * ib + 16)]), rmseType: 1)
            }
        }
        packQ6K(x, y, &s)
    }

    /// The second half of `quantize_row_q6_K_ref`, from the 16 fitted scales in `s.scales`
    /// (levels of `make_qx_quants` in `s.levels`): the 8-bit scales against the super-block's,
    /// the levels again from the rounded scales, the packing.
    static func packQ6K(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawBufferPointer, _ s: inout Scratch) {
        var maxScale: Float = 0, maxAbsScale: Float = 0
        for ib in 0..<16 where abs(s.scales[ib]) > maxAbsScale {
            maxAbsScale = abs(s.scales[ib])
            maxScale = s.scales[ib]
        }
        if maxAbsScale < groupMaxEps {
            for k in 0..<y.count { y[k] = 0 }
            return
        }
        let iscale = -128 / maxScale
        y.ggmlStoreHalf(1 / iscale, at: 208)
        for ib in 0..<16 {
            y[192 + ib] = UInt8(truncatingIfNeeded: GGMLScalar.cMin(127, GGMLScalar.nearestInt(iscale * s.scales[ib])))
        }
        let d = UnsafeRawBufferPointer(y).ggmlHalf(208)
        for j in 0..<16 {
            let dj = d * Float(Int8(bitPattern: y[192 + j]))
            if dj == 0 { continue }
            for ii in 0..<16 {
                let l = GGMLScalar.cMax(-32, GGMLScalar.cMin(31, GGMLScalar.nearestInt(x[16 * j + ii] / dj)))
                s.levels[16 * j + ii] = UInt8(truncatingIfNeeded: l + 32)
            }
        }
        var ql = 0, qh = 128
        for j in stride(from: 0, to: 256, by: 128) {
            for l in 0..<32 {
                let a = s.levels[j + l], b = s.levels[j + l + 32], c = s.levels[j + l + 64], e = s.levels[j + l + 96]
                y[ql + l] = (a & 0x0F) | (c & 0x0F) << 4
                y[ql + l + 32] = (b & 0x0F) | (e & 0x0F) << 4
                y[qh + l] = (a >> 4) | (b >> 4) << 2 | (c >> 4) << 4 | (e >> 4) << 6
            }
            ql += 64
            qh += 32
        }
    }
}

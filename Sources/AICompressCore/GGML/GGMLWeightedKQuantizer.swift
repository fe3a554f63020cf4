/// ggml-quants.c's `quantize_row_{q2,q3,q4,q5,q6}_K_impl` with `quant_weights` (what
/// llama-quantize --imatrix runs), one 256-value super-block at a time, plain scalar code in the
/// C code's float order.
enum GGMLWeightedKQuantizer {
    static func superBlock(_ type: GGMLType, _ x: UnsafePointer<Float>, _ qw: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 32 + 3 * 16) { floats in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 256 + 32 + 2 * 16) { bytes in
                guard let f = floats.baseAddress, let b = bytes.baseAddress else { return }
                let work = Work(weights: f, scales: f + 32, mins: f + 48, sw: f + 64, L: b, aux: b + 256, ls: b + 288, lm: b + 304)
                switch type {
                case .q2_K: q2_K(x, qw, y, work)
                case .q3_K: q3_K(x, qw, y, work)
                case .q4_K, .q5_K: q4_K(x, qw, y, work, fifthBits: type == .q5_K)
                case .q6_K: q6_K(x, qw, y, work)
                default: break
                }
            }
        }
    }

    /// Work arrays of one super-block.
    struct Work {
        let weights, scales, mins, sw: UnsafeMutablePointer<Float>
        let L, aux, ls, lm: UnsafeMutablePointer<UInt8>
    }

    static func byte(_ y: UnsafeMutableRawPointer, _ i: Int) -> UInt8 { y.load(fromByteOffset: i, as: UInt8.self) }
    static func setByte(_ y: UnsafeMutableRawPointer, _ i: Int, _ v: UInt8) { y.storeBytes(of: v, toByteOffset: i, as: UInt8.self) }
    static func half(_ y: UnsafeMutableRawPointer, _ i: Int) -> Float {
        GGMLScalar.fp16ToFloat(UInt16(byte(y, i)) | UInt16(byte(y, i + 1)) << 8)
    }

    static func sumSquares(_ x: UnsafePointer<Float>) -> Float {
        var s: Float = 0
        for j in 0..<256 { s += x[j] * x[j] }
        return s
    }

    /// Four 2-bit levels a byte (values l, l+32, l+64, l+96 of each 128) at `qs`.
    static func packTwoBit(_ L: UnsafeMutablePointer<UInt8>, _ y: UnsafeMutableRawPointer, at qs: Int) {
        for j in stride(from: 0, to: 256, by: 128) {
            for l in 0..<32 {
                setByte(y, qs + j / 4 + l, L[j + l] | L[j + l + 32] << 2 | L[j + l + 64] << 4 | L[j + l + 96] << 6)
            }
        }
    }

    /// Q2_K: scales[16] at 0, qs[64] at 16, d at 80, dmin at 82.
    static func q2_K(_ x: UnsafePointer<Float>, _ qw: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, _ s: Work) {
        let sigma2 = sumSquares(x) / 256
        for j in 0..<16 {
            GGMLWeightedQuantizer.weights(x + 16 * j, qw + 16 * j, sigma2, 16, s.weights)
            var sw: Float = 0
            for l in 0..<16 { sw += s.weights[l] }
            s.sw[j] = sw
            let (scale, theMin) = GGMLWeightedSearch.makeQKX3(16, 3, x + 16 * j, s.weights, s.L + 16 * j, s.aux,
                                                              rmin: -0.9, rdelta: 0.05, nstep: 36)
            s.scales[j] = scale
            s.mins[j] = theMin
        }
        let dm = GGMLWeightedSearch.makeQP(16, 15, s.scales, s.ls, s.sw)
        let mm = GGMLWeightedSearch.makeQP(16, 15, s.mins, s.lm, s.sw)
        GGMLWeightedQuantizer.storeHalf(y, dm, at: 80)
        GGMLWeightedQuantizer.storeHalf(y, mm, at: 82)
        let d = half(y, 80), m = half(y, 82)
        for j in 0..<16 { setByte(y, j, s.ls[j] | s.lm[j] << 4) }
        for j in 0..<16 {
            let dj = d * Float(byte(y, j) & 0x0F)
            if dj == 0 { continue }
            let mj = m * Float(byte(y, j) >> 4)
            for ii in 0..<16 {
                let l = GGMLScalar.nearestInt((x[16 * j + ii] + mj) / dj)
                s.L[16 * j + ii] = UInt8(truncatingIfNeeded: GGMLScalar.cMax(0, GGMLScalar.cMin(3, l)))
            }
        }
        packTwoBit(s.L, y, at: 16)
    }

    /// Q3_K: hmask[32] at 0, qs[64] at 32, scales[12] at 96, d at 108.
    static func q3_K(_ x: UnsafePointer<Float>, _ qw: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, _ s: Work) {
        let sigma2 = 2 * sumSquares(x) / 256
        s.L.withMemoryRebound(to: Int8.self, capacity: 256) { L in
            for j in 0..<16 {
                GGMLWeightedQuantizer.weights(x + 16 * j, qw + 16 * j, sigma2, 16, s.weights)
                var sw: Float = 0
                for l in 0..<16 { sw += s.weights[l] }
                s.sw[j] = sw
                s.scales[j] = GGMLWeightedSearch.makeQX(16, 4, x + 16 * j, L + 16 * j, s.weights)
            }
        }
        let sc = 96
        for k in 0..<12 { setByte(y, sc + k, 0) }
        let dBlock = s.ls.withMemoryRebound(to: Int8.self, capacity: 16) { Ls in
            GGMLWeightedSearch.makeQX(16, 32, s.scales, Ls, s.sw)
        }
        for j in 0..<16 {
            var l = Int32(Int8(bitPattern: s.ls[j]))
            if j < 8 {
                setByte(y, sc + j, UInt8(truncatingIfNeeded: l & 0xF))
            } else {
                setByte(y, sc + j - 8, byte(y, sc + j - 8) | UInt8(truncatingIfNeeded: (l & 0xF) << 4))
            }
            l >>= 4
            setByte(y, sc + j % 4 + 8, byte(y, sc + j % 4 + 8) | UInt8(truncatingIfNeeded: l << (2 * Int32(j / 4))))
        }
        GGMLWeightedQuantizer.storeHalf(y, dBlock, at: 108)
        let d = half(y, 108)
        for j in 0..<16 {
            let low = j < 8 ? byte(y, sc + j) & 0xF : byte(y, sc + j - 8) >> 4
            let raw = Int8(bitPattern: low | ((byte(y, sc + 8 + j % 4) >> (2 * UInt8(j / 4))) & 3) << 4)
            let dj = d * Float(Int32(raw) - 32)
            if dj == 0 { continue }
            for ii in 0..<16 {
                let l = GGMLScalar.cMax(-4, GGMLScalar.cMin(3, GGMLScalar.nearestInt(x[16 * j + ii] / dj)))
                s.L[16 * j + ii] = UInt8(truncatingIfNeeded: l + 4)
            }
        }
        for k in 0..<32 { setByte(y, k, 0) }
        var m = 0
        var hm: UInt8 = 1
        for j in 0..<256 {
            if s.L[j] > 3 {
                setByte(y, m, byte(y, m) | hm)
                s.L[j] &-= 4
            }
            m += 1
            if m == 32 {
                m = 0
                hm <<= 1
            }
        }
        packTwoBit(s.L, y, at: 32)
    }

    /// Q4_K: d 0, dmin 2, scales[12] at 4, qs[128] at 16. Q5_K: the same with qh[32] at 16 and
    /// qs at 48.
    static func q4_K(_ x: UnsafePointer<Float>, _ qw: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, _ s: Work,
                     fifthBits: Bool) {
        let sigma2 = 2 * sumSquares(x) / 256
        let nmax: Int32 = fifthBits ? 31 : 15
        for j in 0..<8 {
            GGMLWeightedQuantizer.weights(x + 32 * j, qw + 32 * j, sigma2, 32, s.weights)
            var sw: Float = 0
            for l in 0..<32 { sw += s.weights[l] }
            s.sw[j] = sw
            let (scale, theMin) = GGMLWeightedSearch.makeQKX3(32, nmax, x + 32 * j, s.weights, s.L + 32 * j, s.aux,
                                                              rmin: -0.9, rdelta: 0.05, nstep: 36)
            s.scales[j] = scale
            s.mins[j] = theMin
        }
        let dBlock = GGMLWeightedSearch.makeQP(8, 63, s.scales, s.ls, s.sw)
        let mBlock = GGMLWeightedSearch.makeQP(8, 63, s.mins, s.lm, s.sw)
        if fifthBits {
            // Q5_K clamps the 6-bit levels; Q4_K takes make_qp_quants' as they are (≤ 63 there).
            for j in 0..<8 {
                s.ls[j] = GGMLScalar.cMin(63, s.ls[j])
                s.lm[j] = GGMLScalar.cMin(63, s.lm[j])
            }
        }
        GGMLKQuantizer.packQ4K(x, UnsafeMutableRawBufferPointer(start: y, count: fifthBits ? 176 : 144), levels: s.L,
                               ls: s.ls, lm: s.lm, d: dBlock, dmin: mBlock, fifthBits: fifthBits)
    }

    /// Q6_K: ql[128] at 0, qh[64] at 128, scales[16] (i8) at 192, d at 208. The weights are the
    /// importance alone (ggml's sqrt(σ² + x²) factor is commented out for Q6_K).
    static func q6_K(_ x: UnsafePointer<Float>, _ qw: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, _ s: Work) {
        var maxScale: Float = 0, maxAbsScale: Float = 0
        s.L.withMemoryRebound(to: Int8.self, capacity: 256) { L in
            for ib in 0..<16 {
                let scale = GGMLWeightedSearch.makeQX(16, 32, x + 16 * ib, L + 16 * ib, qw + 16 * ib)
                s.scales[ib] = scale
                if abs(scale) > maxAbsScale {
                    maxAbsScale = abs(scale)
                    maxScale = scale
                }
            }
        }
        if maxAbsScale < GGMLKQuantizer.groupMaxEps {
            for k in 0..<210 { setByte(y, k, 0) }
            return
        }
        let iscale = -128 / maxScale
        GGMLWeightedQuantizer.storeHalf(y, 1 / iscale, at: 208)
        for ib in 0..<16 {
            setByte(y, 192 + ib, UInt8(truncatingIfNeeded: GGMLScalar.cMin(127, GGMLScalar.nearestInt(iscale * s.scales[ib]))))
        }
        let d = half(y, 208)
        for j in 0..<16 {
            let dj = d * Float(Int8(bitPattern: byte(y, 192 + j)))
            if dj == 0 { continue }
            for ii in 0..<16 {
                let l = GGMLScalar.cMax(-32, GGMLScalar.cMin(31, GGMLScalar.nearestInt(x[16 * j + ii] / dj)))
                s.L[16 * j + ii] = UInt8(truncatingIfNeeded: l + 32)
            }
        }
        for j in stride(from: 0, to: 256, by: 128) {
            let ql = j / 2, qh = 128 + j / 4
            for l in 0..<32 {
                let L = s.L
                setByte(y, ql + l, (L[j + l] & 0xF) | (L[j + l + 64] & 0xF) << 4)
                setByte(y, ql + l + 32, (L[j + l + 32] & 0xF) | (L[j + l + 96] & 0xF) << 4)
                setByte(y, qh + l, (L[j + l] >> 4) | (L[j + l + 32] >> 4) << 2 | (L[j + l + 64] >> 4) << 4 | (L[j + l + 96] >> 4) << 6)
            }
        }
    }
}

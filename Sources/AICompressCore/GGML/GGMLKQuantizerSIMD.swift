/// The fast twins of `GGMLKQuantizer.fitQ4K` and the fit of `q6_K`: the same
/// `make_qkx2_quants` / `make_qx_quants` searches, run for all the sub-blocks of a super-block
/// at once, one sub-block per SIMD lane (8 lanes of 32 values for Q4_K/Q5_K, 16 lanes of 16 for
/// Q6_K).
///
/// Why this is bit-exact: every lane performs the C code's float operations on its own
/// sub-block in the C code's order (each sum is still accumulated element by element; no fused
/// multiply-add, no reassociation), and each `if` of the C code becomes a per-lane select, so
/// a lane's results are those of the scalar code. The searches are latency-bound chains of
/// dependent additions in C; here 8 or 16 independent chains run side by side. Tested byte for
/// byte against the scalar reference (`GGMLTypeTests`).
enum GGMLKQuantizerSIMD {
    typealias V8 = SIMD8<Float>
    typealias I8 = SIMD8<Int32>
    typealias V16 = SIMD16<Float>
    typealias I16 = SIMD16<Int32>

    /// `nearest_int` on every lane (the 1.5·2²³ trick of `GGMLScalar.nearestInt`).
    @inline(__always)
    static func nearest8(_ v: V8) -> I8 {
        let t = unsafeBitCast(v + 12582912, to: I8.self)
        return (t & 0x007f_ffff) &- 0x0040_0000
    }

    @inline(__always)
    static func nearest16(_ v: V16) -> I16 {
        let t = unsafeBitCast(v + 12582912, to: I16.self)
        return (t & 0x007f_ffff) &- 0x0040_0000
    }

    /// `fabsf` on every lane (the sign bit cleared).
    @inline(__always)
    static func abs8(_ v: V8) -> V8 { unsafeBitCast(unsafeBitCast(v, to: I8.self) & 0x7fff_ffff, to: V8.self) }

    @inline(__always)
    static func abs16(_ v: V16) -> V16 { unsafeBitCast(unsafeBitCast(v, to: I16.self) & 0x7fff_ffff, to: V16.self) }

    /// C's `MAX(lo, MIN(hi, l))` on every lane.
    @inline(__always)
    static func clamp8(_ l: I8, _ lo: Int32, _ hi: Int32) -> I8 {
        var r = l.replacing(with: hi, where: l .> hi)
        r.replace(with: lo, where: r .< lo)
        return r
    }

    @inline(__always)
    static func clamp16(_ l: I16, _ lo: Int32, _ hi: Int32) -> I16 {
        var r = l.replacing(with: hi, where: l .> hi)
        r.replace(with: lo, where: r .< lo)
        return r
    }

    /// `fitQ4K` for the 8 sub-blocks of 32 at once: scales, mins and levels into `s`.
    static func fitQ4K(_ x: UnsafePointer<Float>, _ s: inout GGMLKQuantizer.Scratch, fifthBits: Bool) {
        let nmax: Int32 = fifthBits ? 31 : 15
        let rmin: Float = fifthBits ? -0.5 : -1, nstep = fifthBits ? 15 : 20
        // Element i of every sub-block side by side (lane j holds x[32 j + i]).
        var xt = [V8](repeating: V8(), count: 32), w = [V8](repeating: V8(), count: 32)
        var best = [I8](repeating: I8(), count: 32), aux = [I8](repeating: I8(), count: 32)
        xt.withUnsafeMutableBufferPointer { xt in
            w.withUnsafeMutableBufferPointer { w in
                best.withUnsafeMutableBufferPointer { L in
                    aux.withUnsafeMutableBufferPointer { aux in
                        for i in 0..<32 {
                            var v = V8()
                            for j in 0..<8 { v[j] = x[32 * j + i] }
                            xt[i] = v
                        }
                        var sumX2 = V8()
                        for i in 0..<32 { sumX2 += xt[i] * xt[i] }
                        let avX = (sumX2 / 32).squareRoot()
                        for i in 0..<32 { w[i] = avX + abs8(xt[i]) }
                        let (scale, theMin) = makeQKX2x8(nmax, xt, w, L, aux, rmin: rmin, rdelta: 0.1, nstep: nstep)
                        for j in 0..<8 {
                            s.scales[j] = scale[j]
                            s.mins[j] = theMin[j]
                        }
                        s.levels.withUnsafeMutableBufferPointer { out in
                            for i in 0..<32 {
                                let l = L[i]
                                for j in 0..<8 { out[32 * j + i] = UInt8(truncatingIfNeeded: l[j]) }
                            }
                        }
                    }
                }
            }
        }
    }

    /// `make_qkx2_quants` (squared error) on 8 groups of 32 at once, lane by lane.
    @inline(__always)
    static func makeQKX2x8(_ nmax: Int32, _ x: UnsafeMutableBufferPointer<V8>, _ weights: UnsafeMutableBufferPointer<V8>,
                           _ L: UnsafeMutableBufferPointer<I8>, _ aux: UnsafeMutableBufferPointer<I8>,
                           rmin: Float, rdelta: Float, nstep: Int) -> (scale: V8, theMin: V8) {
        var lo = x[0], hi = x[0]
        var sumW = weights[0]
        var sumX = sumW * x[0]
        for i in 1..<32 {
            let v = x[i]
            lo.replace(with: v, where: v .< lo)
            hi.replace(with: v, where: v .> hi)
            let w = weights[i]
            sumW += w
            sumX += w * v
        }
        lo.replace(with: 0, where: lo .> 0)
        // Lanes with max == min return (0, -min) and all-zero levels; their lanes compute
        // meaningless values below, which the last select throws away.
        let flat = hi .== lo
        let flatMin = -lo
        let fmax = V8(repeating: Float(nmax))
        var iscale = fmax / (hi - lo)
        var scale = 1 / iscale
        var bestError = V8()
        for i in 0..<32 {
            let l = clamp8(nearest8(iscale * (x[i] - lo)), 0, nmax)
            L[i] = l
            let diff = scale * V8(l) + lo - x[i]
            bestError += weights[i] * (diff * diff)
        }
        for step in 0...nstep {
            iscale = V8(repeating: rmin + rdelta * Float(step) + Float(nmax)) / (hi - lo)
            var sumL = V8(), sumL2 = V8(), sumXL = V8()
            for i in 0..<32 {
                let l = clamp8(nearest8(iscale * (x[i] - lo)), 0, nmax)
                aux[i] = l
                let w = weights[i], fl = V8(l)
                sumL += w * fl
                sumL2 += w * fl * fl
                sumXL += w * fl * x[i]
            }
            let D = sumW * sumL2 - sumL * sumL
            let positive = D .> 0
            if !any(positive) { continue }
            var thisScale = (sumW * sumXL - sumX * sumL) / D
            var thisMin = (sumL2 * sumX - sumL * sumXL) / D
            let minAboveZero = thisMin .> 0
            thisMin.replace(with: 0, where: minAboveZero)
            thisScale.replace(with: sumXL / sumL2, where: minAboveZero)
            var curError = V8()
            for i in 0..<32 {
                let diff = thisScale * V8(aux[i]) + thisMin - x[i]
                curError += weights[i] * (diff * diff)
            }
            let better = positive .& (curError .< bestError)
            if !any(better) { continue }
            for i in 0..<32 { L[i].replace(with: aux[i], where: better) }
            bestError.replace(with: curError, where: better)
            scale.replace(with: thisScale, where: better)
            lo.replace(with: thisMin, where: better)
        }
        if any(flat) {
            for i in 0..<32 { L[i].replace(with: 0, where: flat) }
            scale.replace(with: 0, where: flat)
        }
        return (scale, (-lo).replacing(with: flatMin, where: flat))
    }

    /// The fit of `quantize_row_q6_K_ref`: `make_qx_quants(16, 32, …, rmse_type 1)` on the 16
    /// sub-blocks of 16 at once; scales into `s.scales`, levels (offset by 32) into `s.levels`.
    static func fitQ6K(_ x: UnsafePointer<Float>, _ s: inout GGMLKQuantizer.Scratch) {
        let nmax: Int32 = 32
        var xt = [V16](repeating: V16(), count: 16)
        xt.withUnsafeMutableBufferPointer { xt in
            for i in 0..<16 {
                var v = V16()
                for j in 0..<16 { v[j] = x[16 * j + i] }
                xt[i] = v
            }
            var maxValue = V16(), amax = V16()
            for i in 0..<16 {
                let v = xt[i], a = abs16(v)
                let larger = a .> amax
                amax.replace(with: a, where: larger)
                maxValue.replace(with: v, where: larger)
            }
            let zero = amax .< GGMLKQuantizer.groupMaxEps
            @inline(__always) func sums(_ iscale: V16) -> (V16, V16) {
                var sumLX = V16(), sumL2 = V16()
                for i in 0..<16 {
                    let v = xt[i], fl = V16(clamp16(nearest16(iscale * v), -nmax, nmax - 1))
                    let w = v * v
                    sumLX += w * v * fl
                    sumL2 += w * fl * fl
                }
                return (sumLX, sumL2)
            }
            var bestIscale = V16(repeating: Float(-nmax)) / maxValue
            var (sumLX, sumL2) = sums(bestIscale)
            var scale = (sumLX / sumL2).replacing(with: 0, where: sumL2 .== 0)
            var best = scale * sumLX
            for step in -9...9 where step != 0 {
                let iscale = V16(repeating: -(Float(nmax) + 0.1 * Float(step))) / maxValue
                (sumLX, sumL2) = sums(iscale)
                let better = (sumL2 .> 0) .& (sumLX * sumLX .> best * sumL2)
                if !any(better) { continue }
                bestIscale.replace(with: iscale, where: better)
                scale.replace(with: sumLX / sumL2, where: better)
                best.replace(with: scale * sumLX, where: better)
            }
            scale.replace(with: 0, where: zero)
            for j in 0..<16 { s.scales[j] = scale[j] }
            // The levels of the best trial scale (the C code recomputes them with that scale).
            s.levels.withUnsafeMutableBufferPointer { out in
                for i in 0..<16 {
                    var l = clamp16(nearest16(bestIscale * xt[i]), -nmax, nmax - 1) &+ nmax
                    l.replace(with: 0, where: zero)
                    for j in 0..<16 { out[16 * j + i] = UInt8(truncatingIfNeeded: l[j]) }
                }
            }
        }
    }
}

@testable import AICompressCore

/// A second, plain transliteration of ggml-quants.c's K-quant and IQ4_NL reference quantizers
/// (whole rows, arrays and indices, written separately from the library's block code), to test
/// the library against (STYLE habit 6). It shares only the scalar helpers of GGMLScalar.
enum GGMLReferenceTwin {
    private typealias S = GGMLTwinScalar

    static func makeQKX2(n: Int, nmax: Int, x: ArraySlice<Float>, weights: [Float], L: inout [UInt8],
                         rmin: Float, rdelta: Float, nstep: Int, mad: Bool = false) -> (Float, Float) {
        let x = Array(x)
        var minV = x[0], maxV = x[0]
        var sumW = weights[0]
        var sumX = sumW * x[0]
        for i in 1..<n {
            if x[i] < minV { minV = x[i] }
            if x[i] > maxV { maxV = x[i] }
            sumW += weights[i]
            sumX += weights[i] * x[i]
        }
        if minV > 0 { minV = 0 }
        if maxV == minV {
            L = [UInt8](repeating: 0, count: n)
            return (0, -minV)
        }
        var iscale = Float(nmax) / (maxV - minV)
        var scale = 1 / iscale
        var bestError: Float = 0
        L = [UInt8](repeating: 0, count: n)
        for i in 0..<n {
            let l = S.nearestInt(iscale * (x[i] - minV))
            L[i] = UInt8(l < 0 ? 0 : (l > nmax ? nmax : l))
            let diff = scale * Float(L[i]) + minV - x[i]
            bestError += weights[i] * (mad ? abs(diff) : diff * diff)
        }
        var laux = [UInt8](repeating: 0, count: n)
        for step in 0...nstep {
            iscale = (rmin + rdelta * Float(step) + Float(nmax)) / (maxV - minV)
            var sumL: Float = 0, sumL2: Float = 0, sumXL: Float = 0
            for i in 0..<n {
                var l = S.nearestInt(iscale * (x[i] - minV))
                l = l < 0 ? 0 : (l > nmax ? nmax : l)
                laux[i] = UInt8(l)
                sumL += weights[i] * Float(l)
                sumL2 += weights[i] * Float(l) * Float(l)
                sumXL += weights[i] * Float(l) * x[i]
            }
            let D = sumW * sumL2 - sumL * sumL
            if D > 0 {
                var thisScale = (sumW * sumXL - sumX * sumL) / D
                var thisMin = (sumL2 * sumX - sumL * sumXL) / D
                if thisMin > 0 {
                    thisMin = 0
                    thisScale = sumXL / sumL2
                }
                var cur: Float = 0
                for i in 0..<n {
                    let diff = thisScale * Float(laux[i]) + thisMin - x[i]
                    cur += weights[i] * (mad ? abs(diff) : diff * diff)
                }
                if cur < bestError {
                    L = laux
                    bestError = cur
                    scale = thisScale
                    minV = thisMin
                }
            }
        }
        return (scale, -minV)
    }

    /// quantize_row_q4_K_ref (q5 false) or quantize_row_q5_K_ref (q5 true) over a whole row.
    static func q4q5K(_ row: [Float], q5: Bool) -> [UInt8] {
        let nmax = q5 ? 31 : 15
        var out = [UInt8]()
        for start in stride(from: 0, to: row.count, by: 256) {
            let x = Array(row[start..<(start + 256)])
            var L = [UInt8](repeating: 0, count: 256)
            var scales = [Float](repeating: 0, count: 8), mins = [Float](repeating: 0, count: 8)
            var maxScale: Float = 0, maxMin: Float = 0
            for j in 0..<8 {
                var sumX2: Float = 0
                for l in 0..<32 { sumX2 += x[32 * j + l] * x[32 * j + l] }
                let avX = (sumX2 / 32).squareRoot()
                let weights = (0..<32).map { avX + abs(x[32 * j + $0]) }
                var sub = [UInt8]()
                (scales[j], mins[j]) = makeQKX2(n: 32, nmax: nmax, x: x[(32 * j)..<(32 * j + 32)], weights: weights, L: &sub,
                                                rmin: q5 ? -0.5 : -1, rdelta: 0.1, nstep: q5 ? 15 : 20)
                L.replaceSubrange((32 * j)..<(32 * j + 32), with: sub)
                if scales[j] > maxScale { maxScale = scales[j] }
                if mins[j] > maxMin { maxMin = mins[j] }
            }
            let invScale: Float = maxScale > 0 ? 63 / maxScale : 0
            let invMin: Float = maxMin > 0 ? 63 / maxMin : 0
            var sc = [UInt8](repeating: 0, count: 12)
            for j in 0..<8 {
                let ls = min(63, UInt8(truncatingIfNeeded: S.nearestInt(invScale * scales[j])))
                let lm = min(63, UInt8(truncatingIfNeeded: S.nearestInt(invMin * mins[j])))
                if j < 4 {
                    sc[j] = ls
                    sc[j + 4] = lm
                } else {
                    sc[j + 4] = (ls & 0xF) | ((lm & 0xF) << 4)
                    sc[j - 4] |= (ls >> 4) << 6
                    sc[j] |= (lm >> 4) << 6
                }
            }
            let d = S.half(maxScale / 63), dmin = S.half(maxMin / 63)
            for j in 0..<8 {
                let s: UInt8, m: UInt8
                if j < 4 {
                    s = sc[j] & 63; m = sc[j + 4] & 63
                } else {
                    s = (sc[j + 4] & 0xF) | ((sc[j - 4] >> 6) << 4); m = (sc[j + 4] >> 4) | ((sc[j] >> 6) << 4)
                }
                let dd = d.value * Float(s)
                if dd == 0 { continue }
                let dm = dmin.value * Float(m)
                for ii in 0..<32 {
                    let l = S.nearestInt((x[32 * j + ii] + dm) / dd)
                    L[32 * j + ii] = UInt8(max(0, min(nmax, l)))
                }
            }
            S.append16(&out, d.bits)
            S.append16(&out, dmin.bits)
            out += sc
            if q5 {
                var qh = [UInt8](repeating: 0, count: 32), ql = [UInt8]()
                var m1: UInt8 = 1, m2: UInt8 = 2
                for n in stride(from: 0, to: 256, by: 64) {
                    for j in 0..<32 {
                        var l1 = L[n + j], l2 = L[n + j + 32]
                        if l1 > 15 { l1 -= 16; qh[j] |= m1 }
                        if l2 > 15 { l2 -= 16; qh[j] |= m2 }
                        ql.append(l1 | (l2 << 4))
                    }
                    m1 <<= 2; m2 <<= 2
                }
                out += qh + ql
            } else {
                for j in stride(from: 0, to: 256, by: 64) {
                    for l in 0..<32 { out.append(L[j + l] | (L[j + l + 32] << 4)) }
                }
            }
        }
        return out
    }

    static func makeQX(n: Int, nmax: Int, x: [Float], L: inout [Int]) -> Float {
        var maxV: Float = 0, amax: Float = 0
        for v in x where abs(v) > amax { amax = abs(v); maxV = v }
        L = [Int](repeating: 0, count: n)
        if amax < 1e-15 { return 0 }
        func clamp(_ l: Int) -> Int { max(-nmax, min(nmax - 1, l)) }
        var iscale = Float(-nmax) / maxV
        var sumlx: Float = 0, suml2: Float = 0
        for i in 0..<n {
            let l = clamp(S.nearestInt(iscale * x[i]))
            L[i] = l + nmax
            let w = x[i] * x[i]
            sumlx += w * x[i] * Float(l)
            suml2 += w * Float(l) * Float(l)
        }
        var scale: Float = suml2 != 0 ? sumlx / suml2 : 0
        var best = scale * sumlx
        for step in -9...9 where step != 0 {
            iscale = -(Float(nmax) + 0.1 * Float(step)) / maxV
            sumlx = 0; suml2 = 0
            for i in 0..<n {
                let l = clamp(S.nearestInt(iscale * x[i]))
                let w = x[i] * x[i]
                sumlx += w * x[i] * Float(l)
                suml2 += w * Float(l) * Float(l)
            }
            if suml2 > 0 && sumlx * sumlx > best * suml2 {
                for i in 0..<n { L[i] = nmax + clamp(S.nearestInt(iscale * x[i])) }
                scale = sumlx / suml2
                best = scale * sumlx
            }
        }
        return scale
    }

    /// quantize_row_q6_K_ref over a whole row.
    static func q6K(_ row: [Float]) -> [UInt8] {
        var out = [UInt8]()
        for start in stride(from: 0, to: row.count, by: 256) {
            let x = Array(row[start..<(start + 256)])
            var L = [Int](repeating: 0, count: 256)
            var scales = [Float](repeating: 0, count: 16)
            var maxScale: Float = 0, maxAbs: Float = 0
            for ib in 0..<16 {
                var sub = [Int]()
                scales[ib] = makeQX(n: 16, nmax: 32, x: Array(x[(16 * ib)..<(16 * ib + 16)]), L: &sub)
                L.replaceSubrange((16 * ib)..<(16 * ib + 16), with: sub)
                if abs(scales[ib]) > maxAbs { maxAbs = abs(scales[ib]); maxScale = scales[ib] }
            }
            if maxAbs < 1e-15 {
                out += [UInt8](repeating: 0, count: 210)
                continue
            }
            let iscale = -128 / maxScale
            let d = S.half(1 / iscale)
            let sc = (0..<16).map { Int8(truncatingIfNeeded: min(127, S.nearestInt(iscale * scales[$0]))) }
            for j in 0..<16 {
                let dd = d.value * Float(sc[j])
                if dd == 0 { continue }
                for ii in 0..<16 { L[16 * j + ii] = max(-32, min(31, S.nearestInt(x[16 * j + ii] / dd))) + 32 }
            }
            var ql = [UInt8](repeating: 0, count: 128), qh = [UInt8](repeating: 0, count: 64)
            for (half, j) in [0, 128].enumerated() {
                for l in 0..<32 {
                    let q = (0..<4).map { UInt8(L[j + l + 32 * $0]) }
                    ql[64 * half + l] = (q[0] & 0xF) | ((q[2] & 0xF) << 4)
                    ql[64 * half + l + 32] = (q[1] & 0xF) | ((q[3] & 0xF) << 4)
                    qh[32 * half + l] = (q[0] >> 4) | ((q[1] >> 4) << 2) | ((q[2] >> 4) << 4) | ((q[3] >> 4) << 6)
                }
            }
            out += ql + qh + sc.map { UInt8(bitPattern: $0) }
            S.append16(&out, d.bits)
        }
        return out
    }

    /// quantize_iq4_nl without importance weights (ntry 7) over a whole row.
    static func iq4NL(_ row: [Float]) -> [UInt8] {
        let values = GGMLScalar.iq4nlValues.map { Float($0) }
        let best = iq4Best
        var out = [UInt8]()
        for start in stride(from: 0, to: row.count, by: 32) {
            let x = Array(row[start..<(start + 32)])
            var maxV: Float = 0, amax: Float = 0
            for v in x where abs(v) > amax { amax = abs(v); maxV = v }
            var d: Float = 0
            if amax >= 1e-15 {
                d = -maxV / values[0]
                var sumqx: Float = 0, sumq2: Float = 0
                for v in x {
                    let q = values[best((1 / d) * v)]
                    sumqx += v * v * q * v
                    sumq2 += v * v * q * q
                }
                d = sumq2 > 0 ? sumqx / sumq2 : 0
                var bestV = d * sumqx
                for itry in -7...7 {
                    let id = (Float(itry) + values[0]) / maxV
                    sumqx = 0; sumq2 = 0
                    for v in x {
                        let q = values[best(id * v)]
                        sumqx += v * v * q * v
                        sumq2 += v * v * q * q
                    }
                    if sumq2 > 0 && sumqx * sumqx > bestV * sumq2 { d = sumqx / sumq2; bestV = d * sumqx }
                }
            }
            S.append16(&out, S.half(d).bits)
            let id: Float = d != 0 ? 1 / d : 0
            let L = x.map { best(id * $0) }
            for j in 0..<16 { out.append(UInt8(L[j] | (L[16 + j] << 4))) }
        }
        return out
    }

    private static func pack2(_ L: [Int]) -> [UInt8] {
        var out = [UInt8]()
        for j in [0, 128] {
            for l in 0..<32 { out.append(UInt8(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6))) }
        }
        return out
    }

    /// quantize_row_q2_K_ref over a whole row.
    static func q2K(_ row: [Float]) -> [UInt8] {
        var out = [UInt8]()
        for start in stride(from: 0, to: row.count, by: 256) {
            let x = Array(row[start..<(start + 256)])
            var L = [Int](repeating: 0, count: 256)
            var scales = [Float](repeating: 0, count: 16), mins = [Float](repeating: 0, count: 16)
            var maxScale: Float = 0, maxMin: Float = 0
            for j in 0..<16 {
                var sub = [UInt8]()
                (scales[j], mins[j]) = makeQKX2(n: 16, nmax: 3, x: x[(16 * j)..<(16 * j + 16)], weights: (0..<16).map { abs(x[16 * j + $0]) },
                                                L: &sub, rmin: -0.5, rdelta: 0.1, nstep: 15, mad: true)
                for i in 0..<16 { L[16 * j + i] = Int(sub[i]) }
                maxScale = max(maxScale, scales[j])
                maxMin = max(maxMin, mins[j])
            }
            var sc = [UInt8](repeating: 0, count: 16)
            let d = S.half(maxScale > 0 ? maxScale / 15 : 0), dmin = S.half(maxMin > 0 ? maxMin / 15 : 0)
            for j in 0..<16 {
                if maxScale > 0 { sc[j] = UInt8(truncatingIfNeeded: S.nearestInt(15 / maxScale * scales[j])) }
                if maxMin > 0 { sc[j] |= UInt8(truncatingIfNeeded: S.nearestInt(15 / maxMin * mins[j]) << 4) }
            }
            for j in 0..<16 {
                let dd = d.value * Float(sc[j] & 0xF)
                if dd == 0 { continue }
                let dm = dmin.value * Float(sc[j] >> 4)
                for ii in 0..<16 { L[16 * j + ii] = max(0, min(3, S.nearestInt((x[16 * j + ii] + dm) / dd))) }
            }
            out += sc + pack2(L)
            S.append16(&out, d.bits)
            S.append16(&out, dmin.bits)
        }
        return out
    }

    static func makeQ3(_ x: [Float]) -> (Float, [Int]) {
        let nmax = 4
        var maxV: Float = 0, amax: Float = 0
        for v in x where abs(v) > amax { amax = abs(v); maxV = v }
        if amax < 1e-15 { return (0, [Int](repeating: 0, count: x.count)) }
        let iscale = Float(-nmax) / maxV
        var L = x.map { max(-nmax, min(nmax - 1, S.nearestInt(iscale * $0))) }
        var sumlx: Float = 0, suml2: Float = 0
        for (v, l) in zip(x, L) {
            sumlx += v * v * v * Float(l)
            suml2 += v * v * Float(l) * Float(l)
        }
        for _ in 0..<5 {
            var changed = false
            for i in 0..<x.count {
                let w = x[i] * x[i]
                var slx = sumlx - w * x[i] * Float(L[i])
                if slx <= 0 { continue }
                var sl2 = suml2 - w * Float(L[i]) * Float(L[i])
                let newL = max(-nmax, min(nmax - 1, S.nearestInt(x[i] * sl2 / slx)))
                if newL == L[i] { continue }
                slx += w * x[i] * Float(newL)
                sl2 += w * Float(newL) * Float(newL)
                if sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2 {
                    L[i] = newL; sumlx = slx; suml2 = sl2; changed = true
                }
            }
            if !changed { break }
        }
        return (suml2 > 0 ? sumlx / suml2 : 0, L.map { $0 + nmax })
    }

    /// quantize_row_q3_K_ref over a whole row.
    static func q3K(_ row: [Float]) -> [UInt8] {
        var out = [UInt8]()
        for start in stride(from: 0, to: row.count, by: 256) {
            let x = Array(row[start..<(start + 256)])
            var L = [Int](), scales = [Float]()
            for j in 0..<16 {
                let (s, sub) = makeQ3(Array(x[(16 * j)..<(16 * j + 16)]))
                scales.append(s)
                L += sub
            }
            var maxScale: Float = 0, amax: Float = 0
            for s in scales where abs(s) > amax { amax = abs(s); maxScale = s }
            var sc = [UInt8](repeating: 0, count: 12)
            var six = [Int](repeating: 0, count: 16)
            var d = S.half(0)
            if maxScale != 0 {
                let iscale = -32 / maxScale
                for j in 0..<16 {
                    let l = Int(max(-32, min(31, Int8(truncatingIfNeeded: S.nearestInt(iscale * scales[j]))))) + 32
                    six[j] = l - 32
                    if j < 8 { sc[j] = UInt8(l & 0xF) } else { sc[j - 8] |= UInt8((l & 0xF) << 4) }
                    sc[j % 4 + 8] |= UInt8((l >> 4) << (2 * (j / 4)))
                }
                d = S.half(1 / iscale)
            }
            for j in 0..<16 {
                let dd = d.value * Float(six[j])
                if dd == 0 { continue }
                for ii in 0..<16 { L[16 * j + ii] = max(-4, min(3, S.nearestInt(x[16 * j + ii] / dd))) + 4 }
            }
            var hmask = [UInt8](repeating: 0, count: 32)
            for j in 0..<256 where L[j] > 3 {
                hmask[j % 32] |= UInt8(1 << (j / 32))
                L[j] -= 4
            }
            out += hmask + pack2(L) + sc
            S.append16(&out, d.bits)
        }
        return out
    }
}

@testable import AICompressCore

/// A second, plain transliteration of ggml-quants.c's importance-weighted Q2_K and Q3_K
/// quantizers (`quantize_row_q2_K_impl` with `make_qkx3_quants` and `make_qp_quants`,
/// `quantize_row_q3_K_impl` with the weighted `make_qx_quants`), whole rows with arrays and
/// indices, written from the C code separately from the library's `GGMLWeightedKQuantizer` (which
/// reuses the plain searches): the twin the library is tested against (STYLE habit 6). It shares
/// only the scalar helpers of GGMLScalar.
enum GGMLWeightedTwin {
    private typealias S = GGMLTwinScalar
    private static let groupMaxEps: Float = 1e-15

    /// make_qkx3_quants(n, nmax, x, weights, L, &the_min, Laux, rmin, rdelta, nstep, use_mad false).
    static func makeQKX3(nmax: Int, x: [Float], weights: [Float], L: inout [Int],
                         rmin: Float, rdelta: Float, nstep: Int) -> (scale: Float, theMin: Float) {
        let n = x.count
        var minV = x[0], maxV = x[0]
        var sumW = weights[0]
        var sumX = sumW * x[0]
        for i in 1..<n {
            if x[i] < minV { minV = x[i] }
            if x[i] > maxV { maxV = x[i] }
            let w = weights[i]
            sumW += w
            sumX += w * x[i]
        }
        if minV > 0 { minV = 0 }
        if maxV <= minV {
            L = [Int](repeating: 0, count: n)
            return (0, -minV)
        }
        var iscale = Float(nmax) / (maxV - minV)
        var scale = 1 / iscale
        var bestMAD: Float = 0
        for i in 0..<n {
            let l = S.nearestInt(iscale * (x[i] - minV))
            L[i] = max(0, min(nmax, l))
            var diff = scale * Float(L[i]) + minV - x[i]
            diff = diff * diff
            bestMAD += weights[i] * diff
        }
        var laux = [Int](repeating: 0, count: n)
        for step in 0...nstep {
            iscale = (rmin + rdelta * Float(step) + Float(nmax)) / (maxV - minV)
            var sumL: Float = 0, sumL2: Float = 0, sumXL: Float = 0
            for i in 0..<n {
                let l = max(0, min(nmax, S.nearestInt(iscale * (x[i] - minV))))
                laux[i] = l
                let w = weights[i]
                sumL += w * Float(l)
                sumL2 += w * Float(l) * Float(l)
                sumXL += w * Float(l) * x[i]
            }
            let D = sumW * sumL2 - sumL * sumL
            guard D > 0 else { continue }
            var thisScale = (sumW * sumXL - sumX * sumL) / D
            var thisMin = (sumL2 * sumX - sumL * sumXL) / D
            if thisMin > 0 {
                thisMin = 0
                thisScale = sumXL / sumL2
            }
            var mad: Float = 0
            for i in 0..<n {
                var diff = thisScale * Float(laux[i]) + thisMin - x[i]
                diff = diff * diff
                mad += weights[i] * diff
            }
            if mad < bestMAD {
                L = laux
                bestMAD = mad
                scale = thisScale
                minV = thisMin
            }
        }
        return (scale, -minV)
    }

    /// make_qp_quants(n, nmax, x, L, quant_weights): L is a uint8_t array in C (stored values wrap).
    static func makeQP(nmax: Int, x: [Float], weights: [Float], L: inout [UInt8]) -> Float {
        let n = x.count
        var maxV: Float = 0
        for i in 0..<n { maxV = max(maxV, x[i]) }
        if maxV < groupMaxEps {
            L = [UInt8](repeating: 0, count: n)
            return 0
        }
        var iscale = Float(nmax) / maxV
        for i in 0..<n { L[i] = UInt8(truncatingIfNeeded: S.nearestInt(iscale * x[i])) }
        let scale = 1 / iscale
        var bestMSE: Float = 0
        for i in 0..<n {
            let diff = x[i] - scale * Float(L[i])
            bestMSE += weights[i] * diff * diff
        }
        for step in -4...4 {
            if step == 0 { continue }
            let iscaleStep = (0.1 * Float(step) + Float(nmax)) / maxV
            let scaleStep = 1 / iscaleStep
            var mse: Float = 0
            for i in 0..<n {
                let l = min(nmax, S.nearestInt(iscaleStep * x[i]))
                let diff = x[i] - scaleStep * Float(l)
                mse += weights[i] * diff * diff
            }
            if mse < bestMSE {
                bestMSE = mse
                iscale = iscaleStep
            }
        }
        var sumLX: Float = 0, sumL2: Float = 0
        for i in 0..<n {
            let l = min(nmax, S.nearestInt(iscale * x[i]))
            L[i] = UInt8(truncatingIfNeeded: l)
            // The sums take the int l, not the stored byte (they differ for a negative l).
            sumLX += weights[i] * x[i] * Float(l)
            sumL2 += weights[i] * Float(l) * Float(l)
        }
        for _ in 0..<5 {
            var changed = 0
            for i in 0..<n {
                let w = weights[i]
                var slx = sumLX - w * x[i] * Float(L[i])
                var sl2 = sumL2 - w * Float(L[i]) * Float(L[i])
                if slx > 0 && sl2 > 0 {
                    let newL = min(nmax, S.nearestInt(x[i] * sl2 / slx))
                    if newL != Int(L[i]) {
                        slx += w * x[i] * Float(newL)
                        sl2 += w * Float(newL) * Float(newL)
                        if slx * slx * sumL2 > sumLX * sumLX * sl2 {
                            L[i] = UInt8(truncatingIfNeeded: newL)
                            sumLX = slx
                            sumL2 = sl2
                            changed += 1
                        }
                    }
                }
            }
            if changed == 0 { break }
        }
        return sumL2 > 0 ? sumLX / sumL2 : 0
    }

    /// make_qx_quants(n, nmax, x, L, rmse_type 1, qw) with weights: L[i] = l + nmax.
    static func makeQX(nmax: Int, x: [Float], weights: [Float], L: inout [Int]) -> Float {
        let n = x.count
        var maxV: Float = 0, amax: Float = 0
        for i in 0..<n where abs(x[i]) > amax {
            amax = abs(x[i])
            maxV = x[i]
        }
        if amax < groupMaxEps {
            L = [Int](repeating: 0, count: n)
            return 0
        }
        var iscale = -Float(nmax) / maxV
        var sumLX: Float = 0, sumL2: Float = 0
        for i in 0..<n {
            let l = max(-nmax, min(nmax - 1, S.nearestInt(iscale * x[i])))
            L[i] = l + nmax
            sumLX += weights[i] * x[i] * Float(l)
            sumL2 += weights[i] * Float(l) * Float(l)
        }
        var scale: Float = sumL2 != 0 ? sumLX / sumL2 : 0
        var best = scale * sumLX
        for step in -9...9 {
            if step == 0 { continue }
            iscale = -(Float(nmax) + 0.1 * Float(step)) / maxV
            sumLX = 0
            sumL2 = 0
            for i in 0..<n {
                let l = max(-nmax, min(nmax - 1, S.nearestInt(iscale * x[i])))
                sumLX += weights[i] * x[i] * Float(l)
                sumL2 += weights[i] * Float(l) * Float(l)
            }
            if sumL2 > 0 && sumLX * sumLX > best * sumL2 {
                for i in 0..<n { L[i] = nmax + max(-nmax, min(nmax - 1, S.nearestInt(iscale * x[i]))) }
                scale = sumLX / sumL2
                best = scale * sumLX
            }
        }
        return scale
    }

    /// The element weights qw[l] * sqrtf(sigma2 + x[l]^2) of one 16-value group.
    private static func groupWeights(_ x: ArraySlice<Float>, _ qw: ArraySlice<Float>, _ sigma2: Float) -> [Float] {
        zip(x, qw).map { v, q in q * (sigma2 + v * v).squareRoot() }
    }

    /// Four 2-bit levels a byte: values l, l+32, l+64, l+96 of each 128.
    private static func pack2(_ L: [Int]) -> [UInt8] {
        var out = [UInt8]()
        for j in stride(from: 0, to: 256, by: 128) {
            for l in 0..<32 { out.append(UInt8(L[j + l] | L[j + l + 32] << 2 | L[j + l + 64] << 4 | L[j + l + 96] << 6)) }
        }
        return out
    }

    /// quantize_row_q2_K_impl over one row (a whole number of 256-value super-blocks), with the
    /// row's importance `qw` (row-long).
    static func q2K(_ row: [Float], _ qw: [Float]) -> [UInt8] {
        var out = [UInt8]()
        for b in 0..<(row.count / 256) {
            let x = Array(row[(256 * b)..<(256 * b + 256)]), w = Array(qw[(256 * b)..<(256 * b + 256)])
            var sumX2: Float = 0
            for j in 0..<256 { sumX2 += x[j] * x[j] }
            let sigma2 = sumX2 / 256
            var L = [Int](repeating: 0, count: 256)
            var scales = [Float](repeating: 0, count: 16), mins = scales, sw = scales
            for j in 0..<16 {
                let weight = groupWeights(x[(16 * j)..<(16 * j + 16)], w[(16 * j)..<(16 * j + 16)], sigma2)
                for l in 0..<16 { sw[j] += weight[l] }
                var group = [Int](repeating: 0, count: 16)
                (scales[j], mins[j]) = makeQKX3(nmax: 3, x: Array(x[(16 * j)..<(16 * j + 16)]), weights: weight, L: &group,
                                                rmin: -0.9, rdelta: 0.05, nstep: 36)
                L.replaceSubrange((16 * j)..<(16 * j + 16), with: group)
            }
            var ls = [UInt8](repeating: 0, count: 16), lm = ls
            let d = S.half(makeQP(nmax: 15, x: scales, weights: sw, L: &ls))
            let m = S.half(makeQP(nmax: 15, x: mins, weights: sw, L: &lm))
            let packed = (0..<16).map { ls[$0] | lm[$0] << 4 }
            for j in 0..<16 {
                let dj = d.value * Float(packed[j] & 0xF)
                if dj == 0 { continue }
                let mj = m.value * Float(packed[j] >> 4)
                for ii in 0..<16 { L[16 * j + ii] = max(0, min(3, S.nearestInt((x[16 * j + ii] + mj) / dj))) }
            }
            out += packed
            out += pack2(L)
            S.append16(&out, d.bits)
            S.append16(&out, m.bits)
        }
        return out
    }

    /// quantize_row_q3_K_impl over one row with its importance `qw`.
    static func q3K(_ row: [Float], _ qw: [Float]) -> [UInt8] {
        var out = [UInt8]()
        for b in 0..<(row.count / 256) {
            let x = Array(row[(256 * b)..<(256 * b + 256)]), w = Array(qw[(256 * b)..<(256 * b + 256)])
            var sumX2: Float = 0
            for j in 0..<256 { sumX2 += x[j] * x[j] }
            let sigma2 = 2 * sumX2 / 256
            var L = [Int](repeating: 0, count: 256)
            var scales = [Float](repeating: 0, count: 16), sw = scales
            for j in 0..<16 {
                let weight = groupWeights(x[(16 * j)..<(16 * j + 16)], w[(16 * j)..<(16 * j + 16)], sigma2)
                var sumW: Float = 0
                for l in 0..<16 { sumW += weight[l] }
                sw[j] = sumW
                var group = [Int](repeating: 0, count: 16)
                scales[j] = makeQX(nmax: 4, x: Array(x[(16 * j)..<(16 * j + 16)]), weights: weight, L: &group)
                L.replaceSubrange((16 * j)..<(16 * j + 16), with: group)
            }
            var ls = [Int](repeating: 0, count: 16)
            let d = S.half(makeQX(nmax: 32, x: scales, weights: sw, L: &ls))
            var sc = [UInt8](repeating: 0, count: 12)
            for j in 0..<16 {
                // Ls is int8_t in C: l & 0xF and l >> 4 of a value in 0..<64.
                let l = ls[j]
                if j < 8 { sc[j] = UInt8(l & 0xF) } else { sc[j - 8] |= UInt8((l & 0xF) << 4) }
                sc[j % 4 + 8] |= UInt8((l >> 4) << (2 * (j / 4)))
            }
            for j in 0..<16 {
                let low = j < 8 ? Int(sc[j] & 0xF) : Int(sc[j - 8] >> 4)
                let s = (low | ((Int(sc[8 + j % 4]) >> (2 * (j / 4))) & 3) << 4) - 32
                let dj = d.value * Float(s)
                if dj == 0 { continue }
                for ii in 0..<16 { L[16 * j + ii] = max(-4, min(3, S.nearestInt(x[16 * j + ii] / dj))) + 4 }
            }
            var hmask = [UInt8](repeating: 0, count: 32)
            for j in 0..<256 where L[j] > 3 {
                hmask[j % 32] |= UInt8(1 << (j / 32))
                L[j] -= 4
            }
            out += hmask
            out += pack2(L)
            out += sc
            S.append16(&out, d.bits)
        }
        return out
    }
}

@testable import AICompressCore

extension GGMLReferenceTwin {
    private static let iq4Values = GGMLScalar.iq4nlValues.map { Float($0) }

    /// best_index_int8 over the IQ4_NL table: the nearest value's index, ties to the upper one.
    static func iq4Best(_ x: Float) -> Int {
        let values = iq4Values
        if x <= values[0] { return 0 }
        if x >= values[15] { return 15 }
        var ml = 0, mu = 15
        while mu - ml > 1 {
            let mav = (ml + mu) / 2
            if x < values[mav] { mu = mav } else { ml = mav }
        }
        return x - values[mu - 1] < values[mu] - x ? mu - 1 : mu
    }

    /// quantize_iq4_xs without importance weights (ntry 7) over a whole row, written from the C
    /// code separately from the library's block code: arrays and indices throughout.
    static func iq4XS(_ row: [Float]) -> [UInt8] {
        let values = GGMLScalar.iq4nlValues.map { Float($0) }
        let best = iq4Best
        func sums(_ x: [Float], _ id: Float) -> (Float, Float) {
            var sumqx: Float = 0, sumq2: Float = 0
            for v in x {
                let q = values[best(id * v)]
                sumqx += v * v * q * v
                sumq2 += v * v * q * q
            }
            return (sumqx, sumq2)
        }
        var out = [UInt8]()
        for start in stride(from: 0, to: row.count, by: 256) {
            let x = Array(row[start..<(start + 256)])
            var scales = [Float](repeating: 0, count: 8)
            var maxScale: Float = 0, amaxScale: Float = 0
            for ib in 0..<8 {
                let xb = Array(x[(32 * ib)..<(32 * ib + 32)])
                var maxV: Float = 0, amax: Float = 0
                for v in xb where abs(v) > amax { amax = abs(v); maxV = v }
                if amax < 1e-15 { continue }
                var d = -maxV / values[0]
                var (sumqx, sumq2) = sums(xb, 1 / d)
                d = sumq2 > 0 ? sumqx / sumq2 : 0
                var bestV = d * sumqx
                for itry in -7...7 {
                    (sumqx, sumq2) = sums(xb, (Float(itry) + values[0]) / maxV)
                    if sumq2 > 0 && sumqx * sumqx > bestV * sumq2 { d = sumqx / sumq2; bestV = d * sumqx }
                }
                scales[ib] = d
                if abs(d) > amaxScale { amaxScale = abs(d); maxScale = d }
            }
            let d = -maxScale / 32
            let id: Float = d != 0 ? 1 / d : 0
            var L = [Int](repeating: 0, count: 256)
            var scalesL = [UInt8](repeating: 0, count: 4)
            var scalesH = 0
            for ib in 0..<8 {
                let l = min(31, max(-32, Int(GGMLScalar.nearestInt(id * scales[ib]))))
                let dl = d * Float(l)
                let idl: Float = dl != 0 ? 1 / dl : 0
                for j in 0..<32 { L[32 * ib + j] = best(idl * x[32 * ib + j]) }
                let biased = l + 32
                if ib % 2 == 0 { scalesL[ib / 2] = UInt8(biased & 15) } else { scalesL[ib / 2] |= UInt8(biased & 15) << 4 }
                scalesH |= (biased >> 4) << (2 * ib)
            }
            let bits = GGMLScalar.fp16Bits(d)
            out += [UInt8(bits & 0xFF), UInt8(bits >> 8), UInt8(scalesH & 0xFF), UInt8(scalesH >> 8)] + scalesL
            for i in 0..<8 {
                for j in 0..<16 { out.append(UInt8(L[32 * i + j] | (L[32 * i + 16 + j] << 4))) }
            }
        }
        return out
    }
}

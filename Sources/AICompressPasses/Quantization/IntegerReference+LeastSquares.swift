import AICompressCore

extension IntegerReference {
    /// The least-squares scale search written plainly over arrays (the fast path is
    /// `LeastSquaresScale`; the rule is stated there). Each candidate is listed first, then
    /// judged: the list is built the same way for weighted and unweighted groups, with the
    /// weighted fits added in front of the unweighted ones.
    static func leastSquares(_ group: [Float], weights: [Float]?, type: IntegerType, symmetric: Bool,
                             scaleType: QuantizedScale) -> (Float, Int) {
        guard !group.isEmpty else { return (1, 0) }
        func store(_ s: Float) -> Float { scaleType == .f16 ? Float(Float16(s)) : s }
        let w = weights ?? [Float](repeating: 1, count: group.count)
        // The weighted error of a stored scale and zero point.
        func weightedError(_ s: Float, _ z: Int) -> Double {
            var e = 0.0
            for (x, wx) in zip(group, w) {
                let back = Float(type.quantize(x, scale: s, zeroPoint: z) - z) * s
                e += Double(wx) * (Double(x) - Double(back)) * (Double(x) - Double(back))
            }
            return e
        }
        // Least-squares scales for fixed integers q (zero point already taken off): Σwxq / Σwq²,
        // weighted first when there are weights, then unweighted.
        func fits(_ q: [Double]) -> [Float] {
            var out: [Float] = []
            for useWeights in (weights == nil ? [false] : [true, false]) {
                var num = 0.0, den = 0.0
                for i in group.indices {
                    let wi = useWeights ? Double(w[i]) : 1
                    num += wi * Double(group[i]) * q[i]
                    den += wi * q[i] * q[i]
                }
                if den > 0 { out.append(Float(num / den)) }
            }
            return out
        }

        var candidates: [(Float, Int)] = []
        if symmetric && type.signed {
            let levels = 1 << (type.bits - 1)
            var peak: Float = 0
            for x in group where abs(x) > abs(peak) { peak = x }
            guard abs(peak) >= Float.leastNormalMagnitude else { return (1, 0) }
            let q4Scale = store(peak / Float(-levels))
            if !q4Scale.isFinite { return (q4Scale, 0) }
            if q4Scale == 0 { return (1, 0) }
            candidates.append((q4Scale, 0))
            for k in -9...9 {
                let inverse = -Float(10 * levels + k) / (10 * peak)
                let q = group.map { Double(min(max(($0 * inverse).rounded(.toNearestOrEven), Float(-levels)), Float(levels - 1))) }
                for s in fits(q) {
                    let stored = store(s)
                    if stored != 0 && stored.isFinite { candidates.append((stored, 0)) }
                }
            }
        } else {
            let low = group.min()!, high = group.max()!
            let (full, fullZero) = scaleAndZeroPoint(low: low, high: high, type: type, symmetric: symmetric)
            if !store(full).isFinite { return (.infinity, fullZero) }
            for percent in 0...20 {
                let r = Float(100 - percent) / 100
                let (s, z) = scaleAndZeroPoint(low: low * r, high: high * r, type: type, symmetric: symmetric)
                candidates.append((store(s), z))
                let q = group.map { Double(type.quantize($0, scale: s, zeroPoint: z) - z) }
                for f in fits(q) { candidates.append((store(f), z)) }
            }
            candidates = candidates.filter { $0.0 > 0 && $0.0.isFinite }
            if candidates.isEmpty { return (1, fullZero) }
        }
        // The first candidate of least error.
        var best = candidates[0], bestError = weightedError(best.0, best.1)
        for c in candidates.dropFirst() {
            let e = weightedError(c.0, c.1)
            if e < bestError {
                best = c
                bestError = e
            }
        }
        return best
    }
}

/// ggml-quants.c's `quantize_row_iq4_nl_impl` for one IQ4_NL block of 32 without importance
/// weights, as `quantize_iq4_nl` (what llama-quantize calls) runs it: 7 trial scales each side.
///
/// `quantize_row_iq4_nl_ref` runs the same code with no trials (`ntry = -1`), which leaves the
/// levels of an all-zero block uninitialised in C; aicompress follows `quantize_iq4_nl` only.
enum GGMLIQ4NLQuantizer {
    /// Trial scales on each side of the first guess (`ntry` of `quantize_iq4_nl`/`_xs`).
    static let tries = 7

    /// ggml `best_index_int8`: the index of the table value nearest `x` (binary search; ties to
    /// the upper value).
    @inline(__always)
    static func bestIndex(_ values: UnsafeBufferPointer<Int8>, _ x: Float) -> Int {
        let n = values.count
        if x <= Float(values[0]) { return 0 }
        if x >= Float(values[n - 1]) { return n - 1 }
        var ml = 0, mu = n - 1
        while mu - ml > 1 {
            let mav = (ml + mu) / 2
            if x < Float(values[mav]) { mu = mav } else { ml = mav }
        }
        return x - Float(values[mu - 1]) < Float(values[mu]) - x ? mu - 1 : mu
    }

    /// The scale search of `quantize_row_iq4_nl_impl` for one sub-block of 32 (weights x², no
    /// importance matrix, `tries` trials each side): the scale, 0 for an all-zero sub-block
    /// (amax below GROUP_MAX_EPS). The levels the C code keeps from the search are recomputed by
    /// both callers from the final scale, so they are not returned.
    @inline(__always)
    static func fitScale(_ x: UnsafePointer<Float>, _ values: UnsafeBufferPointer<Int8>) -> Float {
        var maxValue: Float = 0, amax: Float = 0
        for j in 0..<32 where abs(x[j]) > amax {
            amax = abs(x[j])
            maxValue = x[j]
        }
        guard amax >= GGMLKQuantizer.groupMaxEps else { return 0 }
        let v0 = Float(values[0])
        var d = -maxValue / v0
        var id = 1 / d
        var sumQX: Float = 0, sumQ2: Float = 0
        for j in 0..<32 {
            let q = Float(values[bestIndex(values, id * x[j])]), w = x[j] * x[j]
            sumQX += w * q * x[j]
            sumQ2 += w * q * q
        }
        d = sumQ2 > 0 ? sumQX / sumQ2 : 0
        var best = d * sumQX
        for trial in -tries...tries {
            id = Float(trial + Int(values[0])) / maxValue
            sumQX = 0
            sumQ2 = 0
            for j in 0..<32 {
                let q = Float(values[bestIndex(values, id * x[j])]), w = x[j] * x[j]
                sumQX += w * q * x[j]
                sumQ2 += w * q * q
            }
            if sumQ2 > 0 && sumQX * sumQX > best * sumQ2 {
                d = sumQX / sumQ2
                best = d * sumQX
            }
        }
        return d
    }

    /// One IQ4_NL block: f16 scale, then 16 bytes of nibble pairs (value j low, j + 16 high).
    static func block(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawBufferPointer) {
        GGMLScalar.iq4nlValues.withUnsafeBufferPointer { values in
            let scale = fitScale(x, values)
            y.ggmlStoreHalf(scale, at: 0)
            let id: Float = scale != 0 ? 1 / scale : 0
            for j in 0..<16 {
                let lo = bestIndex(values, id * x[j]), hi = bestIndex(values, id * x[16 + j])
                y[2 + j] = UInt8(lo | hi << 4)
            }
        }
    }
}

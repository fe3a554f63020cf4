import Foundation

/// The per-token arithmetic of llama-perplexity (tools/perplexity/perplexity.cpp), in its float
/// and double operations.
enum TokenScores {
    /// `log_softmax(n_vocab, logits, tok)`: −log p(tok), the max in float, Σ exp in double.
    static func nll(_ l: UnsafePointer<Float>, _ n: Int, _ tok: Int) -> Double {
        var m = l[0]
        for i in 1..<n { m = max(m, l[i]) }
        var sum = 0.0
        for i in 0..<n { sum += Double(expf(l[i] - m)) }
        return -(Double(l[tok] - m) - Foundation.log(sum))
    }

    /// Base log-probabilities as llama-perplexity stores them in its `--kl-divergence-base`
    /// file: 16-bit steps over the top 16 nats (scale, minimum, codes), so the divergence is
    /// computed from the same rounded base distribution as llama.cpp's.
    struct BaseRow {
        var scale: Float, minLogProb: Float, codes: [UInt16]

        init(_ l: UnsafePointer<Float>, _ n: Int) {
            var maxL = l[0], minL = l[0]
            for i in 1..<n { maxL = max(maxL, l[i]); minL = min(minL, l[i]) }
            minL = max(minL, maxL - 16)
            var sum = 0.0
            for i in 0..<n { sum += Double(expf(l[i] - maxL)) }
            let logSum = Float(Foundation.log(sum))
            minLogProb = minL - maxL - logSum
            scale = (maxL - minL) / 65535
            codes = [UInt16](repeating: 0, count: n)
            if scale != 0 {
                let inv = 1 / scale
                for i in 0..<n where l[i] > minL { codes[i] = UInt16(truncatingIfNeeded: BaseRow.nearestInt(inv * (l[i] - minL))) }
            }
        }

        /// ggml's `nearest_int` (round half to even through the float mantissa trick).
        static func nearestInt(_ f: Float) -> Int32 {
            let v = f + 12582912
            return Int32(bitPattern: v.bitPattern & 0x007F_FFFF) - 0x0040_0000
        }

        func logProb(_ i: Int) -> Float { scale * Float(codes[i]) + minLogProb }
    }

    /// One token of the `kl_divergence` loop: the model's logits against the base row.
    struct Comparison {
        var nll: Float, nllBase: Float, kld: Double, pDiff: Float, sameTop: Bool
    }

    static func compare(_ l: UnsafePointer<Float>, _ n: Int, base: BaseRow, tok: Int) -> Comparison {
        var maxL = l[0], imax = 0
        for i in 1..<n where l[i] > maxL { maxL = l[i]; imax = i }
        var sum = 0.0
        for i in 0..<n { sum += Double(expf(l[i] - maxL)) }
        let logSum = Float(Foundation.log(sum))
        let nll = maxL + logSum - l[tok]
        let nllBase = -base.logProb(tok)
        let top = maxL + logSum
        var kld = 0.0, imaxBase = -1
        var best: Float = 0
        for i in 0..<n {
            let pl = base.logProb(i)
            if i == 0 || pl > best { best = pl; imaxBase = i }
            if pl > -16 { kld += Double(expf(pl) * (pl - l[i] + top)) }
        }
        return Comparison(nll: nll, nllBase: nllBase, kld: kld, pDiff: expf(-nll) - expf(-nllBase), sameTop: imax == imaxBase)
    }
}

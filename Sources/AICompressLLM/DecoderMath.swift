import Foundation

/// The element-wise pieces of the decoder, shared by the fast path and its reference twin (each
/// is a loop over one row, with llama.cpp's float operations in llama.cpp's order).
enum DecoderMath {
    /// `ggml_rms_norm` then the weight: x · (1/√(mean(x²) + ε)) · w, the mean summed in double.
    static func rmsNorm(_ x: [Float], _ w: [Float], _ eps: Float, rows: Int, into out: inout [Float]) {
        let n = w.count
        for r in 0..<rows {
            var sum = 0.0
            for j in 0..<n { let v = x[r * n + j]; sum += Double(v * v) }
            let scale = 1 / (Float(sum / Double(n)) + eps).squareRoot()
            for j in 0..<n { out[r * n + j] = x[r * n + j] * scale * w[j] }
        }
    }

    /// `rmsNorm` of every run of `w.count` values of `x` in place (qwen3's per-head q/k norm:
    /// `x` is `rows × heads·head_dim`, so its runs are the heads).
    static func rmsNormInPlace(_ x: inout [Float], _ w: [Float], _ eps: Float) {
        let input = x
        rmsNorm(input, w, eps, rows: x.count / max(w.count, 1), into: &x)
    }

    /// x · σ(x), as ggml's `ggml_silu_f32`.
    @inline(__always)
    static func silu(_ x: Float) -> Float { x / (1 + expf(-x)) }

    /// Softmax over the first `visible` of `count` scores in place (the rest, masked, become 0),
    /// as `ggml_soft_max_ext` with a causal mask: max, exp, sum in double, scale by 1/sum.
    static func causalSoftmax(_ s: UnsafeMutablePointer<Float>, visible: Int, count: Int) {
        var m = -Float.infinity
        for j in 0..<visible { m = max(m, s[j]) }
        var sum = 0.0
        for j in 0..<visible {
            let e = expf(s[j] - m)
            s[j] = e
            sum += Double(e)
        }
        let inv = Float(1 / sum)
        for j in 0..<visible { s[j] *= inv }
        for j in visible..<count { s[j] = 0 }
    }

    /// cos/sin of every (position, pair), as `ggml_rope_cache_init` with no YaRN extension:
    /// θ = p · base^(−2i/n_rot) by repeated multiplication in float, divided by the pair's
    /// frequency factor, times the linear frequency scale.
    struct RopeTable {
        let cos: [Float], sin: [Float], pairs: Int

        init(_ c: DecoderConfig, factors: [Float]?, positions: Int) {
            pairs = c.ropeDimensions / 2
            var cs = [Float](repeating: 0, count: positions * pairs), sn = cs
            let thetaScale = powf(c.ropeBase, -2 / Float(c.ropeDimensions))
            for p in 0..<positions {
                var theta = Float(p)
                for i in 0..<pairs {
                    let ff = factors?[i] ?? 1
                    let angle = c.ropeFrequencyScale * (theta / ff)
                    cs[p * pairs + i] = cosf(angle)
                    sn[p * pairs + i] = sinf(angle)
                    theta *= thetaScale
                }
            }
            cos = cs
            sin = sn
        }

        /// Rotates every head of every row of `x` (`rows × heads·headDimension`) in place.
        func apply(_ x: inout [Float], heads: Int, headDimension hd: Int, style: DecoderConfig.RopeStyle) {
            let width = heads * hd, rows = x.count / max(1, width)
            for r in 0..<rows {
                for h in 0..<heads {
                    let base = r * width + h * hd
                    for i in 0..<pairs {
                        let (a, b) = style == .adjacentPairs ? (base + 2 * i, base + 2 * i + 1) : (base + i, base + i + pairs)
                        let x0 = x[a], x1 = x[b], c = cos[r * pairs + i], s = sin[r * pairs + i]
                        x[a] = x0 * c - x1 * s
                        x[b] = x0 * s + x1 * c
                    }
                }
            }
        }
    }
}

import Foundation

/// The plain twin of `Decoder`: one token at a time, every matrix row decoded on its own and
/// dotted in a loop, attention as explicit sums, rotary angles from `pow` in double — no BLAS,
/// no panels, no threads. Slow; for testing the fast path on tiny models.
public struct DecoderReference: Sendable {
    /// The decoder whose weights and configuration it runs.
    public let decoder: Decoder

    /// The twin of `decoder`.
    public init(_ decoder: Decoder) { self.decoder = decoder }

    /// Logits `[tokens.count × vocabulary]` of a sequence starting at position 0; `observe`, when
    /// given, sees every block input of every token (one row) once, under the site of the first
    /// weight reading it (phi3's fused attn_qkv and ffn_up as `.query` and `.up`, fused): the
    /// explicit activations the calibration's statistics are tested against.
    /// - Throws: `LLMError.tokenOutOfRange`.
    public func logits(_ tokens: [Int32], observe: ((ActivationSite, [Float]) -> Void)? = nil) throws(LLMError) -> [Float] {
        let c = decoder.config, w = decoder.weights
        for id in tokens where id < 0 || Int(id) >= c.vocabulary { throw .tokenOutOfRange(id: id, vocabulary: c.vocabulary) }
        var keys = [[[Float]]](repeating: [], count: c.layers), values = keys
        var out = [Float]()
        for (pos, id) in tokens.enumerated() {
            var x = w.embedding.row(Int(id))
            for (li, l) in w.layers.enumerated() {
                let h = norm(x, l.attentionNorm)
                observe?(ActivationSite(layer: li, kind: .query, fused: l.fusedQKV != nil), h)
                let (q0, k0, v) = attentionInputs(l, h)
                var q = q0, k = k0
                if let w = l.queryNorm { q = headNorm(q, w) }
                if let w = l.keyNorm { k = headNorm(k, w) }
                rotate(&q, heads: c.heads, position: pos)
                rotate(&k, heads: c.kvHeads, position: pos)
                keys[li].append(k)
                values[li].append(v)
                var att = [Float](repeating: 0, count: c.queryWidth)
                let hd = c.headDimension, group = c.heads / c.kvHeads
                for head in 0..<c.heads {
                    let g = head / group
                    var scores = [Double]()
                    for j in 0...pos {
                        var dot = 0.0
                        for d in 0..<hd { dot += Double(q[head * hd + d]) * Double(keys[li][j][g * hd + d]) }
                        scores.append(dot / Double(hd).squareRoot())
                    }
                    let m = scores.max() ?? 0
                    let e = scores.map { Foundation.exp($0 - m) }
                    let sum = e.reduce(0, +)
                    for d in 0..<hd {
                        var acc = 0.0
                        for j in 0...pos { acc += e[j] / sum * Double(values[li][j][g * hd + d]) }
                        att[head * hd + d] = Float(acc)
                    }
                }
                observe?(ActivationSite(layer: li, kind: .output), att)
                let o = matvec(l.output, att, l.outputBias)
                for i in 0..<x.count { x[i] += o[i] }
                let f = norm(x, l.ffnNorm)
                observe?(l.fusedGateUp != nil ? ActivationSite(layer: li, kind: .up, fused: true) : ActivationSite(layer: li, kind: .gate), f)
                let (gate, up) = feedForwardInputs(l, f)
                var act = [Float](repeating: 0, count: gate.count)
                for i in 0..<gate.count {
                    let g = Double(gate[i])
                    act[i] = Float(g / (1 + Foundation.exp(-g))) * up[i]
                }
                observe?(ActivationSite(layer: li, kind: .down), act)
                let d = matvec(l.down, act, l.downBias)
                for i in 0..<x.count { x[i] += d[i] }
            }
            out.append(contentsOf: matvec(w.output, norm(x, w.outputNorm), nil))
        }
        return out
    }

    /// q, k and v of one token: phi3's fused attn_qkv multiplied whole (with its bias) and cut
    /// at the configuration's widths, the others' three matrices one by one.
    func attentionInputs(_ l: DecoderLayer, _ h: [Float]) -> ([Float], [Float], [Float]) {
        guard let fused = l.fusedQKV else { return (matvec(l.query, h, l.queryBias), matvec(l.key, h, l.keyBias), matvec(l.value, h, l.valueBias)) }
        let all = matvec(fused, h, l.fusedQKVBias), q = decoder.config.queryWidth, kv = decoder.config.kvWidth
        return (Array(all[0..<q]), Array(all[q..<(q + kv)]), Array(all[(q + kv)..<(q + 2 * kv)]))
    }

    /// The SwiGLU gate and up values: phi3's fused ffn_up multiplied whole and halved (gate
    /// first, as ggml's swiglu reads it), the others' two matrices.
    func feedForwardInputs(_ l: DecoderLayer, _ f: [Float]) -> ([Float], [Float]) {
        guard let fused = l.fusedGateUp else { return (matvec(l.gate, f, l.gateBias), matvec(l.up, f, l.upBias)) }
        let all = matvec(fused, f, nil), ff = decoder.config.feedForward
        return (Array(all[0..<ff]), Array(all[ff..<(2 * ff)]))
    }

    func norm(_ x: [Float], _ w: [Float]) -> [Float] {
        let ms = x.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(x.count)
        let s = 1 / (ms + Double(decoder.config.rmsEpsilon)).squareRoot()
        return (0..<x.count).map { Float(Double(x[$0]) * s) * w[$0] }
    }

    /// `norm` of each head (consecutive runs of `w.count`) on its own.
    func headNorm(_ x: [Float], _ w: [Float]) -> [Float] {
        stride(from: 0, to: x.count, by: w.count).flatMap { norm(Array(x[$0..<($0 + w.count)]), w) }
    }

    func matvec(_ m: WeightMatrix, _ x: [Float], _ bias: [Float]?) -> [Float] {
        (0..<m.rows).map { r in
            let row = m.row(r)
            var acc = 0.0
            for j in 0..<m.columns { acc += Double(row[j]) * Double(x[j]) }
            return Float(acc) + (bias?[r] ?? 0)
        }
    }

    func rotate(_ x: inout [Float], heads: Int, position: Int) {
        let c = decoder.config, hd = c.headDimension, n = c.ropeDimensions
        for h in 0..<heads {
            for i in 0..<(n / 2) {
                let ff = Double(decoder.weights.ropeFactors?[i] ?? 1)
                let angle = Double(c.ropeFrequencyScale) * Double(position) * Foundation.pow(Double(c.ropeBase), -2 * Double(i) / Double(n)) / ff
                let (a, b) = c.ropeStyle == .adjacentPairs ? (h * hd + 2 * i, h * hd + 2 * i + 1) : (h * hd + i, h * hd + i + n / 2)
                let x0 = Double(x[a]), x1 = Double(x[b])
                x[a] = Float(x0 * Foundation.cos(angle) - x1 * Foundation.sin(angle))
                x[b] = Float(x0 * Foundation.sin(angle) + x1 * Foundation.cos(angle))
            }
        }
    }
}

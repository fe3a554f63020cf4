import Foundation

/// The `com.microsoft` contrib ops that onnxruntime's transformer optimizer writes into BERT-class
/// models, as onnxruntime defines them: SkipLayerNormalization, FastGelu, BiasGelu (with
/// gradients), Attention (packed QKV weights, a raw 0/1 mask or per-row lengths) and
/// EmbedLayerNormalization (forward only).
enum Microsoft {
    static let domain = "com.microsoft"

    static let definitions: [OpDefinition] = [
        OpDefinition("FastGelu", domain: domain, traits: .shapePreserving,
                     forward: { ctx, ins throws(ExecutionError) in [try gelu(ctx, ins, tanh: true)] },
                     gradient: .init(inputs: [0, 1]) { ctx, ins, y, g, need throws(ExecutionError) in try geluBackward(ctx, ins, y, g, need, tanh: true) }),
        OpDefinition("BiasGelu", domain: domain, traits: .shapePreserving,
                     forward: { ctx, ins throws(ExecutionError) in [try gelu(ctx, ins, tanh: false)] },
                     gradient: .init(inputs: [0, 1]) { ctx, ins, y, g, need throws(ExecutionError) in try geluBackward(ctx, ins, y, g, need, tanh: false) }),
        OpDefinition("SkipLayerNormalization", domain: domain, traits: .shapePreserving,
                     forward: { ctx, ins throws(ExecutionError) in try skipLayerNorm(ctx, ins) },
                     gradient: .init(inputs: [0, 1, 2, 3, 4]) { ctx, ins, _, g, need throws(ExecutionError) in
                         let (sum, lnIns) = try skipSum(ctx, ins)
                         let geo = try lnGeometry(ctx, sum, lnIns)
                         let d = try GroupNorm.backward(ctx, lnIns, geo, g: g, need: [true, need[2], need.count > 3 && need[3]])
                         let dx = d[0]
                         var out: [NDArray?] = [need[0] ? dx : nil, need[1] ? dx : nil, d[1], d.count > 2 ? d[2] : nil, nil]
                         if need.count > 4, need[4], ins.count > 4, let b = ins[4], let dx {
                             out[4] = NDArray(shape: b.shape, floats: Broadcast.reduce(dx.floats, out: dx.shape, to: b.shape))
                         }
                         return out
                     }),
        OpDefinition("Attention", domain: domain, forward: { ctx, ins throws(ExecutionError) in [try attention(ctx, ins)] }),
        OpDefinition("EmbedLayerNormalization", domain: domain, forward: { ctx, ins throws(ExecutionError) in try embedLayerNorm(ctx, ins) }),
    ]

    /// Word + position (+ segment) embeddings of int token ids, then LayerNormalization; also the
    /// tokens per row (mask_index) and the sum before normalization.
    static func embedLayerNorm(_ ctx: OpContext, _ inputs: [NDArray?]) throws(ExecutionError) -> [NDArray] {
        let ids = try ctx.input(inputs, 0), words = try ctx.floatInput(inputs, 2), positions = try ctx.floatInput(inputs, 3)
        guard !ids.isFloat, ids.rank == 2, words.rank == 2, positions.rank == 2, positions.shape[1] == words.shape[1] else {
            throw ctx.mismatch("input_ids \(ids.shape) and embeddings \(words.shape), \(positions.shape) do not fit")
        }
        let b = ids.shape[0], s = ids.shape[1], h = words.shape[1]
        try ctx.checkSize([b, s, h])
        let segIds = inputs.count > 1 ? inputs[1] : nil, segs = inputs.count > 4 ? inputs[4] : nil
        let posIds = inputs.count > 8 ? inputs[8] : nil
        var sum = [Float](repeating: 0, count: b * s * h)
        func row(_ table: NDArray, _ id: Int64, _ what: String) throws(ExecutionError) -> Int {
            guard id >= 0, id < Int64(table.shape[0]) else { throw ctx.mismatch("\(what) id \(id) is out of range for \(table.shape[0]) rows") }
            return Int(id) * h
        }
        for bi in 0..<b { for t in 0..<s {
            let o = (bi * s + t) * h
            let w = try row(words, ids.ints[bi * s + t], "word")
            let pid: Int64 = posIds.map { $0.count == s ? $0.asInts[t] : $0.asInts[bi * s + t] } ?? Int64(t)
            let p = try row(positions, pid, "position")
            for k in 0..<h { sum[o + k] = words.floats[w + k] + positions.floats[p + k] }
            if let sid = segIds, let table = segs {
                let r = try row(table, sid.asInts[bi * s + t], "segment")
                for k in 0..<h { sum[o + k] += table.floats[r + k] }
            }
        } }
        let total = NDArray(shape: [b, s, h], floats: sum)
        let lnIns: [NDArray?] = [total, try ctx.floatInput(inputs, 5), inputs.count > 6 ? inputs[6] : nil]
        let y = try GroupNorm.normalize(ctx, lnIns, try lnGeometry(ctx, total, lnIns)).y
        var maskIndex = [Int64](repeating: Int64(s), count: b)
        if inputs.count > 7, let m = inputs[7] {
            let v = m.asInts
            for bi in 0..<b { maskIndex[bi] = Int64((0..<s).filter { v[bi * s + $0] != 0 }.count) }
        }
        return [y, NDArray(shape: [b], ints: maskIndex), total]
    }

    /// X (+ bias), with the exact (erf) or tanh-approximated GELU applied.
    static func gelu(_ ctx: OpContext, _ inputs: [NDArray?], tanh: Bool) throws(ExecutionError) -> NDArray {
        var x = try ctx.floatInput(inputs, 0)
        if inputs.count > 1, let b = inputs[1] { x = try Broadcast.apply(x, b, ctx: ctx, +) }
        return Elementwise.map(x) { tanh ? fastGelu($0) : Float(0.5 * Double($0) * (1 + Foundation.erf(Double($0) / 2.0.squareRoot()))) }
    }

    @inline(__always) static func fastGelu(_ v: Float) -> Float {
        let u = Double(v) * (0.7978845608028654 + 0.035677408136300125 * Double(v) * Double(v))
        return Float(0.5 * Double(v) * (1 + Foundation.tanh(u)))
    }

    static func geluBackward(_ ctx: OpContext, _ inputs: [NDArray?], _ y: NDArray, _ g: NDArray, _ need: [Bool],
                             tanh: Bool) throws(ExecutionError) -> [NDArray?] {
        var x = try ctx.floatInput(inputs, 0)
        if inputs.count > 1, let b = inputs[1] { x = try Broadcast.apply(x, b, ctx: ctx, +) }
        var dx = [Float](repeating: 0, count: x.count)
        for i in dx.indices {
            let v = Double(x.floats[i])
            let d: Double
            if tanh {
                let u = 0.7978845608028654 * (v + 0.044715 * v * v * v), t = Foundation.tanh(u)
                d = 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * 0.7978845608028654 * (1 + 3 * 0.044715 * v * v)
            } else {
                d = 0.5 * (1 + Foundation.erf(v / 2.0.squareRoot())) + v * Foundation.exp(-0.5 * v * v) / (2 * Double.pi).squareRoot()
            }
            dx[i] = g.floats[i] * Float(d)
        }
        let gx = NDArray(shape: x.shape, floats: dx)
        var out: [NDArray?] = [need[0] ? gx : nil, nil]
        if need.count > 1, need[1], inputs.count > 1, let b = inputs[1] {
            out[1] = NDArray(shape: b.shape, floats: Broadcast.reduce(dx, out: x.shape, to: b.shape))
        }
        return out
    }

    /// input + skip (+ bias), and the LayerNormalization inputs over it (gamma, beta).
    static func skipSum(_ ctx: OpContext, _ inputs: [NDArray?]) throws(ExecutionError) -> (NDArray, [NDArray?]) {
        let x = try ctx.floatInput(inputs, 0), skip = try ctx.floatInput(inputs, 1)
        var sum = try Broadcast.apply(x, skip, ctx: ctx, +)
        guard sum.shape == x.shape else { throw ctx.mismatch("skip \(skip.shape) does not fit input \(x.shape)") }
        if inputs.count > 4, let b = inputs[4] { sum = try Broadcast.apply(sum, b, ctx: ctx, +) }
        return (sum, [sum, try ctx.floatInput(inputs, 2), inputs.count > 3 ? inputs[3] : nil])
    }

    static func lnGeometry(_ ctx: OpContext, _ sum: NDArray, _ lnIns: [NDArray?]) throws(ExecutionError) -> GroupNorm.Geometry {
        let inner = sum.shape.last ?? 1
        try GroupNorm.checkAffine(ctx, lnIns, count: inner, [1, 2])
        return GroupNorm.Geometry(shape: sum.shape, axis: max(sum.rank - 1, 0), groups: sum.count / max(inner, 1), size: inner,
                                  scaleDiv: 1, scaleMod: max(inner, 1), epsilon: ctx.float("epsilon", 1e-12))
    }

    static func skipLayerNorm(_ ctx: OpContext, _ inputs: [NDArray?]) throws(ExecutionError) -> [NDArray] {
        let (sum, lnIns) = try skipSum(ctx, inputs)
        let r = try GroupNorm.normalize(ctx, lnIns, try lnGeometry(ctx, sum, lnIns))
        var stats = sum.shape
        if !stats.isEmpty { stats[stats.count - 1] = 1 }
        // outputs: output, mean, inv_std_var, input_skip_bias_sum
        return [r.y, NDArray(shape: stats, floats: r.mean), NDArray(shape: stats, floats: r.rstd), sum]
    }

    /// Multi-head self-attention of [B, S, H] with packed [H, 3H] weights and [3H] bias.
    static func attention(_ ctx: OpContext, _ inputs: [NDArray?]) throws(ExecutionError) -> NDArray {
        let x = try ctx.floatInput(inputs, 0), w = try ctx.floatInput(inputs, 1)
        let heads = ctx.int("num_heads", 0)
        guard x.rank == 3, w.rank == 2, w.shape[0] == x.shape[2], heads >= 1 else { throw ctx.mismatch("input \(x.shape) and weights \(w.shape) do not fit") }
        if ctx.int("unidirectional", 0) != 0 { throw ctx.unsupported("unidirectional (causal) Attention") }
        if inputs.count > 4, inputs[4] != nil { throw ctx.unsupported("past state") }
        if inputs.count > 5, inputs[5] != nil { throw ctx.unsupported("attention bias input") }
        let sizes = ctx.ints("qkv_hidden_sizes") ?? [w.shape[1] / 3, w.shape[1] / 3, w.shape[1] / 3]
        guard sizes.count == 3, sizes[0] == sizes[1], sizes.reduce(0, +) == w.shape[1], sizes[0] % heads == 0, sizes[2] % heads == 0 else {
            throw ctx.mismatch("qkv_hidden_sizes \(sizes) do not fit weights \(w.shape) and \(heads) heads")
        }
        let b = x.shape[0], s = x.shape[1], h = x.shape[2], total = w.shape[1]
        let dk = sizes[0] / heads, dv = sizes[2] / heads
        try ctx.checkSize([b, heads, s, s])
        var qkv = [Float](repeating: 0, count: b * s * total)
        BLAS.gemm(transA: false, transB: false, m: b * s, n: total, k: h, x.floats, w.floats, into: &qkv)
        if inputs.count > 2, let bias = inputs[2] {
            guard bias.count == total else { throw ctx.mismatch("bias has \(bias.count) values, \(total) expected") }
            for r in 0..<(b * s) { for j in 0..<total { qkv[r * total + j] += bias.floats[j] } }
        }
        // additive mask per (batch, key): 0 or mask_filter_value
        let filter = ctx.float("mask_filter_value", -10000)
        var keyMask = [Float](repeating: 0, count: b * s)
        if inputs.count > 3, let m = inputs[3] {
            let v = m.asInts
            if m.shape == [b, s] {
                for i in 0..<(b * s) where v[i] == 0 { keyMask[i] = filter }
            } else if m.shape == [b] {
                for i in 0..<b { for j in 0..<s where Int64(j) >= v[i] { keyMask[i * s + j] = filter } }
            } else {
                throw ctx.unsupported("mask_index of shape \(m.shape) (supported: [batch] lengths, [batch, sequence] 0/1)")
            }
        }
        let scale = ctx.float("scale", 1 / Float(dk).squareRoot())
        var y = [Float](repeating: 0, count: b * s * heads * dv)
        var q = [Float](repeating: 0, count: s * dk), k = q, v = [Float](repeating: 0, count: s * dv)
        var scores = [Float](repeating: 0, count: s * s), ctxv = [Float](repeating: 0, count: s * dv)
        for bi in 0..<b { for hi in 0..<heads {
            for t in 0..<s {
                let row = (bi * s + t) * total
                for d in 0..<dk { q[t * dk + d] = qkv[row + hi * dk + d]; k[t * dk + d] = qkv[row + sizes[0] + hi * dk + d] }
                for d in 0..<dv { v[t * dv + d] = qkv[row + 2 * sizes[0] + hi * dv + d] }
            }
            BLAS.gemm(transA: false, transB: true, m: s, n: s, k: dk, alpha: scale, q, k, into: &scores)
            for i in 0..<s { for j in 0..<s { scores[i * s + j] += keyMask[bi * s + j] } }
            Normalization.softmaxInPlace(&scores, outer: s, n: s, inner: 1, log: false)
            BLAS.gemm(transA: false, transB: false, m: s, n: dv, k: s, scores, v, into: &ctxv)
            for t in 0..<s { for d in 0..<dv { y[(bi * s + t) * heads * dv + hi * dv + d] = ctxv[t * dv + d] } }
        } }
        return NDArray(shape: [b, s, heads * dv], floats: y)
    }
}

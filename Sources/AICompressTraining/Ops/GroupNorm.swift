import Foundation

/// Normalizations over contiguous groups of elements: LayerNormalization (the trailing axes
/// from `axis`), InstanceNormalization (each channel of each image), GroupNormalization (each
/// group of channels, with per-channel or, as opset 18 wrote it, per-group scale), and LRN
/// (across neighbouring channels), with gradients for the data, scale and bias.
enum GroupNorm {
    static let definitions: [OpDefinition] = [
        OpDefinition("LayerNormalization", traits: .shapePreserving,
                     forward: { ctx, ins throws(ExecutionError) in
                         let g = try layerGeometry(ctx, ins)
                         let r = try normalize(ctx, ins, g)
                         var outs = [r.y]
                         // Mean and InvStdDev keep the reduced axes as 1
                         if ctx.node.outputs.count > 1 {
                             var s = g.shape
                             for i in g.axis..<s.count { s[i] = 1 }
                             outs += [NDArray(shape: s, floats: r.mean), NDArray(shape: s, floats: r.rstd)]
                         }
                         return outs
                     },
                     gradient: .init(inputs: [0, 1, 2]) { ctx, ins, _, g, need throws(ExecutionError) in
                         try backward(ctx, ins, try layerGeometry(ctx, ins), g: g, need: need)
                     }),
        OpDefinition("InstanceNormalization", traits: .shapePreserving,
                     forward: { ctx, ins throws(ExecutionError) in [try normalize(ctx, ins, try channelGeometry(ctx, ins, groups: nil)).y] },
                     gradient: .init(inputs: [0, 1, 2]) { ctx, ins, _, g, need throws(ExecutionError) in
                         try backward(ctx, ins, try channelGeometry(ctx, ins, groups: nil), g: g, need: need)
                     }),
        OpDefinition("GroupNormalization", traits: .shapePreserving,
                     forward: { ctx, ins throws(ExecutionError) in [try normalize(ctx, ins, try channelGeometry(ctx, ins, groups: ctx.int("num_groups", 0))).y] },
                     gradient: .init(inputs: [0, 1, 2]) { ctx, ins, _, g, need throws(ExecutionError) in
                         try backward(ctx, ins, try channelGeometry(ctx, ins, groups: ctx.int("num_groups", 0)), g: g, need: need)
                     }),
        OpDefinition("LRN", traits: .shapePreserving,
                     forward: { ctx, ins throws(ExecutionError) in [try lrn(ctx, try ctx.floatInput(ins, 0), g: nil)] },
                     gradient: .init(inputs: [0]) { ctx, ins, _, g, _ throws(ExecutionError) in [try lrn(ctx, try ctx.floatInput(ins, 0), g: g)] }),
    ]

    /// `groups` contiguous runs of `size` elements normalized alone; element i takes scale and
    /// bias `(i / scaleDiv) % scaleMod`.
    struct Geometry {
        var shape: [Int], axis: Int
        var groups: Int, size: Int
        var scaleDiv: Int, scaleMod: Int
        var epsilon: Float
    }

    static func layerGeometry(_ ctx: OpContext, _ inputs: [NDArray?]) throws(ExecutionError) -> Geometry {
        let x = try ctx.floatInput(inputs, 0)
        let axis = try ctx.axis(ctx.int("axis", -1), rank: x.rank)
        let inner = x.shape[axis...].reduce(1, *)
        try checkAffine(ctx, inputs, count: inner, [1, 2])
        return Geometry(shape: x.shape, axis: axis, groups: x.count / max(inner, 1), size: inner, scaleDiv: 1, scaleMod: max(inner, 1),
                        epsilon: ctx.float("epsilon", 1e-5))
    }

    /// Instance (groups nil) or group normalization over [N, C, …].
    static func channelGeometry(_ ctx: OpContext, _ inputs: [NDArray?], groups: Int?) throws(ExecutionError) -> Geometry {
        let x = try ctx.floatInput(inputs, 0)
        guard x.rank >= 2 else { throw ctx.mismatch("input must be [N, C, …]") }
        let c = x.shape[1], spatial = x.shape[2...].reduce(1, *)
        let g = groups ?? c
        guard g >= 1, c % g == 0 else { throw ctx.mismatch("num_groups \(g) does not divide \(c) channels") }
        let scaleCount = try ctx.floatInput(inputs, 1).count
        // opset 18's GroupNormalization scales per group; opset 21 and InstanceNormalization per channel
        let perGroup = groups != nil && scaleCount == g && g != c
        try checkAffine(ctx, inputs, count: perGroup ? g : c, [1, 2])
        return Geometry(shape: x.shape, axis: 2, groups: x.shape[0] * g, size: c / g * spatial,
                        scaleDiv: perGroup ? c / g * spatial : spatial, scaleMod: perGroup ? g : c, epsilon: ctx.float("epsilon", 1e-5))
    }

    static func checkAffine(_ ctx: OpContext, _ inputs: [NDArray?], count: Int, _ slots: [Int]) throws(ExecutionError) {
        for s in slots where s < inputs.count {
            guard let t = inputs[s] else { continue }
            guard t.isFloat, t.count == count else { throw ctx.mismatch("input \(s) has \(t.count) values, \(count) expected") }
        }
    }

    static func normalize(_ ctx: OpContext, _ inputs: [NDArray?], _ g: Geometry) throws(ExecutionError) -> (y: NDArray, mean: [Float], rstd: [Float]) {
        let x = try ctx.floatInput(inputs, 0), scale = try ctx.floatInput(inputs, 1)
        let bias = inputs.count > 2 ? inputs[2] : nil
        var y = [Float](repeating: 0, count: x.count)
        var means = [Float](repeating: 0, count: g.groups), rstds = means
        x.floats.withUnsafeBufferPointer { px in
            y.withUnsafeMutableBufferPointer { py in
                for grp in 0..<g.groups {
                    let base = grp * g.size
                    var sum: Double = 0
                    for i in 0..<g.size { sum += Double(px[base + i]) }
                    let mean = sum / Double(g.size)
                    var sq: Double = 0
                    for i in 0..<g.size { let d = Double(px[base + i]) - mean; sq += d * d }
                    let rstd = 1 / (sq / Double(g.size) + Double(g.epsilon)).squareRoot()
                    means[grp] = Float(mean); rstds[grp] = Float(rstd)
                    let m = Float(mean), r = Float(rstd)
                    for i in 0..<g.size {
                        let s = ((base + i) / g.scaleDiv) % g.scaleMod
                        py[base + i] = (px[base + i] - m) * r * scale.floats[s] + (bias?.floats[s] ?? 0)
                    }
                }
            }
        }
        return (NDArray(shape: x.shape, floats: y), means, rstds)
    }

    static func backward(_ ctx: OpContext, _ inputs: [NDArray?], _ geo: Geometry, g: NDArray, need: [Bool]) throws(ExecutionError) -> [NDArray?] {
        let x = try ctx.floatInput(inputs, 0), scale = try ctx.floatInput(inputs, 1)
        let (_, means, rstds) = try normalize(ctx, inputs, geo)
        var dx = [Float](repeating: 0, count: x.count)
        var dscale = [Float](repeating: 0, count: scale.count), dbias = dscale
        for grp in 0..<geo.groups {
            let base = grp * geo.size, m = means[grp], r = rstds[grp]
            var sumD: Float = 0, sumDX: Float = 0
            for i in 0..<geo.size {
                let k = base + i, s = (k / geo.scaleDiv) % geo.scaleMod
                let xhat = (x.floats[k] - m) * r, d = g.floats[k] * scale.floats[s]
                sumD += d; sumDX += d * xhat
                dscale[s] += g.floats[k] * xhat; dbias[s] += g.floats[k]
            }
            let n = Float(geo.size)
            for i in 0..<geo.size {
                let k = base + i, s = (k / geo.scaleDiv) % geo.scaleMod
                let xhat = (x.floats[k] - m) * r
                dx[k] = r * (g.floats[k] * scale.floats[s] - sumD / n - xhat * sumDX / n)
            }
        }
        var out: [NDArray?] = [need[0] ? NDArray(shape: x.shape, floats: dx) : nil,
                               need.count > 1 && need[1] ? NDArray(shape: scale.shape, floats: dscale) : nil, nil]
        if need.count > 2, need[2], inputs.count > 2, let b = inputs[2] { out[2] = NDArray(shape: b.shape, floats: dbias) }
        return out
    }

    /// LRN's output, or with `g` the input gradient.
    static func lrn(_ ctx: OpContext, _ x: NDArray, g: NDArray?) throws(ExecutionError) -> NDArray {
        guard x.rank >= 2 else { throw ctx.mismatch("input must be [N, C, …]") }
        let size = ctx.int("size", 0)
        guard size >= 1 else { throw ctx.mismatch("size must be at least 1") }
        let alpha = ctx.float("alpha", 1e-4), beta = ctx.float("beta", 0.75), bias = ctx.float("bias", 1)
        let n = x.shape[0], c = x.shape[1], sp = x.shape[2...].reduce(1, *)
        let lo = (size - 1) / 2, hi = size - 1 - lo
        let v = x.floats
        var s = [Float](repeating: 0, count: x.count)
        for b in 0..<n { for ch in 0..<c { for p in 0..<sp {
            var acc: Float = 0
            for k in max(0, ch - lo)...min(c - 1, ch + hi) { let e = v[(b * c + k) * sp + p]; acc += e * e }
            s[(b * c + ch) * sp + p] = bias + alpha / Float(size) * acc
        } } }
        guard let g else { return NDArray(shape: x.shape, floats: (0..<x.count).map { v[$0] * Foundation.pow(s[$0], -beta) }) }
        var dx = [Float](repeating: 0, count: x.count)
        for b in 0..<n { for ch in 0..<c { for p in 0..<sp {
            let i = (b * c + ch) * sp + p
            // channel ch sits in the windows of channels ch - hi … ch + lo
            var acc: Float = 0
            for k in max(0, ch - hi)...min(c - 1, ch + lo) {
                let j = (b * c + k) * sp + p
                acc += g.floats[j] * v[j] * Foundation.pow(s[j], -beta - 1)
            }
            dx[i] = g.floats[i] * Foundation.pow(s[i], -beta) - 2 * beta * alpha / Float(size) * v[i] * acc
        } } }
        return NDArray(shape: x.shape, floats: dx)
    }
}

/// ConvTranspose (the adjoint of Conv: a GEMM per image and group, then col2im) over 1-D and 2-D
/// images, with strides, dilations, pads, output_padding, output_shape, auto_pad and groups; and
/// GlobalMaxPool. Both with gradients.
enum ConvTranspose {
    static let definitions: [OpDefinition] = [
        OpDefinition("ConvTranspose",
                     forward: { ctx, ins throws(ExecutionError) in [try forward(ctx, ins)] },
                     gradient: .init(inputs: [0, 1, 2]) { ctx, ins, _, g, need throws(ExecutionError) in try backward(ctx, ins, g: g, need: need) }),
        OpDefinition("GlobalMaxPool", traits: .channelPooling,
                     forward: { ctx, ins throws(ExecutionError) in
                         let x = try ctx.floatInput(ins, 0)
                         let (shape, src) = try globalMax(ctx, x)
                         return [IndexMap.gather(x, src, shape: shape)]
                     },
                     gradient: .init(inputs: [0]) { ctx, ins, _, g, _ throws(ExecutionError) in
                         let x = try ctx.floatInput(ins, 0)
                         return [IndexMap.scatterAdd(g, try globalMax(ctx, x).1, shape: x.shape)]
                     }),
    ]

    /// The geometry of the Conv whose input is this op's output (channels per group) and whose
    /// output is this op's input, and the channel counts.
    struct Setup {
        var g: Spatial.Geometry
        var cin: Int, cout: Int, groups: Int
        var cinG: Int { cin / groups }
        var coutG: Int { cout / groups }
        var kk: Int { g.kh * g.kw }
        var inSpatial: Int { g.oh * g.ow }
        var outSpatial: Int { g.h * g.w }
    }

    static func setup(_ ctx: OpContext, _ x: NDArray, _ w: NDArray) throws(ExecutionError) -> Setup {
        guard x.rank == 3 || x.rank == 4, w.rank == x.rank else {
            throw ctx.unsupported("only 1-D and 2-D images are supported: input \(x.shape), weight \(w.shape)")
        }
        let oneD = x.rank == 3
        let groups = ctx.int("group", 1)
        let cin = x.shape[1]
        guard groups >= 1, cin % groups == 0, w.shape[0] == cin else { throw ctx.mismatch("weight \(w.shape) with group \(groups) does not fit \(cin) channels") }
        let spatial = oneD ? [1, x.shape[2]] : [x.shape[2], x.shape[3]]
        let kernel = oneD ? [1, w.shape[2]] : [w.shape[2], w.shape[3]]
        func two(_ key: String, _ def: Int) throws(ExecutionError) -> [Int] {
            guard let v = ctx.ints(key) else { return [def, def] }
            guard v.count == (oneD ? 1 : 2), v.allSatisfy({ $0 >= 0 && $0 <= 1 << 20 }) else { throw ctx.mismatch("\(key) \(v) does not fit \(x.shape)") }
            return oneD ? [def] + v : v
        }
        let s = try two("strides", 1), d = try two("dilations", 1), op = try two("output_padding", 0)
        guard s.allSatisfy({ $0 >= 1 }), d.allSatisfy({ $0 >= 1 }), kernel.allSatisfy({ $0 >= 1 }) else { throw ctx.mismatch("strides, dilations and kernel must be positive") }
        let extent = (0..<2).map { (kernel[$0] - 1) * d[$0] + 1 }
        var pads = [0, 0, 0, 0], out = [0, 0]
        let autoPad = ctx.string("auto_pad", "NOTSET")
        let given = ctx.ints("output_shape").map { oneD ? [1] + $0.suffix(1) : Array($0.suffix(2)) }
        if given != nil || autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER" {
            for i in 0..<2 {
                out[i] = given?[i] ?? spatial[i] * s[i]
                let total = s[i] * (spatial[i] - 1) + op[i] + extent[i] - out[i]
                guard total >= 0 else { throw ctx.mismatch("output_shape \(out) is larger than the op produces") }
                if autoPad == "SAME_UPPER" { pads[i] = total / 2; pads[i + 2] = total - total / 2 } else { pads[i] = total - total / 2; pads[i + 2] = total / 2 }
            }
        } else {
            if let p = ctx.ints("pads") {
                guard p.count == (oneD ? 2 : 4), p.allSatisfy({ $0 >= 0 && $0 <= 1 << 20 }) else { throw ctx.mismatch("pads \(p) do not fit \(x.shape)") }
                pads = oneD ? [0, p[0], 0, p[1]] : p
            }
            for i in 0..<2 { out[i] = s[i] * (spatial[i] - 1) + op[i] + extent[i] - pads[i] - pads[i + 2] }
        }
        guard out.allSatisfy({ $0 > 0 }) else { throw ctx.mismatch("pads leave no output") }
        let cout = w.shape[1] * groups
        try ctx.checkSize([x.shape[0], cout, out[0], out[1]])
        try ctx.checkSize([cout / groups * kernel[0] * kernel[1], spatial[0] * spatial[1]])
        let g = Spatial.Geometry(n: x.shape[0], c: w.shape[1], h: out[0], w: out[1], kh: kernel[0], kw: kernel[1], sh: s[0], sw: s[1],
                                 dh: d[0], dw: d[1], pt: pads[0], pl: pads[1], pb: pads[2], pr: pads[3], oh: spatial[0], ow: spatial[1], oneD: oneD)
        return Setup(g: g, cin: cin, cout: cout, groups: groups)
    }

    static func outShape(_ st: Setup) -> [Int] { st.g.oneD ? [st.g.n, st.cout, st.g.w] : [st.g.n, st.cout, st.g.h, st.g.w] }

    static func forward(_ ctx: OpContext, _ inputs: [NDArray?]) throws(ExecutionError) -> NDArray {
        let x = try ctx.floatInput(inputs, 0), w = try ctx.floatInput(inputs, 1)
        let st = try setup(ctx, x, w)
        let bias = inputs.count > 2 ? inputs[2] : nil
        if let b = bias, b.count != st.cout || !b.isFloat { throw ctx.mismatch("bias must hold \(st.cout) float values") }
        var y = [Float](repeating: 0, count: st.g.n * st.cout * st.outSpatial)
        guard x.count > 0, w.count > 0 else { throw ctx.mismatch("empty input or weight") }
        var col = [Float](repeating: 0, count: st.coutG * st.kk * st.inSpatial)
        x.floats.withUnsafeBufferPointer { px in w.floats.withUnsafeBufferPointer { pw in y.withUnsafeMutableBufferPointer { py in
            col.withUnsafeMutableBufferPointer { pc in
                for img in 0..<st.g.n { for gi in 0..<st.groups {
                    // col[coutG·kk, H·W] = W_gᵀ · X_g, with W_g stored [cinG, coutG·kk]
                    BLAS.gemm(transA: true, transB: false, m: st.coutG * st.kk, n: st.inSpatial, k: st.cinG,
                              pw.baseAddress! + gi * st.cinG * st.coutG * st.kk,
                              px.baseAddress! + (img * st.cin + gi * st.cinG) * st.inSpatial, pc.baseAddress!)
                    Spatial.col2im(UnsafePointer(pc.baseAddress!), st.g, first: 0, count: 1,
                                   into: py.baseAddress! + (img * st.cout + gi * st.coutG) * st.outSpatial)
                } }
            }
        } } }
        if let b = bias {
            for img in 0..<st.g.n { for c in 0..<st.cout { for p in 0..<st.outSpatial { y[(img * st.cout + c) * st.outSpatial + p] += b.floats[c] } } }
        }
        return NDArray(shape: outShape(st), floats: y)
    }

    static func backward(_ ctx: OpContext, _ inputs: [NDArray?], g gy: NDArray, need: [Bool]) throws(ExecutionError) -> [NDArray?] {
        let x = try ctx.floatInput(inputs, 0), w = try ctx.floatInput(inputs, 1)
        let st = try setup(ctx, x, w)
        guard x.count > 0, w.count > 0 else { throw ctx.mismatch("empty input or weight") }
        var dx = [Float](repeating: 0, count: x.count), dw = [Float](repeating: 0, count: w.count)
        var col = [Float](repeating: 0, count: st.coutG * st.kk * st.inSpatial)
        x.floats.withUnsafeBufferPointer { px in w.floats.withUnsafeBufferPointer { pw in gy.floats.withUnsafeBufferPointer { pg in
            col.withUnsafeMutableBufferPointer { pc in dx.withUnsafeMutableBufferPointer { pdx in dw.withUnsafeMutableBufferPointer { pdw in
                for img in 0..<st.g.n { for gi in 0..<st.groups {
                    Spatial.im2col(pg.baseAddress! + (img * st.cout + gi * st.coutG) * st.outSpatial, st.g, first: 0, count: 1, into: pc.baseAddress!)
                    let xo = (img * st.cin + gi * st.cinG) * st.inSpatial, wo = gi * st.cinG * st.coutG * st.kk
                    // dX_g[cinG, HW] = W_g · col;  dW_g[cinG, coutG·kk] += X_g · colᵀ
                    BLAS.gemm(transA: false, transB: false, m: st.cinG, n: st.inSpatial, k: st.coutG * st.kk,
                              pw.baseAddress! + wo, UnsafePointer(pc.baseAddress!), pdx.baseAddress! + xo)
                    BLAS.gemm(transA: false, transB: true, m: st.cinG, n: st.coutG * st.kk, k: st.inSpatial,
                              px.baseAddress! + xo, UnsafePointer(pc.baseAddress!), beta: 1, pdw.baseAddress! + wo)
                } }
            } } }
        } } }
        var out: [NDArray?] = [need[0] ? NDArray(shape: x.shape, floats: dx) : nil, need[1] ? NDArray(shape: w.shape, floats: dw) : nil, nil]
        if need.count > 2, need[2], inputs.count > 2, let b = inputs[2] {
            var db = [Float](repeating: 0, count: b.count)
            for img in 0..<st.g.n { for c in 0..<st.cout { for p in 0..<st.outSpatial { db[c] += gy.floats[(img * st.cout + c) * st.outSpatial + p] } } }
            out[2] = NDArray(shape: b.shape, floats: db)
        }
        return out
    }

    /// Output shape [N, C, 1, …] and the flat index of each plane's maximum (the first on ties).
    static func globalMax(_ ctx: OpContext, _ x: NDArray) throws(ExecutionError) -> ([Int], [Int]) {
        guard x.rank >= 3 else { throw ctx.mismatch("input \(x.shape) has no spatial axes") }
        let planes = x.shape[0] * x.shape[1], s = x.shape[2...].reduce(1, *)
        guard s > 0 else { throw ctx.mismatch("GlobalMaxPool over empty planes") }
        var src = [Int](repeating: 0, count: planes)
        for p in 0..<planes {
            var best = p * s
            for i in (p * s)..<((p + 1) * s) where x.floats[i] > x.floats[best] { best = i }
            src[p] = best
        }
        return ([x.shape[0], x.shape[1]] + [Int](repeating: 1, count: x.rank - 2), src)
    }
}

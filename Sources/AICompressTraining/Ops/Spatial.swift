/// Conv (im2col + GEMM), MaxPool, AveragePool and GlobalAveragePool over 1-D and 2-D images,
/// with their gradients.
enum Spatial {
    static let definitions: [OpDefinition] = [
        OpDefinition("Conv", traits: .prunableLayer,
                     forward: { ctx, ins throws(ExecutionError) in [try conv(ctx, ins)] },
                     gradient: .init(inputs: [0, 1, 2]) { ctx, ins, _, g, need throws(ExecutionError) in try convBackward(ctx, ins, g: g, need: need) }),
        OpDefinition("MaxPool", traits: .channelPooling,
                     forward: { ctx, ins throws(ExecutionError) in [try maxPool(ctx, try ctx.floatInput(ins, 0)).0] },
                     gradient: .init(inputs: [0]) { ctx, ins, _, g, _ throws(ExecutionError) in
                         let x = try ctx.floatInput(ins, 0)
                         return [maxPoolBackward(x, argmax: try maxPool(ctx, x).1, g: g)]
                     }),
        OpDefinition("AveragePool", traits: .channelPooling,
                     forward: { ctx, ins throws(ExecutionError) in [try avgPool(ctx, try ctx.floatInput(ins, 0))] },
                     gradient: .init(inputs: [0]) { ctx, ins, _, g, _ throws(ExecutionError) in [try avgPoolBackward(ctx, try ctx.floatInput(ins, 0), g: g)] }),
        OpDefinition("GlobalAveragePool", traits: .channelPooling,
                     forward: { ctx, ins throws(ExecutionError) in [try globalAvgPool(ctx, try ctx.floatInput(ins, 0))] },
                     gradient: .init(inputs: [0]) { ctx, ins, _, g, _ throws(ExecutionError) in [globalAvgPoolBackward(try ctx.floatInput(ins, 0), g: g)] }),
    ]

    /// Window geometry over an [N, C, H, W] input (1-D inputs use H = 1).
    struct Geometry {
        var n: Int, c: Int, h: Int, w: Int
        var kh: Int, kw: Int
        var sh: Int, sw: Int
        var dh: Int, dw: Int
        var pt: Int, pl: Int, pb: Int, pr: Int
        var oh: Int, ow: Int
        var oneD: Bool

        var outSpatial: Int { oh * ow }
        func outShape(channels: Int) -> [Int] { oneD ? [n, channels, ow] : [n, channels, oh, ow] }
    }

    static func geometry(_ ctx: OpContext, x: NDArray, kernel: [Int], ceilMode: Bool = false) throws(ExecutionError) -> Geometry {
        guard x.rank == 3 || x.rank == 4 else {
            throw ctx.unsupported("only 1-D and 2-D images are supported, input has shape \(x.shape)")
        }
        let oneD = x.rank == 3
        let spatial = oneD ? [1, x.shape[2]] : [x.shape[2], x.shape[3]]
        let k = oneD ? [1] + kernel : kernel
        guard k.count == 2, k.allSatisfy({ $0 > 0 && $0 <= 1 << 20 }) else { throw ctx.mismatch("kernel shape \(kernel) does not fit \(x.shape)") }
        func two(_ key: String, _ def: Int) throws(ExecutionError) -> [Int] {
            guard let v = ctx.ints(key) else { return [def, def] }
            guard v.count == (oneD ? 1 : 2), v.allSatisfy({ $0 > 0 && $0 <= 1 << 20 }) else { throw ctx.mismatch("\(key) \(v) does not fit \(x.shape)") }
            return oneD ? [1] + v : v
        }
        let s = try two("strides", 1), d = try two("dilations", 1)
        var pads = [0, 0, 0, 0] // top, left, bottom, right
        let autoPad = ctx.string("auto_pad", "NOTSET")
        let extent = [(k[0] - 1) * d[0] + 1, (k[1] - 1) * d[1] + 1]
        switch autoPad {
        case "NOTSET":
            if let p = ctx.ints("pads") {
                guard p.count == (oneD ? 2 : 4), p.allSatisfy({ $0 >= 0 && $0 <= 1 << 20 }) else { throw ctx.mismatch("pads \(p) do not fit \(x.shape)") }
                pads = oneD ? [0, p[0], 0, p[1]] : p
            }
        case "VALID": break
        case "SAME_UPPER", "SAME_LOWER":
            for i in 0..<2 {
                let out = (spatial[i] + s[i] - 1) / s[i]
                let total = max(0, (out - 1) * s[i] + extent[i] - spatial[i])
                let small = total / 2, large = total - small
                if autoPad == "SAME_UPPER" { pads[i] = small; pads[i + 2] = large } else { pads[i] = large; pads[i + 2] = small }
            }
        default: throw ctx.unsupported("auto_pad \(autoPad)")
        }
        func outSize(_ i: Int) -> Int {
            let span = spatial[i] + pads[i] + pads[i + 2] - extent[i]
            guard span >= 0 else { return 0 }
            if !ceilMode { return span / s[i] + 1 }
            var o = (span + s[i] - 1) / s[i] + 1
            if (o - 1) * s[i] >= spatial[i] + pads[i] { o -= 1 } // the last window must start inside
            return o
        }
        let g = Geometry(n: x.shape[0], c: x.shape[1], h: spatial[0], w: spatial[1], kh: k[0], kw: k[1],
                         sh: s[0], sw: s[1], dh: d[0], dw: d[1], pt: pads[0], pl: pads[1], pb: pads[2], pr: pads[3],
                         oh: outSize(0), ow: outSize(1), oneD: oneD)
        guard g.oh > 0, g.ow > 0 else { throw ctx.mismatch("the kernel \(kernel) is larger than the padded input \(x.shape)") }
        try ctx.checkSize([g.n, g.c, g.oh, g.ow])
        try ctx.checkSize([g.c, g.kh, g.kw, g.oh, g.ow]) // one image's im2col columns
        return g
    }

    // MARK: Conv

    /// Images per im2col chunk, so the column buffer stays near 16M floats.
    static func chunkImages(_ g: Geometry) -> Int {
        let perImage = g.c * g.kh * g.kw * g.outSpatial
        return max(1, min(g.n, (16 << 20) / max(perImage, 1)))
    }

    /// The im2col correspondence, walked the same way in both directions: for each column row
    /// (c·KH + kh)·KW + kw, image img of [first, first + count) and output row oy, `body` gets
    /// `column`, the offset of that output row's first column in the column buffer
    /// (col[(c·KH + kh)·KW + kw, img·OHW + oy·OW]); `row`, the offset in the images of the input
    /// row iy it reads (nil when iy is in the padding); and `ix0`, the input column of ox = 0
    /// (output column ox reads ix0 + ox·SW, inside the image when 0 <= that < W).
    @inline(__always)
    static func forEachWindowRow(_ g: Geometry, first: Int, count: Int, _ body: (_ column: Int, _ row: Int?, _ ix0: Int) -> Void) {
        let cols = count * g.outSpatial
        for c in 0..<g.c { for kh in 0..<g.kh { for kw in 0..<g.kw {
            let columnRow = ((c * g.kh + kh) * g.kw + kw) * cols
            for img in 0..<count {
                let plane = ((first + img) * g.c + c) * g.h * g.w
                for oy in 0..<g.oh {
                    let iy = oy * g.sh - g.pt + kh * g.dh
                    body(columnRow + img * g.outSpatial + oy * g.ow, iy >= 0 && iy < g.h ? plane + iy * g.w : nil, kw * g.dw - g.pl)
                }
            }
        } } }
    }

    /// col[(c·KH + kh)·KW + kw, img·OHW + p] for images [first, first + count).
    static func im2col(_ x: UnsafePointer<Float>, _ g: Geometry, first: Int, count: Int, into col: UnsafeMutablePointer<Float>) {
        forEachWindowRow(g, first: first, count: count) { column, row, ix0 in
            let dst = col + column
            guard let row else { return dst.update(repeating: 0, count: g.ow) }
            for ox in 0..<g.ow {
                let ix = ix0 + ox * g.sw
                dst[ox] = ix >= 0 && ix < g.w ? x[row + ix] : 0
            }
        }
    }

    /// The reverse of im2col: adds columns back into image gradients.
    static func col2im(_ col: UnsafePointer<Float>, _ g: Geometry, first: Int, count: Int, into dx: UnsafeMutablePointer<Float>) {
        forEachWindowRow(g, first: first, count: count) { column, row, ix0 in
            guard let row else { return }
            let src = col + column
            for ox in 0..<g.ow {
                let ix = ix0 + ox * g.sw
                if ix >= 0 && ix < g.w { dx[row + ix] += src[ox] }
            }
        }
    }

    struct ConvSetup {
        var g: Geometry
        var m: Int, groups: Int
        var kPerGroup: Int { g.c / groups * g.kh * g.kw }
    }

    static func convSetup(_ ctx: OpContext, _ x: NDArray, _ w: NDArray) throws(ExecutionError) -> ConvSetup {
        guard w.rank == x.rank else { throw ctx.mismatch("weight \(w.shape) does not fit input \(x.shape)") }
        let kernel = Array(w.shape[2...])
        if let ks = ctx.ints("kernel_shape"), ks != kernel { throw ctx.mismatch("kernel_shape \(ks) differs from the weight's \(kernel)") }
        let g = try geometry(ctx, x: x, kernel: kernel)
        let groups = ctx.int("group", 1)
        guard groups >= 1, g.c % groups == 0, w.shape[0] % groups == 0, w.shape[1] * groups == g.c else {
            throw ctx.mismatch("weight \(w.shape) with group \(groups) does not fit \(g.c) input channels")
        }
        return ConvSetup(g: g, m: w.shape[0], groups: groups)
    }

    static func conv(_ ctx: OpContext, _ inputs: [NDArray?]) throws(ExecutionError) -> NDArray {
        let x = try ctx.floatInput(inputs, 0), w = try ctx.floatInput(inputs, 1)
        let bias = inputs.count > 2 ? inputs[2] : nil
        let st = try convSetup(ctx, x, w)
        let g = st.g, ohw = g.outSpatial
        if let b = bias, b.count != st.m || !b.isFloat { throw ctx.mismatch("bias must be \(st.m) float values (one per output channel)") }
        var y = [Float](repeating: 0, count: g.n * st.m * ohw)
        if x.count == 0 || w.count == 0 { // no input channels: the bias alone
            if let b = bias { for img in 0..<g.n { for m in 0..<st.m { for p in 0..<ohw { y[(img * st.m + m) * ohw + p] = b.floats[m] } } } }
            return NDArray(shape: g.outShape(channels: st.m), floats: y)
        }
        let chunk = chunkImages(g)
        var col = [Float](repeating: 0, count: g.c * g.kh * g.kw * chunk * ohw)
        var tmp = [Float](repeating: 0, count: st.m * chunk * ohw)
        let mg = st.m / st.groups, kg = st.kPerGroup
        x.floats.withUnsafeBufferPointer { px in
            w.floats.withUnsafeBufferPointer { pw in
                col.withUnsafeMutableBufferPointer { pc in
                    tmp.withUnsafeMutableBufferPointer { pt in
                        var first = 0
                        while first < g.n {
                            let count = min(chunk, g.n - first), cols = count * ohw
                            im2col(px.baseAddress!, g, first: first, count: count, into: pc.baseAddress!)
                            for gi in 0..<st.groups {
                                BLAS.gemm(transA: false, transB: false, m: mg, n: cols, k: kg,
                                          pw.baseAddress! + gi * mg * kg, pc.baseAddress! + gi * kg * cols,
                                          pt.baseAddress! + gi * mg * cols)
                            }
                            for img in 0..<count { for m in 0..<st.m {
                                let bv = bias?.floats[m] ?? 0
                                let dst = ((first + img) * st.m + m) * ohw, src = m * cols + img * ohw
                                for p in 0..<ohw { y[dst + p] = pt[src + p] + bv }
                            } }
                            first += count
                        }
                    }
                }
            }
        }
        return NDArray(shape: g.outShape(channels: st.m), floats: y)
    }

    static func convBackward(_ ctx: OpContext, _ inputs: [NDArray?], g gy: NDArray, need: [Bool]) throws(ExecutionError) -> [NDArray?] {
        let x = try ctx.floatInput(inputs, 0), w = try ctx.floatInput(inputs, 1)
        let st = try convSetup(ctx, x, w)
        let g = st.g, ohw = g.outSpatial
        let chunk = chunkImages(g)
        let mg = st.m / st.groups, kg = st.kPerGroup
        var dx = need[0] ? [Float](repeating: 0, count: x.count) : []
        var dw = [Float](repeating: 0, count: w.count)
        if x.count == 0 || w.count == 0 {
            return [need[0] ? NDArray(shape: x.shape, floats: dx) : nil, need[1] ? NDArray(shape: w.shape, floats: dw) : nil, nil]
        }
        var col = [Float](repeating: 0, count: g.c * g.kh * g.kw * chunk * ohw)
        var gt = [Float](repeating: 0, count: st.m * chunk * ohw)
        let gv = gy.floats
        x.floats.withUnsafeBufferPointer { px in
            w.floats.withUnsafeBufferPointer { pw in
                col.withUnsafeMutableBufferPointer { pc in
                    gt.withUnsafeMutableBufferPointer { pg in
                        dw.withUnsafeMutableBufferPointer { pdw in
                            var first = 0
                            while first < g.n {
                                let count = min(chunk, g.n - first), cols = count * ohw
                                for img in 0..<count { for m in 0..<st.m {
                                    let src = ((first + img) * st.m + m) * ohw, dst = m * cols + img * ohw
                                    for p in 0..<ohw { pg[dst + p] = gv[src + p] }
                                } }
                                im2col(px.baseAddress!, g, first: first, count: count, into: pc.baseAddress!)
                                for gi in 0..<st.groups { // dW_g += G_g · col_gᵀ
                                    BLAS.gemm(transA: false, transB: true, m: mg, n: kg, k: cols,
                                              pg.baseAddress! + gi * mg * cols, pc.baseAddress! + gi * kg * cols, beta: 1,
                                              pdw.baseAddress! + gi * mg * kg)
                                }
                                if need[0] {
                                    for gi in 0..<st.groups { // dcol_g = W_gᵀ · G_g
                                        BLAS.gemm(transA: true, transB: false, m: kg, n: cols, k: mg,
                                                  pw.baseAddress! + gi * mg * kg, pg.baseAddress! + gi * mg * cols,
                                                  pc.baseAddress! + gi * kg * cols)
                                    }
                                    dx.withUnsafeMutableBufferPointer { pdx in
                                        col2im(pc.baseAddress!, g, first: first, count: count, into: pdx.baseAddress!)
                                    }
                                }
                                first += count
                            }
                        }
                    }
                }
            }
        }
        var out: [NDArray?] = [need[0] ? NDArray(shape: x.shape, floats: dx) : nil,
                               need[1] ? NDArray(shape: w.shape, floats: dw) : nil, nil]
        if need.count > 2, need[2] {
            var db = [Float](repeating: 0, count: st.m)
            for img in 0..<g.n { for m in 0..<st.m {
                let base = (img * st.m + m) * ohw
                var s: Float = 0
                for p in 0..<ohw { s += gv[base + p] }
                db[m] += s
            } }
            out[2] = NDArray(shape: [st.m], floats: db)
        }
        return out
    }

    // MARK: Pooling

    static func poolGeometry(_ ctx: OpContext, _ x: NDArray) throws(ExecutionError) -> Geometry {
        guard let k = ctx.ints("kernel_shape") else { throw ctx.mismatch("kernel_shape is missing") }
        if ctx.op == "AveragePool", let d = ctx.ints("dilations"), d.contains(where: { $0 != 1 }) {
            throw ctx.unsupported("dilated average pooling")
        }
        return try geometry(ctx, x: x, kernel: k, ceilMode: ctx.int("ceil_mode", 0) != 0)
    }

    /// Visits each output position with the input indices of its window (`nil` for padding).
    static func forEachWindow(_ g: Geometry, _ body: (_ out: Int, _ planeBase: Int, _ iy0: Int, _ ix0: Int) -> Void) {
        for plane in 0..<(g.n * g.c) {
            for oy in 0..<g.oh { for ox in 0..<g.ow {
                body(plane * g.outSpatial + oy * g.ow + ox, plane * g.h * g.w, oy * g.sh - g.pt, ox * g.sw - g.pl)
            } }
        }
    }

    static func maxPool(_ ctx: OpContext, _ x: NDArray) throws(ExecutionError) -> (NDArray, [Int]) {
        if ctx.node.outputs.count > 1, !ctx.node.outputs[1].isEmpty { throw ctx.unsupported("the Indices output of MaxPool") }
        let g = try poolGeometry(ctx, x)
        var y = [Float](repeating: 0, count: g.n * g.c * g.outSpatial)
        var arg = [Int](repeating: -1, count: y.count)
        let xv = x.floats
        forEachWindow(g) { o, base, iy0, ix0 in
            var best = -Float.infinity, at = -1
            for ky in 0..<g.kh {
                let iy = iy0 + ky * g.dh
                if iy < 0 || iy >= g.h { continue }
                for kx in 0..<g.kw {
                    let ix = ix0 + kx * g.dw
                    if ix < 0 || ix >= g.w { continue }
                    let v = xv[base + iy * g.w + ix]
                    if v > best || at < 0 { best = v; at = base + iy * g.w + ix }
                }
            }
            y[o] = best
            arg[o] = at
        }
        return (NDArray(shape: g.outShape(channels: g.c), floats: y), arg)
    }

    static func maxPoolBackward(_ x: NDArray, argmax: [Int], g: NDArray) -> NDArray {
        var dx = [Float](repeating: 0, count: x.count)
        for (o, at) in argmax.enumerated() where at >= 0 { dx[at] += g.floats[o] }
        return NDArray(shape: x.shape, floats: dx)
    }

    /// Divisor of each window: valid elements, or with count_include_pad the window clipped to the padded input.
    static func avgDivisor(_ g: Geometry, includePad: Bool, iy0: Int, ix0: Int) -> Float {
        let lo = includePad ? -g.pt : 0, hiY = includePad ? g.h + g.pb : g.h
        let loX = includePad ? -g.pl : 0, hiX = includePad ? g.w + g.pr : g.w
        let ny = max(0, min(iy0 + g.kh, hiY) - max(iy0, lo))
        let nx = max(0, min(ix0 + g.kw, hiX) - max(ix0, loX))
        return Float(max(ny * nx, 1))
    }

    static func avgPool(_ ctx: OpContext, _ x: NDArray) throws(ExecutionError) -> NDArray {
        let g = try poolGeometry(ctx, x)
        let include = ctx.int("count_include_pad", 0) != 0
        var y = [Float](repeating: 0, count: g.n * g.c * g.outSpatial)
        let xv = x.floats
        forEachWindow(g) { o, base, iy0, ix0 in
            var s: Float = 0
            for ky in 0..<g.kh {
                let iy = iy0 + ky
                if iy < 0 || iy >= g.h { continue }
                for kx in 0..<g.kw {
                    let ix = ix0 + kx
                    if ix >= 0 && ix < g.w { s += xv[base + iy * g.w + ix] }
                }
            }
            y[o] = s / avgDivisor(g, includePad: include, iy0: iy0, ix0: ix0)
        }
        return NDArray(shape: g.outShape(channels: g.c), floats: y)
    }

    static func avgPoolBackward(_ ctx: OpContext, _ x: NDArray, g gy: NDArray) throws(ExecutionError) -> NDArray {
        let g = try poolGeometry(ctx, x)
        let include = ctx.int("count_include_pad", 0) != 0
        var dx = [Float](repeating: 0, count: x.count)
        let gv = gy.floats
        forEachWindow(g) { o, base, iy0, ix0 in
            let share = gv[o] / avgDivisor(g, includePad: include, iy0: iy0, ix0: ix0)
            for ky in 0..<g.kh {
                let iy = iy0 + ky
                if iy < 0 || iy >= g.h { continue }
                for kx in 0..<g.kw {
                    let ix = ix0 + kx
                    if ix >= 0 && ix < g.w { dx[base + iy * g.w + ix] += share }
                }
            }
        }
        return NDArray(shape: x.shape, floats: dx)
    }

    static func globalAvgPool(_ ctx: OpContext, _ x: NDArray) throws(ExecutionError) -> NDArray {
        guard x.rank >= 3 else { throw ctx.mismatch("input \(x.shape) has no spatial axes") }
        let planes = x.shape[0] * x.shape[1], s = x.shape[2...].reduce(1, *)
        var y = [Float](repeating: 0, count: planes)
        for p in 0..<planes {
            var acc: Float = 0
            for i in 0..<s { acc += x.floats[p * s + i] }
            y[p] = acc / Float(max(s, 1))
        }
        return NDArray(shape: [x.shape[0], x.shape[1]] + [Int](repeating: 1, count: x.rank - 2), floats: y)
    }

    static func globalAvgPoolBackward(_ x: NDArray, g: NDArray) -> NDArray {
        let planes = x.shape[0] * x.shape[1], s = x.shape[2...].reduce(1, *)
        var dx = [Float](repeating: 0, count: x.count)
        for p in 0..<planes {
            let share = g.floats[p] / Float(max(s, 1))
            for i in 0..<s { dx[p * s + i] = share }
        }
        return NDArray(shape: x.shape, floats: dx)
    }
}

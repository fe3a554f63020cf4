/// Index-driven ops: Pad (constant, reflect, edge), Trilu, CumSum, GatherElements and TopK, on
/// float and (except TopK's values) int64 tensors, with gradients for the float data.
enum Indexing {
    static let definitions: [OpDefinition] = [
        OpDefinition("Pad",
                     forward: { ctx, ins throws(ExecutionError) in
                         let x = try ctx.input(ins, 0)
                         let (shape, src) = try padMap(ctx, ins, x)
                         return [IndexMap.gather(x, src, shape: shape, fill: padValue(ctx, ins))]
                     },
                     gradient: .init(inputs: [0]) { ctx, ins, _, g, _ throws(ExecutionError) in
                         let x = try ctx.input(ins, 0)
                         return [IndexMap.scatterAdd(g, try padMap(ctx, ins, x).1, shape: x.shape)]
                     }),
        OpDefinition("Trilu", traits: .shapePreserving,
                     forward: { ctx, ins throws(ExecutionError) in
                         let x = try ctx.input(ins, 0)
                         let keep = try triluMask(ctx, ins, x)
                         if x.isFloat { return [NDArray(shape: x.shape, floats: x.floats.indices.map { keep[$0] ? x.floats[$0] : 0 })] }
                         return [NDArray(shape: x.shape, ints: x.ints.indices.map { keep[$0] ? x.ints[$0] : 0 }, kind: x.kind)]
                     },
                     gradient: .init(inputs: [0]) { ctx, ins, _, g, _ throws(ExecutionError) in
                         let keep = try triluMask(ctx, ins, try ctx.input(ins, 0))
                         return [NDArray(shape: g.shape, floats: g.floats.indices.map { keep[$0] ? g.floats[$0] : 0 })]
                     }),
        OpDefinition("CumSum", traits: .shapePreserving,
                     forward: { ctx, ins throws(ExecutionError) in
                         let x = try ctx.input(ins, 0)
                         let (outer, n, inner) = try cumGeometry(ctx, ins, x)
                         let ex = ctx.int("exclusive", 0) != 0, rev = ctx.int("reverse", 0) != 0
                         if x.isFloat { return [NDArray(shape: x.shape, floats: cumsum(x.floats, outer, n, inner, exclusive: ex, reverse: rev))] }
                         return [NDArray(shape: x.shape, ints: cumsum(x.ints, outer, n, inner, exclusive: ex, reverse: rev))]
                     },
                     // the adjoint of a cumulative sum is the cumulative sum the other way
                     gradient: .init(inputs: [0]) { ctx, ins, _, g, _ throws(ExecutionError) in
                         let (outer, n, inner) = try cumGeometry(ctx, ins, try ctx.input(ins, 0))
                         let ex = ctx.int("exclusive", 0) != 0, rev = ctx.int("reverse", 0) != 0
                         return [NDArray(shape: g.shape, floats: cumsum(g.floats, outer, n, inner, exclusive: ex, reverse: !rev))]
                     }),
        ShapeOps.mapped("GatherElements") { ctx, ins, x throws(ExecutionError) in
            let ind = try ctx.input(ins, 1)
            guard !ind.isFloat, ind.rank == x.rank else { throw ctx.mismatch("indices must be int64 of the data's rank") }
            let axis = try ctx.axis(ctx.int("axis", 0), rank: x.rank)
            let s = NDArray.strides(x.shape), n = Int64(x.shape[axis])
            // every coordinate but the axis one comes from the output position
            let base = IndexMap.indices(ind.shape, (0..<x.rank).map { d in d == axis ? [Int](repeating: 0, count: ind.shape[d]) : (0..<ind.shape[d]).map { $0 * s[d] } })
            var src = [Int](repeating: 0, count: ind.count)
            for (o, raw) in ind.ints.enumerated() {
                let j = raw < 0 ? raw + n : raw
                guard j >= 0, j < n else { throw ctx.mismatch("index \(raw) is out of range for axis \(axis) of size \(n)") }
                src[o] = base[o] + Int(j) * s[axis]
            }
            for d in 0..<x.rank where d != axis && ind.shape[d] > x.shape[d] { throw ctx.mismatch("indices \(ind.shape) exceed data \(x.shape)") }
            return (ind.shape, src)
        },
        OpDefinition("TopK", traits: .channelDecision,
                     forward: { ctx, ins throws(ExecutionError) in
                         let x = try ctx.floatInput(ins, 0)
                         let (shape, src, picked) = try topK(ctx, ins, x)
                         return [IndexMap.gather(x, src, shape: shape), NDArray(shape: shape, ints: picked)]
                     },
                     gradient: .init(inputs: [0]) { ctx, ins, _, g, _ throws(ExecutionError) in
                         let x = try ctx.floatInput(ins, 0)
                         return [IndexMap.scatterAdd(g, try topK(ctx, ins, x).1, shape: x.shape)]
                     }),
    ]

    static func padMap(_ ctx: OpContext, _ inputs: [NDArray?], _ x: NDArray) throws(ExecutionError) -> ([Int], [Int]) {
        let r = x.rank
        var pads: [Int]
        if ctx.opset < 11 { pads = ctx.ints("pads") ?? [] } else { pads = try ctx.input(inputs, 1).asInts.map { Int(clamping: $0) } }
        var axes = Array(0..<r)
        if ctx.opset >= 18, inputs.count > 3, let a = inputs[3] {
            axes = []
            for v in a.asInts { axes.append(try ctx.axis(Int(clamping: v), rank: r)) }
        }
        guard pads.count == 2 * axes.count else { throw ctx.mismatch("pads \(pads) do not fit \(axes.count) axes") }
        var before = [Int](repeating: 0, count: r), after = before
        for (i, a) in axes.enumerated() { before[a] = pads[i]; after[a] = pads[i + axes.count] }
        // A side removes at most its axis, and the sum is checked: pads near Int64.max overflowed it.
        var out = [Int]()
        for d in 0..<r {
            let (grown, o1) = x.shape[d].addingReportingOverflow(before[d])
            let (size, o2) = grown.addingReportingOverflow(after[d])
            guard before[d] >= -x.shape[d], after[d] >= -x.shape[d], !o1, !o2, size >= 0 else {
                throw ctx.mismatch("pads \(pads) remove more than \(x.shape) or make it too long")
            }
            out.append(size)
        }
        try ctx.checkSize(out)
        let mode = ctx.string("mode", "constant"), s = NDArray.strides(x.shape)
        var offsets = [[Int]]()
        for d in 0..<r {
            let n = x.shape[d]
            var col = [Int]()
            for c in 0..<out[d] {
                var i = c - before[d]
                if i < 0 || i >= n {
                    switch mode {
                    case "constant": col.append(IndexMap.outside); continue
                    case "edge":
                        guard n > 0 else { throw ctx.mismatch("edge padding of an empty axis") }
                        i = min(max(i, 0), n - 1)
                    case "reflect":
                        guard n > 1 else { i = 0; break }
                        let period = 2 * (n - 1)
                        i = ((i % period) + period) % period
                        if i >= n { i = period - i }
                    default: throw ctx.unsupported("mode \(mode)")
                    }
                }
                col.append(i * s[d])
            }
            offsets.append(col)
        }
        return (out, IndexMap.indices(out, offsets))
    }

    /// Pad's constant value (input 2 from opset 11, the `value` attribute before).
    static func padValue(_ ctx: OpContext, _ inputs: [NDArray?]) -> Double {
        if ctx.opset < 11 { return Double(ctx.float("value", 0)) }
        guard inputs.count > 2, let v = inputs[2], v.count > 0 else { return 0 }
        return v.isFloat ? Double(v.floats[0]) : Double(v.ints[0])
    }

    static func triluMask(_ ctx: OpContext, _ inputs: [NDArray?], _ x: NDArray) throws(ExecutionError) -> [Bool] {
        guard x.rank >= 2 else { throw ctx.mismatch("input must have rank 2 or more") }
        let k = inputs.count > 1 ? Int(clamping: inputs[1]?.asInts.first ?? 0) : 0
        let upper = ctx.int("upper", 1) != 0
        let rows = x.shape[x.rank - 2], cols = x.shape[x.rank - 1]
        return (0..<x.count).map { i in
            let c = i % cols, rw = (i / cols) % max(rows, 1)
            return upper ? c - rw >= k : c - rw <= k
        }
    }

    static func cumGeometry(_ ctx: OpContext, _ inputs: [NDArray?], _ x: NDArray) throws(ExecutionError) -> (Int, Int, Int) {
        let a = try ctx.input(inputs, 1)
        guard a.count == 1, !a.isFloat else { throw ctx.mismatch("axis must be an integer scalar") }
        let axis = try ctx.axis(Int(clamping: a.ints[0]), rank: x.rank)
        return (x.shape[..<axis].reduce(1, *), x.shape[axis], x.shape[(axis + 1)...].reduce(1, *))
    }

    static func cumsum<T: AdditiveArithmetic>(_ v: [T], _ outer: Int, _ n: Int, _ inner: Int, exclusive: Bool, reverse: Bool) -> [T] {
        var y = v
        for o in 0..<outer { for i in 0..<inner {
            var acc = T.zero
            for t in 0..<n {
                let j = reverse ? n - 1 - t : t
                let k = (o * n + j) * inner + i
                if exclusive { y[k] = acc; acc += v[k] } else { acc += v[k]; y[k] = acc }
            }
        } }
        return y
    }

    /// TopK's output shape, the flat source index of each output value, and its index on the axis.
    static func topK(_ ctx: OpContext, _ inputs: [NDArray?], _ x: NDArray) throws(ExecutionError) -> ([Int], [Int], [Int64]) {
        let axis = try ctx.axis(ctx.int("axis", -1), rank: x.rank)
        let kRaw: Int64
        if ctx.opset >= 10 { kRaw = try ctx.input(inputs, 1).asInts.first ?? -1 } else { kRaw = Int64(ctx.int("k", -1)) }
        let n = x.shape[axis]
        guard kRaw >= 0, kRaw <= Int64(n) else { throw ctx.mismatch("k \(kRaw) is out of range for axis \(axis) of size \(n)") }
        let k = Int(kRaw), largest = ctx.int("largest", 1) != 0
        let outer = x.shape[..<axis].reduce(1, *), inner = x.shape[(axis + 1)...].reduce(1, *)
        var shape = x.shape
        shape[axis] = k
        var src = [Int](repeating: 0, count: outer * k * inner), picked = [Int64](repeating: 0, count: src.count)
        for o in 0..<outer { for i in 0..<inner {
            let at = { (j: Int) in (o * n + j) * inner + i }
            // ties keep the lower index first, as onnxruntime does
            let order = (0..<n).sorted { a, b in
                let va = x.floats[at(a)], vb = x.floats[at(b)]
                return va == vb ? a < b : (largest ? va > vb : va < vb)
            }
            for t in 0..<k { src[(o * k + t) * inner + i] = at(order[t]); picked[(o * k + t) * inner + i] = Int64(order[t]) }
        } }
        return (shape, src, picked)
    }
}

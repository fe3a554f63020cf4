/// Ops that build or cut tensors from shape tensors computed at run time (as torch.onnx
/// exports compute them): ConstantOfShape, Range, Expand, Tile, Slice and Split, on float and
/// int64 tensors alike. Expand, Tile and Slice pass gradients back through their index maps.
enum ShapeOps {
    static let definitions: [OpDefinition] = [
        OpDefinition("ConstantOfShape", forward: { ctx, ins throws(ExecutionError) in [try constantOfShape(ctx, ins)] }),
        OpDefinition("Range", forward: { ctx, ins throws(ExecutionError) in [try range(ctx, ins)] }),
        mapped("Expand") { ctx, ins, x throws(ExecutionError) in
            let spec = try dims(ctx, try ctx.input(ins, 1), "shape")
            let out = try Broadcast.shape(of: [x.shape, spec], ctx: ctx)
            return (out, Broadcast.sourceIndices(x.shape, to: out))
        },
        mapped("Tile") { ctx, ins, x throws(ExecutionError) in
            let reps = try dims(ctx, try ctx.input(ins, 1), "repeats")
            guard reps.count == x.rank else { throw ctx.mismatch("repeats \(reps) do not match rank \(x.rank)") }
            let out = zip(x.shape, reps).map { $0 * $1 }
            try ctx.checkSize(out)
            let s = NDArray.strides(x.shape)
            return (out, IndexMap.indices(out, (0..<x.rank).map { d in (0..<out[d]).map { ($0 % x.shape[d]) * s[d] } }))
        },
        mapped("Slice") { ctx, ins, x throws(ExecutionError) in
            let (start, step, count) = try sliceGeometry(ctx, ins, x)
            return (count, IndexMap.indices(count, IndexMap.strided(x.shape, start: start, step: step, count: count)))
        },
        OpDefinition("Split", forward: { ctx, ins throws(ExecutionError) in try split(ctx, ins) }),
    ]

    /// An op whose output reads input 0 through an index map, with the gradient scattering back.
    static func mapped(_ name: String,
                       _ plan: @escaping @Sendable (OpContext, [NDArray?], NDArray) throws(ExecutionError) -> ([Int], [Int])) -> OpDefinition {
        OpDefinition(name,
                     forward: { ctx, ins throws(ExecutionError) in
                         let x = try ctx.input(ins, 0)
                         let (shape, src) = try plan(ctx, ins, x)
                         return [IndexMap.gather(x, src, shape: shape)]
                     },
                     gradient: .init(inputs: [0]) { ctx, ins, _, g, _ throws(ExecutionError) in
                         let x = try ctx.input(ins, 0)
                         return [IndexMap.scatterAdd(g, try plan(ctx, ins, x).1, shape: x.shape)]
                     })
    }

    /// The non-negative dimensions held by a 1-D int64 tensor.
    static func dims(_ ctx: OpContext, _ t: NDArray, _ what: String) throws(ExecutionError) -> [Int] {
        guard !t.isFloat, t.rank <= 1 else { throw ctx.mismatch("\(what) must be a 1-D int64 tensor") }
        var out = [Int]()
        for v in t.ints {
            guard v >= 0, v <= Int64(OpContext.maxElements) else { throw ctx.mismatch("\(what) holds \(v)") }
            out.append(Int(v))
        }
        return out
    }

    static func constantOfShape(_ ctx: OpContext, _ inputs: [NDArray?]) throws(ExecutionError) -> NDArray {
        let shape = try dims(ctx, try ctx.input(inputs, 0), "shape")
        try ctx.checkSize(shape)
        let n = shape.reduce(1, *)
        var value = NDArray(shape: [1], floats: [0])
        if case .tensor(let t)? = ctx.node.attribute("value") { value = try NDArray(tensor: t) }
        guard value.count == 1 else { throw ctx.mismatch("value must hold one element") }
        if value.isFloat { return NDArray(shape: shape, floats: [Float](repeating: value.floats[0], count: n)) }
        return NDArray(shape: shape, ints: [Int64](repeating: value.ints[0], count: n), kind: value.kind)
    }

    static func range(_ ctx: OpContext, _ inputs: [NDArray?]) throws(ExecutionError) -> NDArray {
        let s = try ctx.input(inputs, 0), l = try ctx.input(inputs, 1), d = try ctx.input(inputs, 2)
        guard s.count == 1, l.count == 1, d.count == 1 else { throw ctx.mismatch("start, limit and delta must be scalars") }
        if !s.isFloat && !l.isFloat && !d.isFloat {
            let a = s.ints[0], b = l.ints[0], step = d.ints[0]
            guard step != 0 else { throw ctx.mismatch("delta is 0") }
            let n = rangeCount((Double(b) - Double(a)) / Double(step))
            try ctx.checkSize([n])
            return NDArray(shape: [n], ints: (0..<n).map { a &+ Int64($0) &* step })
        }
        let a = s.asFloats[0], b = l.asFloats[0], step = d.asFloats[0]
        guard step != 0, a.isFinite, b.isFinite, step.isFinite else { throw ctx.mismatch("start, limit and delta must be finite, delta non-zero") }
        let n = rangeCount(Double((b - a) / step))
        try ctx.checkSize([n])
        return NDArray(shape: [n], floats: (0..<n).map { a + Float($0) * step })
    }

    /// Range's element count, ceil(quotient) and at least 0, clamped just past the element limit
    /// (so `checkSize` refuses it) before the conversion: finite start, limit and delta can still
    /// give a quotient beyond Int's range (1.8e28 / 0.75, or Int64.min to Int64.max), which trapped.
    static func rangeCount(_ quotient: Double) -> Int {
        let q = quotient.rounded(.up)
        guard q > 0 else { return 0 }  // also NaN
        return Int(min(q, Double(OpContext.maxElements) + 1))
    }

    /// Per dimension: first index, step and element count of a Slice (ONNX clamping rules).
    static func sliceGeometry(_ ctx: OpContext, _ inputs: [NDArray?], _ x: NDArray) throws(ExecutionError) -> ([Int], [Int], [Int]) {
        var starts: [Int64], ends: [Int64], axes: [Int64]?, steps: [Int64]?
        if ctx.opset < 10 {
            guard let s = ctx.ints("starts"), let e = ctx.ints("ends") else { throw ctx.mismatch("starts and ends are missing") }
            starts = s.map { Int64($0) }; ends = e.map { Int64($0) }
            axes = ctx.ints("axes").map { $0.map { Int64($0) } }; steps = nil
        } else {
            starts = try ctx.input(inputs, 1).asInts; ends = try ctx.input(inputs, 2).asInts
            axes = inputs.count > 3 ? inputs[3]?.asInts : nil
            steps = inputs.count > 4 ? inputs[4]?.asInts : nil
        }
        let ax = axes ?? (0..<Int64(starts.count)).map { $0 }
        guard ends.count == starts.count, ax.count == starts.count, steps.map({ $0.count == starts.count }) ?? true else {
            throw ctx.mismatch("starts, ends, axes and steps differ in length")
        }
        var start = [Int](repeating: 0, count: x.rank), step = [Int](repeating: 1, count: x.rank), count = x.shape
        var seen = Set<Int>()
        for i in 0..<starts.count {
            let a = try ctx.axis(Int(clamping: ax[i]), rank: x.rank)
            guard seen.insert(a).inserted else { throw ctx.mismatch("axis \(a) is sliced twice") }
            let dim = Int64(x.shape[a]), st = steps?[i] ?? 1
            guard st != 0 else { throw ctx.mismatch("step 0 on axis \(a)") }
            var b = starts[i] < 0 ? starts[i] &+ dim : starts[i], e = ends[i] < 0 ? ends[i] &+ dim : ends[i]
            if st > 0 {
                b = min(max(b, 0), dim); e = min(max(e, 0), dim)
                count[a] = e > b ? Int((e - b + st - 1) / st) : 0
            } else {
                b = min(max(b, 0), dim - 1); e = min(max(e, -1), dim - 1)
                count[a] = b > e ? Int((b - e + (-st) - 1) / (-st)) : 0
            }
            start[a] = Int(b); step[a] = Int(clamping: st)
        }
        return (start, step, count)
    }

    static func split(_ ctx: OpContext, _ inputs: [NDArray?]) throws(ExecutionError) -> [NDArray] {
        let x = try ctx.input(inputs, 0)
        let axis = try ctx.axis(ctx.int("axis", 0), rank: x.rank)
        let outputs = ctx.node.outputs.count
        var sizes: [Int]
        if ctx.opset >= 13, inputs.count > 1, let s = inputs[1] { sizes = try dims(ctx, s, "split") } else if let s = ctx.ints("split") { sizes = s } else {
            let parts = ctx.int("num_outputs", outputs)
            guard parts >= 1 else { throw ctx.mismatch("no outputs") }
            let each = (x.shape[axis] + parts - 1) / parts
            sizes = (0..<parts).map { max(0, min(each, x.shape[axis] - $0 * each)) }
        }
        guard sizes.reduce(0, +) == x.shape[axis], sizes.allSatisfy({ $0 >= 0 }) else {
            throw ctx.mismatch("split \(sizes) does not add up to \(x.shape[axis]) on axis \(axis)")
        }
        var out = [NDArray](), offset = 0
        for s in sizes {
            var start = [Int](repeating: 0, count: x.rank), count = x.shape
            start[axis] = offset; count[axis] = s
            let src = IndexMap.indices(count, IndexMap.strided(x.shape, start: start, step: [Int](repeating: 1, count: x.rank), count: count))
            out.append(IndexMap.gather(x, src, shape: count))
            offset += s
        }
        return out
    }
}

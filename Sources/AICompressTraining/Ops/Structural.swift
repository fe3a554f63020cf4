import AICompressCore

/// Shape and indexing ops: Flatten, Reshape, Transpose, Squeeze, Unsqueeze, Concat, Gather,
/// ArgMax, Shape and Constant. The shape ops' gradients reshape, transpose or split the output
/// gradient back.
enum Structural {
    static let definitions: [OpDefinition] = [
        OpDefinition("Flatten",
                     forward: { ctx, ins throws(ExecutionError) in
                         let x = try ctx.input(ins, 0)
                         return [x.reshaped(try flattenShape(ctx, x))]
                     },
                     gradient: .init(inputs: [0], reshapedBack)),
        OpDefinition("Reshape",
                     forward: { ctx, ins throws(ExecutionError) in
                         let x = try ctx.input(ins, 0)
                         let spec: NDArray
                         if ctx.opset < 5, let s = ctx.ints("shape") { spec = NDArray(shape: [s.count], ints: s.map { Int64($0) }) } else {
                             spec = try ctx.input(ins, 1)
                         }
                         return [x.reshaped(try reshapeShape(ctx, x, spec))]
                     },
                     gradient: .init(inputs: [0], reshapedBack)),
        OpDefinition("Transpose",
                     forward: { ctx, ins throws(ExecutionError) in
                         let x = try ctx.input(ins, 0)
                         return [transpose(x, perm: try transposePerm(ctx, rank: x.rank))]
                     },
                     gradient: .init(inputs: [0]) { ctx, _, _, g, _ throws(ExecutionError) in
                         let perm = try transposePerm(ctx, rank: g.rank)
                         var inv = [Int](repeating: 0, count: perm.count)
                         for (i, p) in perm.enumerated() { inv[p] = i }
                         return [transpose(g, perm: inv)]
                     }),
        OpDefinition("Squeeze",
                     forward: { ctx, ins throws(ExecutionError) in [try squeeze(ctx, try ctx.input(ins, 0), ins)] },
                     gradient: .init(inputs: [0], reshapedBack)),
        OpDefinition("Unsqueeze",
                     forward: { ctx, ins throws(ExecutionError) in [try unsqueeze(ctx, try ctx.input(ins, 0), ins)] },
                     gradient: .init(inputs: [0], reshapedBack)),
        OpDefinition("Concat",
                     forward: { ctx, ins throws(ExecutionError) in [try concat(ctx, try parts(ctx, ins))] },
                     gradient: .init(inputs: .all) { ctx, ins, _, g, _ throws(ExecutionError) in try concatBackward(ctx, try parts(ctx, ins), g: g) }),
        OpDefinition("Gather",
                     forward: { ctx, ins throws(ExecutionError) in
                         let x = try ctx.input(ins, 0), ind = try ctx.input(ins, 1)
                         if x.isFloat { return [try gatherRows(ctx, x, ind)] }
                         let (src, shape) = try gatherIndices(ctx, x, ind)
                         return [x.gathered(src, shape: shape)]
                     },
                     gradient: .init(inputs: [0]) { ctx, ins, _, g, _ throws(ExecutionError) in
                         let x = try ctx.input(ins, 0), ind = try ctx.input(ins, 1)
                         let (src, _) = try gatherIndices(ctx, x, ind)
                         var dx = [Float](repeating: 0, count: x.count)
                         for (o, s) in src.enumerated() { dx[s] += g.floats[o] }
                         return [NDArray(shape: x.shape, floats: dx)]
                     }),
        OpDefinition("ArgMax", traits: .channelDecision, forward: { ctx, ins throws(ExecutionError) in [try argmax(ctx, try ctx.input(ins, 0))] }),
        OpDefinition("Shape", forward: { ctx, ins throws(ExecutionError) in [try shape(ctx, try ctx.input(ins, 0))] }),
        OpDefinition("Constant", forward: { ctx, _ throws(ExecutionError) in [try constant(ctx)] }),
    ]

    /// The output gradient given input 0's shape (Flatten, Reshape, Squeeze, Unsqueeze).
    static func reshapedBack(_ ctx: OpContext, _ inputs: [NDArray?], _ y: NDArray, _ g: NDArray,
                             _ need: [Bool]) throws(ExecutionError) -> [NDArray?] {
        [g.reshaped(try ctx.input(inputs, 0).shape)]
    }

    /// Every input, each required (Concat).
    static func parts(_ ctx: OpContext, _ inputs: [NDArray?]) throws(ExecutionError) -> [NDArray] {
        var parts = [NDArray]()
        for i in inputs.indices { parts.append(try ctx.input(inputs, i)) }
        return parts
    }

    // MARK: Shapes

    static func flattenShape(_ ctx: OpContext, _ x: NDArray) throws(ExecutionError) -> [Int] {
        let axis = ctx.int("axis", 1)
        let a = axis < 0 ? axis + x.rank : axis
        guard a >= 0, a <= x.rank else { throw ctx.mismatch("axis \(axis) is out of range for rank \(x.rank)") }
        return [x.shape[..<a].reduce(1, *), x.shape[a...].reduce(1, *)]
    }

    static func reshapeShape(_ ctx: OpContext, _ x: NDArray, _ spec: NDArray) throws(ExecutionError) -> [Int] {
        let allowZero = ctx.int("allowzero", 0) != 0
        var out = [Int]()
        var inferAt: Int? = nil
        for (i, d) in spec.asInts.enumerated() {
            if d == -1 {
                guard inferAt == nil else { throw ctx.mismatch("more than one -1 in the target shape") }
                inferAt = i
                out.append(1)
            } else if d == 0 && !allowZero {
                guard i < x.rank else { throw ctx.mismatch("0 at position \(i) copies a dimension the input lacks") }
                out.append(x.shape[i])
            } else if d < 0 {
                throw ctx.mismatch("negative dimension \(d) in the target shape")
            } else {
                out.append(Int(d))
            }
        }
        try ctx.checkSize(out)
        let known = out.reduce(1, *)
        if let at = inferAt {
            guard known > 0, x.count % known == 0 else {
                throw ctx.mismatch("cannot reshape \(x.shape) to \(spec.asInts)")
            }
            out[at] = x.count / known
        }
        guard out.reduce(1, *) == x.count else { throw ctx.mismatch("cannot reshape \(x.shape) to \(spec.asInts)") }
        return out
    }

    static func squeezeAxes(_ ctx: OpContext, _ inputs: [NDArray?]) -> [Int]? {
        if ctx.opset >= 13 { return inputs.count > 1 ? inputs[1].map { $0.asInts.map { Int($0) } } : nil }
        return ctx.ints("axes")
    }

    static func squeeze(_ ctx: OpContext, _ x: NDArray, _ inputs: [NDArray?]) throws(ExecutionError) -> NDArray {
        let axes: Set<Int>
        if let given = squeezeAxes(ctx, inputs) {
            var s = Set<Int>()
            for a in given {
                let n = try ctx.axis(a, rank: x.rank)
                guard x.shape[n] == 1 else { throw ctx.mismatch("cannot squeeze axis \(a) of size \(x.shape[n])") }
                s.insert(n)
            }
            axes = s
        } else {
            axes = Set(x.shape.indices.filter { x.shape[$0] == 1 })
        }
        return x.reshaped(x.shape.indices.filter { !axes.contains($0) }.map { x.shape[$0] })
    }

    static func unsqueeze(_ ctx: OpContext, _ x: NDArray, _ inputs: [NDArray?]) throws(ExecutionError) -> NDArray {
        guard let given = squeezeAxes(ctx, inputs) else { throw ctx.mismatch("axes are missing") }
        let r = x.rank + given.count
        var axes = Set<Int>()
        for a in given { axes.insert(try ctx.axis(a, rank: r)) }
        var out = [Int]()
        var src = x.shape.makeIterator()
        for i in 0..<r { out.append(axes.contains(i) ? 1 : (src.next() ?? 1)) }
        return x.reshaped(out)
    }

    static func transposePerm(_ ctx: OpContext, rank: Int) throws(ExecutionError) -> [Int] {
        let perm = ctx.ints("perm") ?? Array((0..<rank).reversed())
        guard perm.count == rank, Set(perm) == Set(0..<rank) else {
            throw ctx.mismatch("perm \(perm) is not a permutation of \(rank) axes")
        }
        return perm
    }

    static func transpose(_ x: NDArray, perm: [Int]) -> NDArray {
        let outShape = perm.map { x.shape[$0] }
        if perm == Array(0..<perm.count) || x.count == 0 { return x.reshaped(outShape) }
        // axes of size 1 move no data: then only the shape changes
        let moved = perm.filter { x.shape[$0] != 1 }
        if moved == moved.sorted() { return x.reshaped(outShape) }
        let inStrides = NDArray.strides(x.shape)
        // the trailing run that stays contiguous (axes kept in place at the end) is copied whole
        var run = 1, r = perm.count
        while r > 0 && perm[r - 1] == r - 1 { r -= 1; run *= x.shape[r] }
        let offsets = (0..<r).map { d in (0..<outShape[d]).map { $0 * inStrides[perm[d]] } }
        let starts = IndexMap.indices(Array(outShape[..<r]), offsets)
        if x.isFloat {
            var y = [Float](repeating: 0, count: x.count)
            y.withUnsafeMutableBufferPointer { py in
                x.floats.withUnsafeBufferPointer { px in
                    for (o, src) in starts.enumerated() {
                        (py.baseAddress! + o * run).update(from: px.baseAddress! + src, count: run)
                    }
                }
            }
            return NDArray(shape: outShape, floats: y)
        }
        var idx = [Int]()
        idx.reserveCapacity(x.count)
        for src in starts { for j in 0..<run { idx.append(src + j) } }
        return x.gathered(idx, shape: outShape)
    }

    static func concat(_ ctx: OpContext, _ parts: [NDArray]) throws(ExecutionError) -> NDArray {
        guard let first = parts.first else { throw ctx.mismatch("no inputs") }
        let axis = try ctx.axis(ctx.int("axis", 0), rank: first.rank)
        var outShape = first.shape
        outShape[axis] = 0
        for p in parts {
            guard p.rank == first.rank, p.kind == first.kind,
                  (0..<p.rank).allSatisfy({ $0 == axis || p.shape[$0] == first.shape[$0] }) else {
                throw ctx.mismatch("inputs \(parts.map(\.shape)) do not concatenate on axis \(axis)")
            }
            outShape[axis] += p.shape[axis]
        }
        let outer = first.shape[..<axis].reduce(1, *)
        if first.isFloat {
            var y = [Float]()
            y.reserveCapacity(outShape.reduce(1, *))
            for o in 0..<outer {
                for p in parts {
                    let run = p.shape[axis...].reduce(1, *)
                    y.append(contentsOf: p.floats[(o * run)..<((o + 1) * run)])
                }
            }
            return NDArray(shape: outShape, floats: y)
        }
        var y = [Int64]()
        for o in 0..<outer {
            for p in parts {
                let run = p.shape[axis...].reduce(1, *)
                y.append(contentsOf: p.ints[(o * run)..<((o + 1) * run)])
            }
        }
        return NDArray(shape: outShape, ints: y, kind: first.kind)
    }

    static func concatBackward(_ ctx: OpContext, _ parts: [NDArray], g: NDArray) throws(ExecutionError) -> [NDArray] {
        let axis = try ctx.axis(ctx.int("axis", 0), rank: g.rank)
        let outer = g.shape[..<axis].reduce(1, *)
        let outRun = g.shape[axis...].reduce(1, *)
        var offset = 0
        var grads = [NDArray]()
        for p in parts {
            let run = p.shape[axis...].reduce(1, *)
            var d = [Float]()
            d.reserveCapacity(p.count)
            for o in 0..<outer { d.append(contentsOf: g.floats[(o * outRun + offset)..<(o * outRun + offset + run)]) }
            grads.append(NDArray(shape: p.shape, floats: d))
            offset += run
        }
        return grads
    }

    /// Gather along `axis` with integer indices (negative counts from the end).
    static func gatherIndices(_ ctx: OpContext, _ x: NDArray, _ ind: NDArray) throws(ExecutionError) -> ([Int], [Int]) {
        let axis = try ctx.axis(ctx.int("axis", 0), rank: x.rank)
        let n = x.shape[axis]
        let outer = x.shape[..<axis].reduce(1, *), inner = x.shape[(axis + 1)...].reduce(1, *)
        var src = [Int]()
        let idx = ind.asInts
        try ctx.checkSize([outer, idx.count, inner])
        src.reserveCapacity(outer * idx.count * inner)
        for o in 0..<outer {
            for raw in idx {
                let j = raw < 0 ? Int(raw) + n : Int(raw)
                guard j >= 0, j < n else { throw ctx.mismatch("index \(raw) is out of range for axis \(axis) of size \(n)") }
                for i in 0..<inner { src.append((o * n + j) * inner + i) }
            }
        }
        let shape = Array(x.shape[..<axis]) + ind.shape + Array(x.shape[(axis + 1)...])
        return (src, shape)
    }

    /// Gather of float data by copying whole rows after the axis (embedding lookups).
    static func gatherRows(_ ctx: OpContext, _ x: NDArray, _ ind: NDArray) throws(ExecutionError) -> NDArray {
        let axis = try ctx.axis(ctx.int("axis", 0), rank: x.rank)
        let n = x.shape[axis]
        let outer = x.shape[..<axis].reduce(1, *), inner = x.shape[(axis + 1)...].reduce(1, *)
        let idx = ind.asInts
        try ctx.checkSize([outer, idx.count, inner])
        var rows = [Int]()
        rows.reserveCapacity(idx.count)
        for raw in idx {
            let j = raw < 0 ? Int(raw) + n : Int(clamping: raw)
            guard j >= 0, j < n else { throw ctx.mismatch("index \(raw) is out of range for axis \(axis) of size \(n)") }
            rows.append(j)
        }
        let shape = Array(x.shape[..<axis]) + ind.shape + Array(x.shape[(axis + 1)...])
        var y = [Float](repeating: 0, count: outer * idx.count * inner)
        if y.isEmpty { return NDArray(shape: shape, floats: y) }
        y.withUnsafeMutableBufferPointer { py in
            x.floats.withUnsafeBufferPointer { px in
                var o = 0
                for b in 0..<outer { for j in rows {
                    (py.baseAddress! + o).update(from: px.baseAddress! + (b * n + j) * inner, count: inner)
                    o += inner
                } }
            }
        }
        return NDArray(shape: shape, floats: y)
    }

    /// The dimensions of `x` from `start` to `end` (negative counts from the end; both clamped).
    static func shape(_ ctx: OpContext, _ x: NDArray) throws(ExecutionError) -> NDArray {
        let r = x.rank
        var start = ctx.int("start", 0), end = ctx.int("end", r)
        if start < 0 { start += r }
        if end < 0 { end += r }
        start = min(max(start, 0), r)
        end = min(max(end, start), r)
        let dims = x.shape[start..<end].map { Int64($0) }
        return NDArray(shape: [dims.count], ints: dims)
    }

    /// The value of a Constant node: its tensor, float(s), int(s) or string(s) attribute.
    static func constant(_ ctx: OpContext) throws(ExecutionError) -> NDArray {
        switch ctx.node.attribute("value") {
        case .tensor(let t)?: return try NDArray(tensor: t)
        default: break
        }
        if case .float(let v)? = ctx.node.attribute("value_float") { return NDArray(shape: [], floats: [v]) }
        if case .floats(let v)? = ctx.node.attribute("value_floats") { return NDArray(shape: [v.count], floats: v) }
        if case .int(let v)? = ctx.node.attribute("value_int") { return NDArray(shape: [], ints: [v]) }
        if case .ints(let v)? = ctx.node.attribute("value_ints") { return NDArray(shape: [v.count], ints: v) }
        if case .strings(let v)? = ctx.node.attribute("value_strings") {
            // strings are computed as their indices (class labels: Network.stringLabels says which)
            var shape = [v.count]
            if case .ints(let dims)? = ctx.node.attribute("aicompress.dims"), dims.allSatisfy({ $0 >= 0 }),
               dims.reduce(1, { $0.multipliedReportingOverflow(by: $1).overflow ? -1 : $0 * $1 }) == Int64(v.count) {
                shape = dims.map { Int($0) }
            }
            return NDArray(shape: shape, ints: (0..<Int64(v.count)).map { $0 })
        }
        throw ctx.unsupported("Constant without a tensor, float(s), int(s) or string(s) value")
    }

    static func argmax(_ ctx: OpContext, _ x: NDArray) throws(ExecutionError) -> NDArray {
        let axis = try ctx.axis(ctx.int("axis", 0), rank: x.rank)
        let keep = ctx.int("keepdims", 1) != 0, last = ctx.int("select_last_index", 0) != 0
        let outer = x.shape[..<axis].reduce(1, *), n = x.shape[axis], inner = x.shape[(axis + 1)...].reduce(1, *)
        guard n > 0 else { throw ctx.mismatch("ArgMax over an empty axis") }
        let v = x.asFloats
        var out = [Int64](repeating: 0, count: outer * inner)
        for o in 0..<outer {
            for i in 0..<inner {
                var best = 0
                var bv = v[o * n * inner + i]
                for j in 1..<n {
                    let e = v[(o * n + j) * inner + i]
                    if e > bv || (last && e == bv) { best = j; bv = e }
                }
                out[o * inner + i] = Int64(best)
            }
        }
        var shape = x.shape
        if keep { shape[axis] = 1 } else { shape.remove(at: axis) }
        return NDArray(shape: shape, ints: out)
    }
}

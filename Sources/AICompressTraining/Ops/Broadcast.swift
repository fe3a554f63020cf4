/// NumPy-style broadcasting for the binary elementwise ops and its reverse (summing a gradient
/// back to an input's shape).
enum Broadcast {
    /// The broadcast shape of `a` and `b`, or nil when they are incompatible.
    static func shape(_ a: [Int], _ b: [Int]) -> [Int]? {
        let r = max(a.count, b.count)
        var out = [Int](repeating: 1, count: r)
        for i in 0..<r {
            let da = i < r - a.count ? 1 : a[i - (r - a.count)]
            let db = i < r - b.count ? 1 : b[i - (r - b.count)]
            if da == db || db == 1 { out[i] = da } else if da == 1 { out[i] = db } else { return nil }
        }
        return out
    }

    /// Strides of `shape` (right-aligned to rank `r`) with 0 for broadcast dimensions.
    static func strides(_ shape: [Int], rank r: Int, out: [Int]) -> [Int] {
        let s = NDArray.strides(shape)
        return (0..<r).map { i in
            let j = i - (r - shape.count)
            return j < 0 || shape[j] == 1 && out[i] != 1 ? 0 : s[j]
        }
    }

    /// Calls `body(o, ia, ib, n, sa, sb)` for each run of `n` output elements along the last
    /// dimension, starting at output index `o` and input indices `ia`, `ib` with steps `sa`, `sb`.
    static func forEachRun(out: [Int], a: [Int], b: [Int],
                           _ body: (_ o: Int, _ ia: Int, _ ib: Int, _ n: Int, _ sa: Int, _ sb: Int) -> Void) {
        let r = out.count
        let total = out.reduce(1, *)
        guard total > 0 else { return }
        if r == 0 { body(0, 0, 0, 1, 0, 0); return }
        let sa = strides(a, rank: r, out: out), sb = strides(b, rank: r, out: out)
        let n = out[r - 1]
        var idx = [Int](repeating: 0, count: r)
        var o = 0, ia = 0, ib = 0
        while o < total {
            body(o, ia, ib, n, sa[r - 1], sb[r - 1])
            o += n
            // advance the odometer over the leading dimensions
            var d = r - 2
            while d >= 0 {
                idx[d] += 1
                ia += sa[d]
                ib += sb[d]
                if idx[d] < out[d] { break }
                ia -= sa[d] * out[d]
                ib -= sb[d] * out[d]
                idx[d] = 0
                d -= 1
            }
        }
    }

    /// Sums `g` (of shape `out`) down to `shape`, undoing a broadcast.
    static func reduce(_ g: [Float], out: [Int], to shape: [Int]) -> [Float] {
        if out == shape { return g }
        var acc = [Float](repeating: 0, count: shape.reduce(1, *))
        acc.withUnsafeMutableBufferPointer { pa in
            g.withUnsafeBufferPointer { pg in
                forEachRun(out: out, a: shape, b: out) { o, ia, _, n, sa, _ in
                    if sa == 0 {
                        var s: Float = 0
                        for j in 0..<n { s += pg[o + j] }
                        pa[ia] += s
                    } else {
                        for j in 0..<n { pa[ia + j * sa] += pg[o + j] }
                    }
                }
            }
        }
        return acc
    }

    /// `f(a, b)` elementwise with broadcasting.
    static func apply(_ a: NDArray, _ b: NDArray, ctx: OpContext,
                      _ f: (Float, Float) -> Float) throws(ExecutionError) -> NDArray {
        guard let out = shape(a.shape, b.shape) else {
            throw ctx.mismatch("shapes \(a.shape) and \(b.shape) do not broadcast")
        }
        try ctx.checkSize(out)
        let fa = a.asFloats, fb = b.asFloats
        var y = [Float](repeating: 0, count: out.reduce(1, *))
        y.withUnsafeMutableBufferPointer { py in
            fa.withUnsafeBufferPointer { pa in
                fb.withUnsafeBufferPointer { pb in
                    forEachRun(out: out, a: a.shape, b: b.shape) { o, ia, ib, n, sa, sb in
                        if sa == 1 && sb == 1 {
                            for j in 0..<n { py[o + j] = f(pa[ia + j], pb[ib + j]) }
                        } else if sa == 1 && sb == 0 {
                            let v = pb[ib]
                            for j in 0..<n { py[o + j] = f(pa[ia + j], v) }
                        } else {
                            for j in 0..<n { py[o + j] = f(pa[ia + j * sa], pb[ib + j * sb]) }
                        }
                    }
                }
            }
        }
        return NDArray(shape: out, floats: y)
    }

    /// Integer version of `apply`, for int64 arithmetic on shapes and indices.
    static func applyInt(_ a: NDArray, _ b: NDArray, ctx: OpContext,
                         _ f: (Int64, Int64) -> Int64) throws(ExecutionError) -> NDArray {
        guard let out = shape(a.shape, b.shape) else {
            throw ctx.mismatch("shapes \(a.shape) and \(b.shape) do not broadcast")
        }
        try ctx.checkSize(out)
        var y = [Int64](repeating: 0, count: out.reduce(1, *))
        forEachRun(out: out, a: a.shape, b: b.shape) { o, ia, ib, n, sa, sb in
            for j in 0..<n { y[o + j] = f(a.ints[ia + j * sa], b.ints[ib + j * sb]) }
        }
        return NDArray(shape: out, ints: y)
    }
}

extension Broadcast {
    /// The output shape of broadcasting every one of `shapes`, refused when they do not fit.
    static func shape(of shapes: [[Int]], ctx: OpContext) throws(ExecutionError) -> [Int] {
        var out = shapes.first ?? []
        for s in shapes.dropFirst() {
            guard let o = shape(out, s) else { throw ctx.mismatch("shapes \(shapes) do not broadcast") }
            out = o
        }
        try ctx.checkSize(out)
        return out
    }

    /// For each element of `out`, the flat index of the element of an array of `shape` that
    /// broadcasting reads.
    static func sourceIndices(_ shape: [Int], to out: [Int]) -> [Int] {
        var idx = [Int](repeating: 0, count: out.reduce(1, *))
        if shape == out { for i in idx.indices { idx[i] = i }; return idx }
        forEachRun(out: out, a: shape, b: out) { o, ia, _, n, sa, _ in
            for j in 0..<n { idx[o + j] = ia + j * sa }
        }
        return idx
    }

    /// `f` of elements of `a` and `b` (any kinds, as `T` through `read`) with broadcasting.
    static func map2<T, R>(_ a: NDArray, _ b: NDArray, ctx: OpContext, read: (NDArray) -> [T],
                           _ f: (T, T) -> R) throws(ExecutionError) -> ([Int], [R]) {
        let out = try shape(of: [a.shape, b.shape], ctx: ctx)
        let va = read(a), vb = read(b)
        var y = [R]()
        y.reserveCapacity(out.reduce(1, *))
        forEachRun(out: out, a: a.shape, b: b.shape) { _, ia, ib, n, sa, sb in
            for j in 0..<n { y.append(f(va[ia + j * sa], vb[ib + j * sb])) }
        }
        return (out, y)
    }
}

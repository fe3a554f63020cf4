import AICompressCore
import Foundation

/// Softmax, shape and indexing ops, casts, dequantization and batch normalization.
enum Structural {
    // MARK: Softmax / LogSoftmax

    /// (outer, n, inner) of the softmax axis, following the opset's semantics: before opset 13
    /// the input is coerced to 2-D at `axis`; from 13 the softmax runs along `axis` alone.
    static func softmaxGeometry(_ ctx: OpContext, _ x: NDArray) throws(ExecutionError) -> (Int, Int, Int) {
        let legacy = ctx.opset < 13
        let axis = try ctx.axis(ctx.int("axis", legacy ? 1 : -1), rank: x.rank)
        let outer = x.shape[..<axis].reduce(1, *)
        if legacy { return (outer, x.shape[axis...].reduce(1, *), 1) }
        return (outer, x.shape[axis], x.shape[(axis + 1)...].reduce(1, *))
    }

    static func softmax(_ ctx: OpContext, _ x: NDArray, log: Bool) throws(ExecutionError) -> NDArray {
        let (outer, n, inner) = try softmaxGeometry(ctx, x)
        var y = x.floats
        softmaxInPlace(&y, outer: outer, n: n, inner: inner, log: log)
        return NDArray(shape: x.shape, floats: y)
    }

    /// (Log-)softmax over the middle axis of `y` viewed as [outer, n, inner], max-subtracted.
    static func softmaxInPlace(_ y: inout [Float], outer: Int, n: Int, inner: Int, log: Bool) {
        for o in 0..<outer {
            for i in 0..<inner {
                let base = o * n * inner + i
                var mx = -Float.infinity
                for j in 0..<n { mx = max(mx, y[base + j * inner]) }
                var sum: Float = 0
                for j in 0..<n {
                    let e = Foundation.exp(y[base + j * inner] - mx)
                    sum += e
                    if !log { y[base + j * inner] = e }
                }
                if log {
                    let l = Foundation.log(sum) + mx
                    for j in 0..<n { y[base + j * inner] -= l }
                } else {
                    for j in 0..<n { y[base + j * inner] /= sum }
                }
            }
        }
    }

    static func softmaxBackward(_ ctx: OpContext, y: NDArray, g: NDArray, log: Bool) throws(ExecutionError) -> NDArray {
        let (outer, n, inner) = try softmaxGeometry(ctx, y)
        var dx = [Float](repeating: 0, count: y.count)
        let yv = y.floats, gv = g.floats
        for o in 0..<outer {
            for i in 0..<inner {
                let base = o * n * inner + i
                var s: Float = 0
                if log {
                    for j in 0..<n { s += gv[base + j * inner] }
                    for j in 0..<n { let k = base + j * inner; dx[k] = gv[k] - Foundation.exp(yv[k]) * s }
                } else {
                    for j in 0..<n { s += gv[base + j * inner] * yv[base + j * inner] }
                    for j in 0..<n { let k = base + j * inner; dx[k] = yv[k] * (gv[k] - s) }
                }
            }
        }
        return NDArray(shape: y.shape, floats: dx)
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
        let inStrides = NDArray.strides(x.shape)
        let total = x.count
        var idx = [Int](repeating: 0, count: total)
        var counter = [Int](repeating: 0, count: outShape.count)
        var src = 0
        for o in 0..<total {
            idx[o] = src
            var d = outShape.count - 1
            while d >= 0 {
                counter[d] += 1
                src += inStrides[perm[d]]
                if counter[d] < outShape[d] { break }
                src -= inStrides[perm[d]] * outShape[d]
                counter[d] = 0
                d -= 1
            }
        }
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

    static func cast(_ ctx: OpContext, _ x: NDArray) throws(ExecutionError) -> NDArray {
        let to = ctx.int("to", 0)
        switch to {
        case 1, 10, 11, 16: // float, float16, double, bfloat16: computed in float32
            return NDArray(shape: x.shape, floats: x.asFloats)
        case 9:
            return NDArray(shape: x.shape, ints: x.isFloat ? x.floats.map { $0 != 0 ? 1 : 0 } : x.ints.map { $0 != 0 ? 1 : 0 },
                           kind: .bool)
        case 2, 3, 4, 5, 6, 7, 12, 13:
            return NDArray(shape: x.shape, ints: x.asInts)
        default:
            throw ctx.unsupported("cast to ONNX type \(ONNXElementType.name(Int32(to)))")
        }
    }

    /// ai.onnx.ml ArrayFeatureExtractor: picks entries of the last axis.
    static func arrayFeatureExtractor(_ ctx: OpContext, _ x: NDArray, _ ind: NDArray) throws(ExecutionError) -> NDArray {
        let n = x.shape.last ?? 1
        let outer = x.count / max(n, 1)
        let idx = ind.asInts
        try ctx.checkSize([outer, idx.count])
        var src = [Int]()
        for o in 0..<outer {
            for j in idx {
                guard j >= 0, Int(j) < n else { throw ctx.mismatch("index \(j) is out of range for \(n) features") }
                src.append(o * n + Int(j))
            }
        }
        let shape = x.rank <= 1 ? [1, idx.count] : Array(x.shape.dropLast()) + [idx.count]
        return x.gathered(src, shape: shape)
    }

    static func dequantizeLinear(_ ctx: OpContext, _ inputs: [NDArray?]) throws(ExecutionError) -> NDArray {
        let x = try ctx.input(inputs, 0), scale = try ctx.floatInput(inputs, 1)
        let zp = inputs.count > 2 ? inputs[2] : nil
        if let z = zp, z.count != scale.count { throw ctx.mismatch("zero point has \(z.count) values, scale \(scale.count)") }
        let xv = x.asFloats, sv = scale.floats, zv = zp?.asFloats
        var y = [Float](repeating: 0, count: x.count)
        if scale.count == 1 {
            let z = zv?.first ?? 0
            for i in 0..<y.count { y[i] = (xv[i] - z) * sv[0] }
            return NDArray(shape: x.shape, floats: y)
        }
        let axis = try ctx.axis(ctx.int("axis", 1), rank: x.rank)
        let block = ctx.int("block_size", 0)
        let outer = x.shape[..<axis].reduce(1, *), n = x.shape[axis], inner = x.shape[(axis + 1)...].reduce(1, *)
        if block > 0 {
            guard scale.shape.count == x.rank else { throw ctx.mismatch("blocked scale must have the input's rank") }
            let nb = scale.shape[axis]
            var expected = x.shape
            expected[axis] = (n + block - 1) / block
            guard scale.shape == expected else { throw ctx.mismatch("scale \(scale.shape) does not block \(x.shape) by \(block)") }
            for o in 0..<outer { for j in 0..<n { for i in 0..<inner {
                let k = (o * n + j) * inner + i, s = (o * nb + j / block) * inner + i
                y[k] = (xv[k] - (zv?[s] ?? 0)) * sv[s]
            } } }
        } else {
            guard scale.count == n else { throw ctx.mismatch("scale has \(scale.count) values for axis of size \(n)") }
            for o in 0..<outer { for j in 0..<n { for i in 0..<inner {
                let k = (o * n + j) * inner + i
                y[k] = (xv[k] - (zv?[j] ?? 0)) * sv[j]
            } } }
        }
        return NDArray(shape: x.shape, floats: y)
    }

    // MARK: BatchNormalization (inference statistics)

    static func batchNormParts(_ ctx: OpContext, _ inputs: [NDArray?]) throws(ExecutionError) -> ([Float], [Float], Int, Int, Int) {
        let x = try ctx.floatInput(inputs, 0)
        guard x.rank >= 2 else { throw ctx.mismatch("input must have a channel axis") }
        let scale = try ctx.floatInput(inputs, 1), bias = try ctx.floatInput(inputs, 2)
        let mean = try ctx.floatInput(inputs, 3), variance = try ctx.floatInput(inputs, 4)
        let c = x.shape[1]
        guard [scale, bias, mean, variance].allSatisfy({ $0.count == c }) else {
            throw ctx.mismatch("scale, B, mean and var must have \(c) values")
        }
        let eps = ctx.float("epsilon", 1e-5)
        let inv = (0..<c).map { 1 / (variance.floats[$0] + eps).squareRoot() }
        // y = a·x + b per channel
        let a = (0..<c).map { scale.floats[$0] * inv[$0] }
        let b = (0..<c).map { bias.floats[$0] - mean.floats[$0] * a[$0] }
        return (a, b, x.shape[0], c, x.shape[2...].reduce(1, *))
    }

    static func batchNorm(_ ctx: OpContext, _ inputs: [NDArray?]) throws(ExecutionError) -> NDArray {
        let x = try ctx.floatInput(inputs, 0)
        let (a, b, n, c, s) = try batchNormParts(ctx, inputs)
        var y = x.floats
        for i in 0..<n { for j in 0..<c {
            let base = (i * c + j) * s
            for k in 0..<s { y[base + k] = a[j] * y[base + k] + b[j] }
        } }
        return NDArray(shape: x.shape, floats: y)
    }

    static func batchNormBackward(_ ctx: OpContext, _ inputs: [NDArray?], g: NDArray,
                                  need: [Bool]) throws(ExecutionError) -> [NDArray?] {
        let x = try ctx.floatInput(inputs, 0)
        let (a, _, n, c, s) = try batchNormParts(ctx, inputs)
        let mean = try ctx.floatInput(inputs, 3), variance = try ctx.floatInput(inputs, 4)
        let eps = ctx.float("epsilon", 1e-5)
        var dx = [Float](repeating: 0, count: x.count)
        var dscale = [Float](repeating: 0, count: c), dbias = [Float](repeating: 0, count: c)
        let gv = g.floats, xv = x.floats
        for i in 0..<n { for j in 0..<c {
            let base = (i * c + j) * s
            let inv = 1 / (variance.floats[j] + eps).squareRoot()
            for k in 0..<s {
                dx[base + k] = gv[base + k] * a[j]
                dscale[j] += gv[base + k] * (xv[base + k] - mean.floats[j]) * inv
                dbias[j] += gv[base + k]
            }
        } }
        var out: [NDArray?] = [nil, nil, nil, nil, nil]
        if need[0] { out[0] = NDArray(shape: x.shape, floats: dx) }
        if need.count > 1, need[1] { out[1] = NDArray(shape: [c], floats: dscale) }
        if need.count > 2, need[2] { out[2] = NDArray(shape: [c], floats: dbias) }
        return out
    }
}

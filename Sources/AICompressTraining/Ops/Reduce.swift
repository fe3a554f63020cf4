import Foundation

/// The reductions (ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceProd, ReduceL1, ReduceL2,
/// ReduceSumSquare, ReduceLogSumExp) over attribute axes (before opset 18; ReduceSum before 13)
/// or an axes input, with keepdims and noop_with_empty_axes, and their gradients. Sum, Max, Min
/// and Prod also reduce int64 tensors exactly.
enum Reduce {
    /// One reduction: how values fold (from `initial`), the finishing step given the count, and
    /// the derivative of the result by one input value `x` given the result `y`.
    struct Kind: Sendable {
        var name: String
        var initial: Float
        var fold: @Sendable (Float, Float) -> Float
        var finish: @Sendable (Float, Int) -> Float = { v, _ in v }
        var derivative: @Sendable (_ x: Float, _ y: Float, _ n: Int) -> Float
        var integer: (@Sendable (Int64, Int64) -> Int64, Int64)? = nil
    }

    static let kinds: [Kind] = [
        Kind(name: "ReduceSum", initial: 0, fold: +, derivative: { _, _, _ in 1 }, integer: ({ $0 &+ $1 }, 0)),
        Kind(name: "ReduceMean", initial: 0, fold: +, finish: { $0 / Float($1) }, derivative: { _, _, n in 1 / Float(n) }),
        Kind(name: "ReduceMax", initial: -.infinity, fold: { max($0, $1) }, derivative: { x, y, _ in x == y ? 1 : 0 }, integer: ({ max($0, $1) }, .min)),
        Kind(name: "ReduceMin", initial: .infinity, fold: { min($0, $1) }, derivative: { x, y, _ in x == y ? 1 : 0 }, integer: ({ min($0, $1) }, .max)),
        Kind(name: "ReduceProd", initial: 1, fold: *, derivative: { x, y, _ in y / x }, integer: ({ $0 &* $1 }, 1)),
        Kind(name: "ReduceL1", initial: 0, fold: { $0 + abs($1) }, derivative: { x, _, _ in x > 0 ? 1 : (x < 0 ? -1 : 0) }),
        Kind(name: "ReduceL2", initial: 0, fold: { $0 + $1 * $1 }, finish: { v, _ in v.squareRoot() }, derivative: { x, y, _ in y == 0 ? 0 : x / y }),
        Kind(name: "ReduceSumSquare", initial: 0, fold: { $0 + $1 * $1 }, derivative: { x, _, _ in 2 * x }),
        // log Σ exp folds as a running log-sum-exp, stable for large values
        Kind(name: "ReduceLogSumExp", initial: -.infinity,
             fold: { a, b in a == -.infinity ? b : max(a, b) + Foundation.log1p(Foundation.exp(-abs(a - b))) },
             derivative: { x, y, _ in Foundation.exp(x - y) }),
    ]

    static let definitions: [OpDefinition] = kinds.map { k in
        OpDefinition(k.name, forward: { ctx, ins throws(ExecutionError) in [try reduce(ctx, ins, k)] },
                     gradient: .init(inputs: [0]) { ctx, ins, y, g, _ throws(ExecutionError) in [try backward(ctx, ins, k, y: y, g: g)] })
    }

    /// The reduced axes (nil: every axis is reduced; empty: none, the identity) and keepdims.
    static func axes(_ ctx: OpContext, _ inputs: [NDArray?], rank: Int, op: String) throws(ExecutionError) -> Set<Int>? {
        let fromInput = ctx.opset >= 18 || (op == "ReduceSum" && ctx.opset >= 13)
        var given: [Int]? = nil
        if fromInput {
            if inputs.count > 1, let a = inputs[1] { given = a.asInts.map { Int(clamping: $0) } }
        } else {
            given = ctx.ints("axes")
        }
        guard let list = given, !list.isEmpty else {
            return fromInput && ctx.int("noop_with_empty_axes", 0) != 0 ? [] : nil
        }
        var s = Set<Int>()
        for a in list { s.insert(try ctx.axis(a, rank: rank)) }
        return s
    }

    /// Output shape and, per input element, the flat index of the output element it reduces into.
    static func plan(_ ctx: OpContext, _ inputs: [NDArray?], _ x: NDArray, op: String) throws(ExecutionError) -> ([Int], [Int], Int) {
        let reduced = try axes(ctx, inputs, rank: x.rank, op: op) ?? Set(0..<x.rank)
        let keep = ctx.int("keepdims", 1) != 0
        var outShape = [Int](), kept = x.shape
        for (i, d) in x.shape.enumerated() {
            if reduced.contains(i) { kept[i] = 1; if keep { outShape.append(1) } } else { outShape.append(d) }
        }
        let n = reduced.reduce(1) { $0 * x.shape[$1] }
        // the input's elements map to the output through the kept shape's broadcast strides
        let idx = Broadcast.sourceIndices(kept, to: x.shape)
        return (outShape, idx, n)
    }

    static func reduce(_ ctx: OpContext, _ inputs: [NDArray?], _ k: Kind) throws(ExecutionError) -> NDArray {
        let x = try ctx.input(inputs, 0)
        let (shape, idx, n) = try plan(ctx, inputs, x, op: k.name)
        let count = shape.reduce(1, *)
        if !x.isFloat {
            guard let (f, initial) = k.integer else { throw ctx.mismatch("input must be a float tensor") }
            var y = [Int64](repeating: initial, count: count)
            for (i, o) in idx.enumerated() { y[o] = f(y[o], x.ints[i]) }
            return NDArray(shape: shape, ints: y)
        }
        guard n > 0 || k.initial.isFinite else { throw ctx.mismatch("\(k.name) over an empty axis") }
        var y = [Float](repeating: k.initial, count: count)
        x.floats.withUnsafeBufferPointer { px in
            y.withUnsafeMutableBufferPointer { py in
                for (i, o) in idx.enumerated() { py[o] = k.fold(py[o], px[i]) }
            }
        }
        for i in y.indices { y[i] = k.finish(y[i], n) }
        return NDArray(shape: shape, floats: y)
    }

    static func backward(_ ctx: OpContext, _ inputs: [NDArray?], _ k: Kind, y: NDArray, g: NDArray) throws(ExecutionError) -> NDArray {
        let x = try ctx.floatInput(inputs, 0)
        let (_, idx, n) = try plan(ctx, inputs, x, op: k.name)
        var dx = [Float](repeating: 0, count: x.count)
        for (i, o) in idx.enumerated() { dx[i] = g.floats[o] * k.derivative(x.floats[i], y.floats[o], n) }
        return NDArray(shape: x.shape, floats: dx)
    }
}

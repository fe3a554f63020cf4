import Foundation

/// The binary elementwise ops with NumPy broadcasting: Add, Sub, Mul and Div (in int64 too, for
/// shape computations) and Pow, with gradients summed back over the broadcast axes.
enum Arithmetic {
    static let definitions: [OpDefinition] = [
        OpDefinition("Add", traits: .elementwise,
                     forward: { ctx, ins throws(ExecutionError) in
                         let (a, b) = try operands(ctx, ins)
                         if !a.isFloat && !b.isFloat { return [try Broadcast.applyInt(a, b, ctx: ctx, &+)] }
                         return [try Broadcast.apply(a, b, ctx: ctx, +)]
                     },
                     gradient: .init(inputs: [0, 1]) { ctx, ins, y, g, need throws(ExecutionError) in
                         let (a, b) = try operands(ctx, ins)
                         return [need[0] ? reduced(g, y, to: a) : nil, need[1] ? reduced(g, y, to: b) : nil]
                     }),
        OpDefinition("Sub", traits: .elementwise,
                     forward: { ctx, ins throws(ExecutionError) in
                         let (a, b) = try operands(ctx, ins)
                         if !a.isFloat && !b.isFloat { return [try Broadcast.applyInt(a, b, ctx: ctx, &-)] }
                         return [try Broadcast.apply(a, b, ctx: ctx, -)]
                     },
                     gradient: .init(inputs: [0, 1]) { ctx, ins, y, g, need throws(ExecutionError) in
                         let (a, b) = try operands(ctx, ins)
                         return [need[0] ? reduced(g, y, to: a) : nil, need[1] ? reduced(Elementwise.map(g) { -$0 }, y, to: b) : nil]
                     }),
        OpDefinition("Mul", traits: .elementwise,
                     forward: { ctx, ins throws(ExecutionError) in
                         let (a, b) = try operands(ctx, ins)
                         if !a.isFloat && !b.isFloat { return [try Broadcast.applyInt(a, b, ctx: ctx, &*)] }
                         return [try Broadcast.apply(a, b, ctx: ctx, *)]
                     },
                     gradient: .init(inputs: [0, 1]) { ctx, ins, y, g, need throws(ExecutionError) in
                         let (a, b) = try operands(ctx, ins)
                         let ga = need[0] ? reduced(try Broadcast.apply(g, b, ctx: ctx, *), y, to: a) : nil
                         let gb = need[1] ? reduced(try Broadcast.apply(g, a, ctx: ctx, *), y, to: b) : nil
                         return [ga, gb]
                     }),
        OpDefinition("Div", traits: .elementwise,
                     forward: { ctx, ins throws(ExecutionError) in
                         let (a, b) = try operands(ctx, ins)
                         if !a.isFloat && !b.isFloat {
                             // x / 0 is 0 and Int64.min / -1 wraps: a hostile graph gets a value, not a trap
                             return [try Broadcast.applyInt(a, b, ctx: ctx) { x, y in y == 0 ? 0 : x.dividedReportingOverflow(by: y).partialValue }]
                         }
                         return [try Broadcast.apply(a, b, ctx: ctx, /)]
                     },
                     gradient: .init(inputs: [0, 1]) { ctx, ins, y, g, need throws(ExecutionError) in
                         let (a, b) = try operands(ctx, ins)
                         let ga = need[0] ? reduced(try Broadcast.apply(g, b, ctx: ctx, /), y, to: a) : nil
                         var gb: NDArray? = nil
                         if need[1] { // d(a/b)/db = -y/b
                             let yb = try Broadcast.apply(y, b, ctx: ctx, /)
                             gb = reduced(try Broadcast.apply(g, yb, ctx: ctx) { -$0 * $1 }, y, to: b)
                         }
                         return [ga, gb]
                     }),
        OpDefinition("Pow", traits: .elementwise,
                     forward: { ctx, ins throws(ExecutionError) in
                         let (a, b) = try operands(ctx, ins)
                         return [try Broadcast.apply(a, b, ctx: ctx) { Foundation.pow($0, $1) }]
                     },
                     gradient: .init(inputs: [0, 1]) { ctx, ins, y, g, need throws(ExecutionError) in
                         let (a, b) = try operands(ctx, ins)
                         var ga: NDArray? = nil, gb: NDArray? = nil
                         if need[0] { // b · a^(b-1)
                             let d = try Broadcast.apply(a, b, ctx: ctx) { $1 * Foundation.pow($0, $1 - 1) }
                             ga = reduced(try Broadcast.apply(g, d, ctx: ctx, *), y, to: a)
                         }
                         if need[1] { // y · ln a
                             let la = Elementwise.map(a) { Foundation.log($0) }
                             let d = try Broadcast.apply(y, la, ctx: ctx, *)
                             gb = reduced(try Broadcast.apply(g, d, ctx: ctx, *), y, to: b)
                         }
                         return [ga, gb]
                     }),
    ]

    /// Inputs 0 and 1, both required.
    static func operands(_ ctx: OpContext, _ inputs: [NDArray?]) throws(ExecutionError) -> (NDArray, NDArray) {
        (try ctx.input(inputs, 0), try ctx.input(inputs, 1))
    }

    /// `grad` (of the output `y`'s shape) summed down to the shape of input `x`.
    static func reduced(_ grad: NDArray, _ y: NDArray, to x: NDArray) -> NDArray {
        NDArray(shape: x.shape, floats: Broadcast.reduce(grad.floats, out: y.shape, to: x.shape))
    }
}

import Foundation

/// The unary elementwise ops, each one record: its forward as a scalar function and its
/// gradient as a function of the input `x`, the output `y` and the output gradient `g`.
enum Elementwise {
    /// Unary ops that channel pruning walks through.
    private static let passThrough: OpTraits = [.unary, .channelPassThrough]

    static let definitions: [OpDefinition] = [
        OpDefinition("Relu", traits: passThrough,
                     forward: { ctx, ins throws(ExecutionError) in try unary(ctx, ins) { max($0, 0) } },
                     gradient: .init(inputs: [0]) { ctx, ins, y, g, _ throws(ExecutionError) in try derivative(ctx, ins, y, g) { x, _, g in x > 0 ? g : 0 } }),
        OpDefinition("LeakyRelu", traits: passThrough,
                     forward: { ctx, ins throws(ExecutionError) in
                         let a = ctx.float("alpha", 0.01)
                         return try unary(ctx, ins) { $0 >= 0 ? $0 : a * $0 }
                     },
                     gradient: .init(inputs: [0]) { ctx, ins, y, g, _ throws(ExecutionError) in
                         let a = ctx.float("alpha", 0.01)
                         return try derivative(ctx, ins, y, g) { x, _, g in x >= 0 ? g : a * g }
                     }),
        OpDefinition("Elu", traits: passThrough,
                     forward: { ctx, ins throws(ExecutionError) in
                         let a = ctx.float("alpha", 1)
                         return try unary(ctx, ins) { $0 >= 0 ? $0 : a * (Foundation.exp($0) - 1) }
                     },
                     gradient: .init(inputs: [0]) { ctx, ins, y, g, _ throws(ExecutionError) in
                         let a = ctx.float("alpha", 1)
                         return try derivative(ctx, ins, y, g) { x, y, g in x >= 0 ? g : g * (y + a) }
                     }),
        OpDefinition("Sigmoid", traits: passThrough,
                     forward: { ctx, ins throws(ExecutionError) in try unary(ctx, ins) { sigmoid($0) } },
                     gradient: .init(inputs: [0]) { ctx, ins, y, g, _ throws(ExecutionError) in try derivative(ctx, ins, y, g) { _, y, g in g * y * (1 - y) } }),
        OpDefinition("Tanh", traits: passThrough,
                     forward: { ctx, ins throws(ExecutionError) in try unary(ctx, ins) { Foundation.tanh($0) } },
                     gradient: .init(inputs: [0]) { ctx, ins, y, g, _ throws(ExecutionError) in try derivative(ctx, ins, y, g) { _, y, g in g * (1 - y * y) } }),
        OpDefinition("Erf", traits: passThrough,
                     forward: { ctx, ins throws(ExecutionError) in try unary(ctx, ins) { Foundation.erf($0) } },
                     gradient: .init(inputs: [0]) { ctx, ins, y, g, _ throws(ExecutionError) in
                         try derivative(ctx, ins, y, g) { x, _, g in g * 1.1283791670955126 * Foundation.exp(-x * x) } // 2/√π
                     }),
        OpDefinition("Softplus", traits: passThrough,
                     forward: { ctx, ins throws(ExecutionError) in try unary(ctx, ins) { $0 > 20 ? $0 : Foundation.log1p(Foundation.exp($0)) } },
                     gradient: .init(inputs: [0]) { ctx, ins, y, g, _ throws(ExecutionError) in try derivative(ctx, ins, y, g) { x, _, g in g * sigmoid(x) } }),
        OpDefinition("Gelu", traits: .unary, forward: geluForward, gradient: .init(inputs: [0], geluBackward)),
        OpDefinition("Neg", traits: passThrough,
                     forward: { ctx, ins throws(ExecutionError) in try unary(ctx, ins) { -$0 } },
                     gradient: .init(inputs: [0]) { ctx, ins, y, g, _ throws(ExecutionError) in try derivative(ctx, ins, y, g) { _, _, g in -g } }),
        OpDefinition("Exp", traits: .unary,
                     forward: { ctx, ins throws(ExecutionError) in try unary(ctx, ins) { Foundation.exp($0) } },
                     gradient: .init(inputs: [0]) { ctx, ins, y, g, _ throws(ExecutionError) in try derivative(ctx, ins, y, g) { _, y, g in g * y } }),
        OpDefinition("Log", traits: .unary,
                     forward: { ctx, ins throws(ExecutionError) in try unary(ctx, ins) { Foundation.log($0) } },
                     gradient: .init(inputs: [0]) { ctx, ins, y, g, _ throws(ExecutionError) in try derivative(ctx, ins, y, g) { x, _, g in g / x } }),
        OpDefinition("Sqrt", traits: .unary,
                     forward: { ctx, ins throws(ExecutionError) in try unary(ctx, ins) { $0.squareRoot() } },
                     gradient: .init(inputs: [0]) { ctx, ins, y, g, _ throws(ExecutionError) in try derivative(ctx, ins, y, g) { _, y, g in g * 0.5 / y } }),
        OpDefinition("Abs", traits: passThrough,
                     forward: { ctx, ins throws(ExecutionError) in try unary(ctx, ins) { abs($0) } },
                     gradient: .init(inputs: [0]) { ctx, ins, y, g, _ throws(ExecutionError) in
                         try derivative(ctx, ins, y, g) { x, _, g in x > 0 ? g : (x < 0 ? -g : 0) }
                     }),
        OpDefinition("Clip", traits: .unary,
                     forward: { ctx, ins throws(ExecutionError) in
                         let (lo, hi) = clipBounds(ctx, ins)
                         return try unary(ctx, ins) { min(max($0, lo), hi) }
                     },
                     // the bounds (inputs 1 and 2, or attributes) are not differentiated
                     gradient: .init(inputs: [0]) { ctx, ins, y, g, _ throws(ExecutionError) in try derivative(ctx, ins, y, g) { x, y, g in y == x ? g : 0 } }),
        OpDefinition("Identity", traits: passThrough,
                     forward: { ctx, ins throws(ExecutionError) in [try ctx.input(ins, 0)] },
                     gradient: .init(inputs: [0]) { ctx, ins, _, g, _ throws(ExecutionError) in _ = try ctx.input(ins, 0); return [g] }),
        // inference: the identity; the optional mask output is all true
        OpDefinition("Dropout", traits: passThrough,
                     forward: { ctx, ins throws(ExecutionError) in
                         let x = try ctx.input(ins, 0)
                         let mask = NDArray(shape: x.shape, ints: [Int64](repeating: 1, count: x.count), kind: .bool)
                         return ctx.node.outputs.count > 1 ? [x, mask] : [x]
                     },
                     gradient: .init(inputs: [0]) { ctx, ins, _, g, _ throws(ExecutionError) in _ = try ctx.input(ins, 0); return [g] }),
    ]

    static func map(_ x: NDArray, _ f: (Float) -> Float) -> NDArray {
        NDArray(shape: x.shape, floats: x.floats.map(f))
    }

    /// `f` applied to each value of float input 0.
    @inline(__always)
    static func unary(_ ctx: OpContext, _ inputs: [NDArray?], _ f: (Float) -> Float) throws(ExecutionError) -> [NDArray] {
        let x = try ctx.input(inputs, 0)
        guard x.isFloat else { throw ctx.mismatch("input must be a float tensor") }
        return [map(x, f)]
    }

    /// The gradient of input 0, `d(x, y, g)` per element from input `x`, output `y` and output gradient `g`.
    @inline(__always)
    static func derivative(_ ctx: OpContext, _ inputs: [NDArray?], _ y: NDArray, _ g: NDArray,
                           _ d: (Float, Float, Float) -> Float) throws(ExecutionError) -> [NDArray?] {
        let x = try ctx.input(inputs, 0)
        var dx = [Float](repeating: 0, count: x.count)
        let xv = x.floats, yv = y.floats, gv = g.floats
        for i in 0..<dx.count { dx[i] = d(xv[i], yv[i], gv[i]) }
        return [NDArray(shape: x.shape, floats: dx)]
    }

    @inline(__always) static func sigmoid(_ v: Float) -> Float {
        v >= 0 ? 1 / (1 + Foundation.exp(-v)) : Foundation.exp(v) / (1 + Foundation.exp(v))
    }

    static func clipBounds(_ ctx: OpContext, _ inputs: [NDArray?]) -> (Float, Float) {
        if ctx.opset < 11 {
            return (ctx.float("min", -.greatestFiniteMagnitude), ctx.float("max", .greatestFiniteMagnitude))
        }
        let lo = inputs.count > 1 ? inputs[1]?.asFloats.first : nil
        let hi = inputs.count > 2 ? inputs[2]?.asFloats.first : nil
        return (lo ?? -.greatestFiniteMagnitude, hi ?? .greatestFiniteMagnitude)
    }

    // MARK: Gelu (exact, or the tanh approximation)

    static func geluForward(_ ctx: OpContext, _ inputs: [NDArray?]) throws(ExecutionError) -> [NDArray] {
        if ctx.string("approximate", "none") == "tanh" {
            return try unary(ctx, inputs) { v in
                let u = 0.7978845608028654 * (v + 0.044715 * v * v * v)
                return 0.5 * v * (1 + Float(Foundation.tanh(Double(u))))
            }
        }
        return try unary(ctx, inputs) { v in Float(0.5 * Double(v) * (1 + Foundation.erf(Double(v) / 2.0.squareRoot()))) }
    }

    static func geluBackward(_ ctx: OpContext, _ inputs: [NDArray?], _ y: NDArray, _ g: NDArray,
                             _ need: [Bool]) throws(ExecutionError) -> [NDArray?] {
        if ctx.string("approximate", "none") == "tanh" {
            return try derivative(ctx, inputs, y, g) { x, _, g in
                let v = Double(x)
                let u = 0.7978845608028654 * (v + 0.044715 * v * v * v)
                let t = Foundation.tanh(u)
                let du = 0.7978845608028654 * (1 + 3 * 0.044715 * v * v)
                return g * Float(0.5 * (1 + t) + 0.5 * v * (1 - t * t) * du)
            }
        }
        return try derivative(ctx, inputs, y, g) { x, _, g in
            let v = Double(x)
            let cdf = 0.5 * (1 + Foundation.erf(v / 2.0.squareRoot()))
            let pdf = Foundation.exp(-0.5 * v * v) / (2 * Double.pi).squareRoot()
            return g * Float(cdf + v * pdf)
        }
    }
}

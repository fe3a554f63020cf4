import Foundation

/// More unary elementwise ops: Reciprocal, Sin, Cos, the activations HardSigmoid, HardSwish,
/// Selu, Softsign (with gradients), Floor, Ceil, Round (half to even) and Sign (piecewise
/// constant: no gradient), and PRelu with its broadcast slope.
enum Activations {
    /// Unary ops that channel pruning walks through (as it did when they were only recognised).
    private static let passThrough: OpTraits = [.unary, .channelPassThrough]

    static let definitions: [OpDefinition] = [
        unary("Reciprocal", { 1 / $0 }, { _, y, g, _ in -g * y * y }),
        unary("Sin", { Foundation.sin($0) }, { x, _, g, _ in g * Foundation.cos(x) }),
        unary("Cos", { Foundation.cos($0) }, { x, _, g, _ in -g * Foundation.sin(x) }),
        OpDefinition("HardSigmoid", traits: passThrough,
                     forward: { ctx, ins throws(ExecutionError) in
                         let a = ctx.float("alpha", 0.2), b = ctx.float("beta", 0.5)
                         return try Elementwise.unary(ctx, ins) { max(0, min(1, a * $0 + b)) }
                     },
                     gradient: .init(inputs: [0]) { ctx, ins, y, g, _ throws(ExecutionError) in
                         let a = ctx.float("alpha", 0.2), b = ctx.float("beta", 0.5)
                         return try Elementwise.derivative(ctx, ins, y, g) { x, _, g in
                             let v = a * x + b
                             return v > 0 && v < 1 ? g * a : 0
                         }
                     }),
        OpDefinition("HardSwish", traits: passThrough,
                     forward: { ctx, ins throws(ExecutionError) in try Elementwise.unary(ctx, ins) { $0 * max(0, min(1, $0 / 6 + 0.5)) } },
                     gradient: .init(inputs: [0]) { ctx, ins, y, g, _ throws(ExecutionError) in
                         try Elementwise.derivative(ctx, ins, y, g) { x, _, g in x <= -3 ? 0 : (x >= 3 ? g : g * (x / 3 + 0.5)) }
                     }),
        OpDefinition("Selu", traits: passThrough,
                     forward: { ctx, ins throws(ExecutionError) in
                         let a = ctx.float("alpha", 1.67326319217681884765625), s = ctx.float("gamma", 1.05070102214813232421875)
                         return try Elementwise.unary(ctx, ins) { $0 > 0 ? s * $0 : s * (a * Foundation.exp($0) - a) }
                     },
                     gradient: .init(inputs: [0]) { ctx, ins, y, g, _ throws(ExecutionError) in
                         let a = ctx.float("alpha", 1.67326319217681884765625), s = ctx.float("gamma", 1.05070102214813232421875)
                         return try Elementwise.derivative(ctx, ins, y, g) { x, _, g in x > 0 ? g * s : g * s * a * Foundation.exp(x) }
                     }),
        OpDefinition("Softsign", traits: passThrough,
                     forward: { ctx, ins throws(ExecutionError) in try Elementwise.unary(ctx, ins) { $0 / (1 + abs($0)) } },
                     gradient: .init(inputs: [0]) { ctx, ins, y, g, _ throws(ExecutionError) in
                         try Elementwise.derivative(ctx, ins, y, g) { x, _, g in g / ((1 + abs(x)) * (1 + abs(x))) }
                     }),
        constant("Floor") { $0.rounded(.down) },
        constant("Ceil") { $0.rounded(.up) },
        constant("Round") { $0.rounded(.toNearestOrEven) },
        constant("Sign") { $0 > 0 ? 1 : ($0 < 0 ? -1 : 0) },
        OpDefinition("PRelu", traits: .elementwise,
                     forward: { ctx, ins throws(ExecutionError) in
                         let x = try ctx.floatInput(ins, 0), s = try ctx.floatInput(ins, 1)
                         return [try Broadcast.apply(x, s, ctx: ctx) { $0 < 0 ? $0 * $1 : $0 }]
                     },
                     gradient: .init(inputs: [0, 1]) { ctx, ins, y, g, need throws(ExecutionError) in
                         let x = try ctx.floatInput(ins, 0), s = try ctx.floatInput(ins, 1)
                         let dx = need[0] ? try Broadcast.apply(x, s, ctx: ctx) { $0 < 0 ? $1 : 1 } : nil
                         let ds = need[1] ? try Broadcast.apply(x, s, ctx: ctx) { x, _ in x < 0 ? x : 0 } : nil
                         return [try dx.map { d throws(ExecutionError) in Arithmetic.reduced(try Broadcast.apply(d, g, ctx: ctx, *), y, to: x) },
                                 try ds.map { d throws(ExecutionError) in Arithmetic.reduced(try Broadcast.apply(d, g, ctx: ctx, *), y, to: s) }]
                     }),
    ]

    /// A differentiable unary op: `f`, and the gradient from input, output and output gradient.
    static func unary(_ name: String, _ f: @escaping @Sendable (Float) -> Float,
                      _ d: @escaping @Sendable (Float, Float, Float, Void) -> Float) -> OpDefinition {
        OpDefinition(name, traits: .unary,
                     forward: { ctx, ins throws(ExecutionError) in try Elementwise.unary(ctx, ins, f) },
                     gradient: .init(inputs: [0]) { ctx, ins, y, g, _ throws(ExecutionError) in
                         try Elementwise.derivative(ctx, ins, y, g) { x, y, g in d(x, y, g, ()) }
                     })
    }

    /// A piecewise-constant unary op (no gradient flows).
    static func constant(_ name: String, _ f: @escaping @Sendable (Float) -> Float) -> OpDefinition {
        OpDefinition(name, traits: .unary, forward: { ctx, ins throws(ExecutionError) in try Elementwise.unary(ctx, ins, f) })
    }
}

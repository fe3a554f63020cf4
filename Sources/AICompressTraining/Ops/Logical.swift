/// Comparisons and boolean logic (Equal, Less, Greater and their OrEqual forms, Not, And, Or,
/// Xor, IsNaN, IsInf) giving bool tensors, and Where, which selects between two tensors by one
/// (its gradient flows to the selected side). Integers compare exactly, never through Float.
enum Logical {
    static let definitions: [OpDefinition] = [
        compare("Equal", { $0 == $1 }, { $0 == $1 }),
        compare("Less", { $0 < $1 }, { $0 < $1 }),
        compare("LessOrEqual", { $0 <= $1 }, { $0 <= $1 }),
        compare("Greater", { $0 > $1 }, { $0 > $1 }),
        compare("GreaterOrEqual", { $0 >= $1 }, { $0 >= $1 }),
        logic("And") { $0 && $1 },
        logic("Or") { $0 || $1 },
        logic("Xor") { $0 != $1 },
        OpDefinition("Not", traits: .unary, forward: { ctx, ins throws(ExecutionError) in
            let x = try ctx.input(ins, 0)
            guard x.kind == .bool else { throw ctx.mismatch("input must be a bool tensor") }
            return [NDArray(shape: x.shape, ints: x.ints.map { 1 - $0 }, kind: .bool)]
        }),
        OpDefinition("IsNaN", traits: .shapePreserving, forward: { ctx, ins throws(ExecutionError) in
            let x = try ctx.floatInput(ins, 0)
            return [NDArray(shape: x.shape, ints: x.floats.map { $0.isNaN ? 1 : 0 }, kind: .bool)]
        }),
        OpDefinition("IsInf", traits: .shapePreserving, forward: { ctx, ins throws(ExecutionError) in
            let x = try ctx.floatInput(ins, 0)
            let pos = ctx.int("detect_positive", 1) != 0, neg = ctx.int("detect_negative", 1) != 0
            return [NDArray(shape: x.shape, ints: x.floats.map { $0.isInfinite && ($0 > 0 ? pos : neg) ? 1 : 0 }, kind: .bool)]
        }),
        OpDefinition("Where", traits: .elementwise,
                     forward: { ctx, ins throws(ExecutionError) in [try whereForward(ctx, ins)] },
                     gradient: .init(inputs: [1, 2]) { ctx, ins, y, g, need throws(ExecutionError) in
                         let c = try ctx.input(ins, 0), x = try ctx.input(ins, 1), z = try ctx.input(ins, 2)
                         let pick = Broadcast.sourceIndices(c.shape, to: y.shape).map { c.ints[$0] != 0 }
                         func side(_ t: NDArray, _ taken: Bool) -> NDArray {
                             var gs = g.floats
                             for i in gs.indices where pick[i] != taken { gs[i] = 0 }
                             return NDArray(shape: t.shape, floats: Broadcast.reduce(gs, out: y.shape, to: t.shape))
                         }
                         return [nil, need[1] ? side(x, true) : nil, need[2] ? side(z, false) : nil]
                     }),
    ]

    /// A comparison: exact on two integer tensors, in Float otherwise.
    static func compare(_ name: String, _ fi: @escaping @Sendable (Int64, Int64) -> Bool,
                        _ ff: @escaping @Sendable (Float, Float) -> Bool) -> OpDefinition {
        OpDefinition(name, traits: .elementwise, forward: { ctx, ins throws(ExecutionError) in
            let a = try ctx.input(ins, 0), b = try ctx.input(ins, 1)
            if !a.isFloat && !b.isFloat {
                let (shape, v) = try Broadcast.map2(a, b, ctx: ctx, read: \.ints) { fi($0, $1) ? Int64(1) : 0 }
                return [NDArray(shape: shape, ints: v, kind: .bool)]
            }
            let (shape, v) = try Broadcast.map2(a, b, ctx: ctx, read: \.asFloats) { ff($0, $1) ? Int64(1) : 0 }
            return [NDArray(shape: shape, ints: v, kind: .bool)]
        })
    }

    /// A binary boolean op on bool tensors.
    static func logic(_ name: String, _ f: @escaping @Sendable (Bool, Bool) -> Bool) -> OpDefinition {
        OpDefinition(name, traits: .elementwise, forward: { ctx, ins throws(ExecutionError) in
            let a = try ctx.input(ins, 0), b = try ctx.input(ins, 1)
            guard a.kind == .bool, b.kind == .bool else { throw ctx.mismatch("inputs must be bool tensors") }
            let (shape, v) = try Broadcast.map2(a, b, ctx: ctx, read: \.ints) { f($0 != 0, $1 != 0) ? Int64(1) : 0 }
            return [NDArray(shape: shape, ints: v, kind: .bool)]
        })
    }

    static func whereForward(_ ctx: OpContext, _ inputs: [NDArray?]) throws(ExecutionError) -> NDArray {
        let c = try ctx.input(inputs, 0), x = try ctx.input(inputs, 1), z = try ctx.input(inputs, 2)
        guard !c.isFloat else { throw ctx.mismatch("condition must be a bool tensor") }
        guard x.isFloat == z.isFloat else { throw ctx.mismatch("X and Y must have one element type") }
        let out = try Broadcast.shape(of: [c.shape, x.shape, z.shape], ctx: ctx)
        let ci = Broadcast.sourceIndices(c.shape, to: out), xi = Broadcast.sourceIndices(x.shape, to: out)
        let zi = Broadcast.sourceIndices(z.shape, to: out)
        if x.isFloat {
            return NDArray(shape: out, floats: (0..<ci.count).map { c.ints[ci[$0]] != 0 ? x.floats[xi[$0]] : z.floats[zi[$0]] })
        }
        return NDArray(shape: out, ints: (0..<ci.count).map { c.ints[ci[$0]] != 0 ? x.ints[xi[$0]] : z.ints[zi[$0]] }, kind: x.kind)
    }
}

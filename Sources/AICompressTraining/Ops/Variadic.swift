/// The variadic elementwise ops Sum, Mean, Max and Min: any number of inputs broadcast
/// together (Max and Min on int64 too). Gradients reach every input (Max and Min: the inputs
/// equal to the result).
enum Variadic {
    static let definitions: [OpDefinition] = [
        op("Sum", +, { $0 &+ $1 }, mean: false),
        op("Mean", +, nil, mean: true),
        op("Max", { max($0, $1) }, { max($0, $1) }, mean: false, selects: true),
        op("Min", { min($0, $1) }, { min($0, $1) }, mean: false, selects: true),
    ]

    static func op(_ name: String, _ f: @escaping @Sendable (Float, Float) -> Float, _ fi: (@Sendable (Int64, Int64) -> Int64)?,
                   mean: Bool, selects: Bool = false) -> OpDefinition {
        OpDefinition(name, traits: .elementwise,
                     forward: { ctx, ins throws(ExecutionError) in
                         let parts = try Structural.parts(ctx, ins)
                         guard var acc = parts.first else { throw ctx.mismatch("no inputs") }
                         if parts.allSatisfy({ !$0.isFloat }), let fi {
                             for p in parts.dropFirst() { acc = try Broadcast.applyInt(acc, p, ctx: ctx, fi) }
                             return [acc]
                         }
                         acc = NDArray(shape: acc.shape, floats: acc.asFloats)
                         for p in parts.dropFirst() { acc = try Broadcast.apply(acc, p, ctx: ctx, f) }
                         if mean { let n = Float(parts.count); acc.floats = acc.floats.map { $0 / n } }
                         return [acc]
                     },
                     gradient: .init(inputs: .all) { ctx, ins, y, g, need throws(ExecutionError) in
                         let parts = try Structural.parts(ctx, ins)
                         var out = [NDArray?]()
                         for (i, p) in parts.enumerated() {
                             guard i < need.count, need[i] else { out.append(nil); continue }
                             var gs = g.floats
                             if mean { for k in gs.indices { gs[k] /= Float(parts.count) } }
                             if selects {
                                 let src = Broadcast.sourceIndices(p.shape, to: y.shape)
                                 for k in gs.indices where p.floats[src[k]] != y.floats[k] { gs[k] = 0 }
                             }
                             out.append(NDArray(shape: p.shape, floats: Broadcast.reduce(gs, out: y.shape, to: p.shape)))
                         }
                         return out
                     })
    }
}

/// Einsum for the patterns transformers use: two operands whose letters are batch axes (in both
/// operands and the output), contracted axes (in both, not the output) and free axes (in one
/// operand and the output), e.g. `bij,bjk->bik`, `bhid,bhjd->bhij`, `bhij,bhjd->bhid`; and one
/// operand permuted (`bij->bji`). Computed as a batched matrix product through BLAS after
/// transposing each operand to [batch, free, contracted]. Anything else (ellipses, repeated
/// letters, an axis summed in one operand, three operands) is refused with its equation.
enum Einsum {
    static let definitions: [OpDefinition] = [
        OpDefinition("Einsum",
                     forward: { ctx, ins throws(ExecutionError) in [try forward(ctx, ins)] },
                     gradient: .init(inputs: .all) { ctx, ins, _, g, need throws(ExecutionError) in try backward(ctx, ins, g: g, need: need) }),
    ]

    /// The equation split into operand letters and output letters.
    struct Plan {
        var operands: [[Character]]
        var output: [Character]
        var batch: [Character] = [], aFree: [Character] = [], bFree: [Character] = [], contracted: [Character] = []
    }

    static func plan(_ ctx: OpContext, _ inputs: [NDArray?]) throws(ExecutionError) -> Plan {
        let eq = ctx.string("equation", "").filter { $0 != " " }
        func refuse(_ why: String) -> ExecutionError { ctx.unsupported("equation '\(eq)': \(why)") }
        guard let arrow = eq.range(of: "->") else { throw refuse("only equations with an explicit output (->) are supported") }
        let ops = eq[..<arrow.lowerBound].split(separator: ",", omittingEmptySubsequences: false).map { Array($0) }
        let out = Array(eq[arrow.upperBound...])
        guard !eq.contains(".") else { throw refuse("ellipses are not supported") }
        guard ops.count == inputs.count, (1...2).contains(ops.count) else { throw refuse("only one or two operands are supported") }
        for (i, o) in ops.enumerated() {
            guard Set(o).count == o.count, Set(out).count == out.count else { throw refuse("a letter repeats within one operand (a diagonal)") }
            guard o.allSatisfy(\.isLetter), let x = inputs[i], x.rank == o.count else {
                throw refuse("operand \(i) has rank \(inputs[i]?.rank ?? 0), the equation gives it \(o.count) letters")
            }
        }
        var p = Plan(operands: ops, output: out)
        if ops.count == 1 {
            guard Set(ops[0]) == Set(out) else { throw refuse("one operand must be permuted, not reduced") }
            return p
        }
        let a = Set(ops[0]), b = Set(ops[1]), o = Set(out)
        guard o.isSubset(of: a.union(b)) else { throw refuse("an output letter appears in no operand") }
        for c in a.union(b) where !o.contains(c) && !(a.contains(c) && b.contains(c)) {
            throw refuse("letter '\(c)' is summed within one operand")
        }
        p.batch = out.filter { a.contains($0) && b.contains($0) }
        p.aFree = out.filter { a.contains($0) && !b.contains($0) }
        p.bFree = out.filter { b.contains($0) && !a.contains($0) }
        p.contracted = ops[0].filter { b.contains($0) && !o.contains($0) }
        return p
    }

    /// Size of each letter, checked to agree between the operands.
    static func sizes(_ ctx: OpContext, _ p: Plan, _ xs: [NDArray]) throws(ExecutionError) -> [Character: Int] {
        var s: [Character: Int] = [:]
        for (o, x) in zip(p.operands, xs) {
            for (c, d) in zip(o, x.shape) {
                if let known = s[c], known != d { throw ctx.mismatch("letter '\(c)' has sizes \(known) and \(d)") }
                s[c] = d
            }
        }
        return s
    }

    /// `x` (with axes `from`) transposed to the axis order `to`.
    static func permuted(_ x: NDArray, _ from: [Character], _ to: [Character]) -> NDArray {
        let perm = to.map { c in from.firstIndex(of: c) ?? 0 }
        return perm == Array(0..<perm.count) ? x : Structural.transpose(x, perm: perm)
    }

    static func forward(_ ctx: OpContext, _ inputs: [NDArray?]) throws(ExecutionError) -> NDArray {
        let p = try plan(ctx, inputs)
        let xs = try Structural.parts(ctx, inputs)
        guard xs.allSatisfy(\.isFloat) else { throw ctx.mismatch("operands must be float tensors") }
        let s = try sizes(ctx, p, xs)
        if xs.count == 1 { return permuted(xs[0], p.operands[0], p.output) }
        let size = { (cs: [Character]) in cs.reduce(1) { $0 * (s[$1] ?? 1) } }
        let batch = size(p.batch), m = size(p.aFree), n = size(p.bFree), k = size(p.contracted)
        try ctx.checkSize([batch, m, n])
        let a = permuted(xs[0], p.operands[0], p.batch + p.aFree + p.contracted)
        let b = permuted(xs[1], p.operands[1], p.batch + p.contracted + p.bFree)
        let y = batched(a.floats, b.floats, batch: batch, m: m, n: n, k: k, transA: false, transB: false)
        let shape = (p.batch + p.aFree + p.bFree).map { s[$0] ?? 1 }
        return permuted(NDArray(shape: shape, floats: y), p.batch + p.aFree + p.bFree, p.output)
    }

    static func backward(_ ctx: OpContext, _ inputs: [NDArray?], g: NDArray, need: [Bool]) throws(ExecutionError) -> [NDArray?] {
        let p = try plan(ctx, inputs)
        let xs = try Structural.parts(ctx, inputs)
        let s = try sizes(ctx, p, xs)
        if xs.count == 1 { return [permuted(g, p.output, p.operands[0])] }
        let size = { (cs: [Character]) in cs.reduce(1) { $0 * (s[$1] ?? 1) } }
        let batch = size(p.batch), m = size(p.aFree), n = size(p.bFree), k = size(p.contracted)
        let a = permuted(xs[0], p.operands[0], p.batch + p.aFree + p.contracted)
        let b = permuted(xs[1], p.operands[1], p.batch + p.contracted + p.bFree)
        let gy = permuted(g, p.output, p.batch + p.aFree + p.bFree)
        var out: [NDArray?] = [nil, nil]
        if need[0] {  // dA[m,k] = G[m,n] · B[k,n]ᵀ
            let da = batched(gy.floats, b.floats, batch: batch, m: m, n: k, k: n, transA: false, transB: true)
            let order = p.batch + p.aFree + p.contracted
            out[0] = permuted(NDArray(shape: order.map { s[$0] ?? 1 }, floats: da), order, p.operands[0])
        }
        if need.count > 1, need[1] {  // dB[k,n] = A[m,k]ᵀ · G[m,n]
            let db = batched(a.floats, gy.floats, batch: batch, m: k, n: n, k: m, transA: true, transB: false)
            let order = p.batch + p.contracted + p.bFree
            out[1] = permuted(NDArray(shape: order.map { s[$0] ?? 1 }, floats: db), order, p.operands[1])
        }
        return out
    }

    /// `batch` products op(A_i)[m×k] · op(B_i)[k×n] of contiguous matrices.
    static func batched(_ a: [Float], _ b: [Float], batch: Int, m: Int, n: Int, k: Int, transA: Bool, transB: Bool) -> [Float] {
        var y = [Float](repeating: 0, count: batch * m * n)
        guard batch > 0, m > 0, n > 0, k > 0 else { return y }
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                y.withUnsafeMutableBufferPointer { py in
                    for i in 0..<batch {
                        BLAS.gemm(transA: transA, transB: transB, m: m, n: n, k: k, pa.baseAddress! + i * m * k,
                                  pb.baseAddress! + i * k * n, py.baseAddress! + i * m * n)
                    }
                }
            }
        }
        return y
    }
}

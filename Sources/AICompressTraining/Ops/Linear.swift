/// Gemm and MatMul through BLAS, with their gradients.
enum Linear {
    static let definitions: [OpDefinition] = [
        OpDefinition("Gemm", traits: .prunableLayer,
                     forward: { ctx, ins throws(ExecutionError) in [try gemm(ctx, ins)] },
                     gradient: .init(inputs: [0, 1, 2]) { ctx, ins, _, g, need throws(ExecutionError) in try gemmBackward(ctx, ins, g: g, need: need) }),
        OpDefinition("MatMul", traits: .prunableLayer,
                     forward: { ctx, ins throws(ExecutionError) in [try matmul(ctx, ins)] },
                     gradient: .init(inputs: [0, 1]) { ctx, ins, _, g, need throws(ExecutionError) in try matmulBackward(ctx, ins, g: g, need: need) }),
    ]

    // MARK: Gemm

    struct GemmShape {
        var m: Int, n: Int, k: Int
        var transA: Bool, transB: Bool
        var alpha: Float, beta: Float
    }

    static func gemmShape(_ ctx: OpContext, _ a: NDArray, _ b: NDArray) throws(ExecutionError) -> GemmShape {
        guard a.rank == 2, b.rank == 2 else {
            throw ctx.mismatch("Gemm needs 2-D inputs, got \(a.shape) and \(b.shape)")
        }
        let tA = ctx.int("transA", 0) != 0, tB = ctx.int("transB", 0) != 0
        let m = tA ? a.shape[1] : a.shape[0], k = tA ? a.shape[0] : a.shape[1]
        let kb = tB ? b.shape[1] : b.shape[0], n = tB ? b.shape[0] : b.shape[1]
        guard k == kb else {
            throw ctx.mismatch("inner dimensions differ: A \(a.shape)\(tA ? "ᵀ" : "") and B \(b.shape)\(tB ? "ᵀ" : "")")
        }
        try ctx.checkSize([m, n])
        return GemmShape(m: m, n: n, k: k, transA: tA, transB: tB, alpha: ctx.float("alpha", 1), beta: ctx.float("beta", 1))
    }

    static func gemm(_ ctx: OpContext, _ inputs: [NDArray?]) throws(ExecutionError) -> NDArray {
        let a = try ctx.floatInput(inputs, 0), b = try ctx.floatInput(inputs, 1)
        let s = try gemmShape(ctx, a, b)
        var y = [Float](repeating: 0, count: s.m * s.n)
        var beta: Float = 0
        if inputs.count > 2, let c = inputs[2], s.beta != 0 {
            guard c.isFloat, let bs = Broadcast.shape([s.m, s.n], c.shape), bs == [s.m, s.n] else {
                throw ctx.mismatch("C \(c.shape) does not broadcast to [\(s.m), \(s.n)]")
            }
            // y = broadcast(C); the product is then accumulated onto it with beta folded in
            y = try Broadcast.apply(NDArray.zeros([s.m, s.n]), c, ctx: ctx, +).floats
            beta = 1
            if s.beta != 1 { for i in 0..<y.count { y[i] *= s.beta } }
        }
        BLAS.gemm(transA: s.transA, transB: s.transB, m: s.m, n: s.n, k: s.k, alpha: s.alpha, a.floats, b.floats,
                  beta: beta, into: &y)
        return NDArray(shape: [s.m, s.n], floats: y)
    }

    static func gemmBackward(_ ctx: OpContext, _ inputs: [NDArray?], g: NDArray,
                             need: [Bool]) throws(ExecutionError) -> [NDArray?] {
        let a = try ctx.floatInput(inputs, 0), b = try ctx.floatInput(inputs, 1)
        let s = try gemmShape(ctx, a, b)
        var out: [NDArray?] = [nil, nil, nil]
        if need[0] {
            var da = [Float](repeating: 0, count: a.count)
            if !s.transA { // dA[m,k] = alpha G · op(B)ᵀ
                BLAS.gemm(transA: false, transB: !s.transB, m: s.m, n: s.k, k: s.n, alpha: s.alpha, g.floats, b.floats, into: &da)
            } else {       // dA[k,m] = alpha op(B) · Gᵀ
                BLAS.gemm(transA: s.transB, transB: true, m: s.k, n: s.m, k: s.n, alpha: s.alpha, b.floats, g.floats, into: &da)
            }
            out[0] = NDArray(shape: a.shape, floats: da)
        }
        if need[1] {
            var db = [Float](repeating: 0, count: b.count)
            if !s.transB { // dB[k,n] = alpha op(A)ᵀ · G
                BLAS.gemm(transA: !s.transA, transB: false, m: s.k, n: s.n, k: s.m, alpha: s.alpha, a.floats, g.floats, into: &db)
            } else {       // dB[n,k] = alpha Gᵀ · op(A)
                BLAS.gemm(transA: true, transB: s.transA, m: s.n, n: s.k, k: s.m, alpha: s.alpha, g.floats, a.floats, into: &db)
            }
            out[1] = NDArray(shape: b.shape, floats: db)
        }
        if need.count > 2, need[2], inputs.count > 2, let c = inputs[2] {
            var dc = Broadcast.reduce(g.floats, out: [s.m, s.n], to: c.shape)
            if s.beta != 1 { for i in 0..<dc.count { dc[i] *= s.beta } }
            out[2] = NDArray(shape: c.shape, floats: dc)
        }
        return out
    }

    // MARK: MatMul

    /// MatMul as a batch of products: for output matrix i, A's matrix `aIndex[i]` times B's
    /// matrix `bIndex[i]` (NumPy batch broadcasting).
    struct MatMulPlan {
        var m: Int, n: Int, k: Int
        var aIndex: [Int], bIndex: [Int]
        var outShape: [Int]
        var batch: Int { aIndex.count }
        /// Whether several outputs read the same A (or B) matrix, so gradients accumulate.
        var aShared: Bool, bShared: Bool
    }

    static func matmulPlan(_ ctx: OpContext, _ a: NDArray, _ b: NDArray) throws(ExecutionError) -> MatMulPlan {
        guard a.rank >= 1, b.rank >= 1 else { throw ctx.mismatch("MatMul of scalars") }
        let sa = a.rank == 1 ? [1] + a.shape : a.shape
        let sb = b.rank == 1 ? b.shape + [1] : b.shape
        var m = sa[sa.count - 2]
        let k = sa[sa.count - 1], kb = sb[sb.count - 2], n = sb[sb.count - 1]
        guard k == kb else { throw ctx.mismatch("inner dimensions differ: \(a.shape) · \(b.shape)") }
        let batchA = Array(sa.dropLast(2)), batchB = Array(sb.dropLast(2))
        guard let outBatch = Broadcast.shape(batchA, batchB) else {
            throw ctx.mismatch("batch dimensions \(batchA) and \(batchB) do not broadcast")
        }
        var out = outBatch + [m, n]
        if a.rank == 1 { out.remove(at: out.count - 2) }
        if b.rank == 1 { out.removeLast() }
        try ctx.checkSize(out)
        var aIndex: [Int], bIndex: [Int]
        if batchB.reduce(1, *) == 1 && batchB.count <= batchA.count {
            // B is one matrix: fold A's batch into its rows (one GEMM)
            m *= batchA.reduce(1, *)
            aIndex = [0]
            bIndex = [0]
        } else {
            let total = outBatch.reduce(1, *)
            aIndex = [Int](repeating: 0, count: total)
            bIndex = [Int](repeating: 0, count: total)
            var i = 0
            Broadcast.forEachRun(out: outBatch, a: batchA, b: batchB) { _, ia, ib, len, da, db in
                for j in 0..<len { aIndex[i] = ia + j * da; bIndex[i] = ib + j * db; i += 1 }
            }
        }
        return MatMulPlan(m: m, n: n, k: k, aIndex: aIndex, bIndex: bIndex, outShape: out,
                          aShared: Set(aIndex).count < aIndex.count, bShared: Set(bIndex).count < bIndex.count)
    }

    static func matmul(_ ctx: OpContext, _ inputs: [NDArray?]) throws(ExecutionError) -> NDArray {
        let a = try ctx.floatInput(inputs, 0), b = try ctx.floatInput(inputs, 1)
        let p = try matmulPlan(ctx, a, b)
        var y = [Float](repeating: 0, count: p.batch * p.m * p.n)
        if y.isEmpty || a.count == 0 || b.count == 0 { return NDArray(shape: p.outShape, floats: y) }
        a.floats.withUnsafeBufferPointer { pa in
            b.floats.withUnsafeBufferPointer { pb in
                y.withUnsafeMutableBufferPointer { py in
                    for i in 0..<p.batch {
                        BLAS.gemm(transA: false, transB: false, m: p.m, n: p.n, k: p.k,
                                  pa.baseAddress! + p.aIndex[i] * p.m * p.k,
                                  pb.baseAddress! + p.bIndex[i] * p.k * p.n,
                                  py.baseAddress! + i * p.m * p.n)
                    }
                }
            }
        }
        return NDArray(shape: p.outShape, floats: y)
    }

    static func matmulBackward(_ ctx: OpContext, _ inputs: [NDArray?], g: NDArray,
                               need: [Bool]) throws(ExecutionError) -> [NDArray?] {
        let a = try ctx.floatInput(inputs, 0), b = try ctx.floatInput(inputs, 1)
        let p = try matmulPlan(ctx, a, b)
        var da = need[0] ? [Float](repeating: 0, count: a.count) : []
        var db = need[1] ? [Float](repeating: 0, count: b.count) : []
        if g.count == 0 || a.count == 0 || b.count == 0 {
            return [need[0] ? NDArray(shape: a.shape, floats: da) : nil, need[1] ? NDArray(shape: b.shape, floats: db) : nil]
        }
        a.floats.withUnsafeBufferPointer { pa in
            b.floats.withUnsafeBufferPointer { pb in
                g.floats.withUnsafeBufferPointer { pg in
                    for i in 0..<p.batch {
                        let ao = p.aIndex[i] * p.m * p.k, bo = p.bIndex[i] * p.k * p.n
                        let go = i * p.m * p.n
                        if need[0] { // dA[m,k] (+)= G · Bᵀ
                            da.withUnsafeMutableBufferPointer { pd in
                                BLAS.gemm(transA: false, transB: true, m: p.m, n: p.k, k: p.n,
                                          pg.baseAddress! + go, pb.baseAddress! + bo, beta: p.aShared ? 1 : 0,
                                          pd.baseAddress! + ao)
                            }
                        }
                        if need[1] { // dB[k,n] (+)= Aᵀ · G
                            db.withUnsafeMutableBufferPointer { pd in
                                BLAS.gemm(transA: true, transB: false, m: p.k, n: p.n, k: p.m,
                                          pa.baseAddress! + ao, pg.baseAddress! + go, beta: p.bShared ? 1 : 0,
                                          pd.baseAddress! + bo)
                            }
                        }
                    }
                }
            }
        }
        return [need[0] ? NDArray(shape: a.shape, floats: da) : nil, need[1] ? NDArray(shape: b.shape, floats: db) : nil]
    }
}

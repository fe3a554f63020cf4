import AICompressCore

extension Prune {
    /// N:M semi-structured sparsity: the `n` largest of every `m` consecutive weights along the
    /// reduction axis survive.
    struct NMTransform: TensorTransform {
        let selected: Set<String>
        let roles: [String: WeightRole]
        let n: Int, m: Int
        /// The dedicated writer's kernel (`NMKernel`); all give the same bytes.
        var kernel: PruneKernel = .fastest

        func transform(_ t: Tensor) throws -> (Tensor, TensorReport?) {
            guard selected.contains(t.name) else { return (t, nil) }
            let view = try FloatView(t)
            defer { view.release() }
            let v = view.values
            try Prune.checkFinite(t, v)
            let axis = min((roles[t.name] ?? .outputFirst).reductionAxis, t.shape.rank - 1)
            let dims = t.shape.dims
            let outer = dims[..<axis].reduce(1, *), length = dims[axis], inner = dims[(axis + 1)...].reduce(1, *)
            let scheme = "\(n):\(m) along axis \(axis)"
            if NMKernel.applies(dtype: t.dtype, count: v.count, inner: inner, length: length, n: n, m: m) {
                return try NMKernel.prune(t, v, n: n, m: m, scheme: scheme, kernel: kernel)
            }
            // The general path: any dtype, strided groups, a short last group, dense output.
            var keepMask = [Bool](repeating: false, count: v.count)
            let (n, m) = (self.n, self.m)
            keepMask.withUnsafeMutableBufferPointer { maskBuf in
                nonisolated(unsafe) let mask = maskBuf.baseAddress!
                nonisolated(unsafe) let values = v
                // Lines along the axis are independent: (outer, inner) pairs in parallel.
                let lines = outer * inner
                let pieces = max(1, min(lines, 64))
                Parallel.forEach(pieces) { p in
                    var mags = [Float](repeating: 0, count: m)
                    var taken = [Bool](repeating: false, count: m)
                    for line in (lines * p / pieces)..<(lines * (p + 1) / pieces) {
                        let o = line / inner, i = line % inner
                        var start = 0
                        while start < length {
                            let size = min(m, length - start)
                            for j in 0..<size {
                                mags[j] = abs(values[(o * length + start + j) * inner + i])
                                taken[j] = false
                            }
                            // The n largest by repeated selection (n and m are small); ties go
                            // to the lower index because only a strictly larger value replaces.
                            for _ in 0..<min(n, size) {
                                var best = -1
                                for j in 0..<size where !taken[j] && (best < 0 || mags[j] > mags[best]) { best = j }
                                taken[best] = true
                                mask[(o * length + start + best) * inner + i] = true
                            }
                            start += size
                        }
                    }
                }
            }
            return try Prune.masked(t, v, scheme: scheme, decision: .mask(keepMask))
        }
    }
}

import AICompressCore

extension CalibratedPrune {
    /// What `scope` global removes from each layer (by weight name). The layers keep
    /// round((1 − sparsity) × Σ weights) in all, shared by `SparsityAllocation` over each layer's
    /// error curve, measured on the calibration inputs of the *unpruned* model (one layer's
    /// statistics at a time); the pruning itself then runs layer by layer as with `tensor`.
    /// - Throws: `PassError.invalidParameter` for an N:M pattern; what measuring a curve throws.
    func removals(_ model: Model, layers: [CalibratedLayer], run: LayerwiseCalibration) throws -> [String: Int] {
        guard case .unstructured(let fraction) = pattern else {
            throw PassError.invalidParameter(name: "scope", value: "global",
                                             reason: "`scope` global shares an unstructured `sparsity` among the layers; `pattern` N:M fixes the share of every row")
        }
        var names: [String] = [], curves: [SparsityAllocation.Curve] = []
        try run.visit(model, layers: layers) { layer, stats, weights in
            names.append(layer.weight)
            curves.append(try curve(weights, rows: layer.outputs, statistics: sweepStatistics(stats, layer), layer: layer.weight))
        }
        let total = curves.reduce(0) { $0 + $1.weights }
        let kept = SparsityAllocation.allocate(curves, total: Int(((1 - fraction) * Double(total)).rounded()))
        return Dictionary(uniqueKeysWithValues: zip(names, zip(curves, kept).map { $0.weights - $1 }))
    }

    /// `weights` (`rows × statistics.columns`) with exactly `removing` of them pruned by the
    /// method (Wanda's per-row comparison, SparseGPT's per-block saliency and update).
    func prune(_ weights: [Float], rows: Int, statistics: LayerStatistics, removing: Int,
               layer: String) throws -> (values: [Float], keep: [Bool], loss: Double) {
        switch method {
        case .wanda:
            let keep = Wanda.mask(weights, rows: rows, norms: statistics.columnNorms, removing: removing)
            return (zip(weights, keep).map { $1 ? $0 : 0 }, keep, 0)
        case .sparsegpt:
            let r = SparseGPT(dampFraction: dampFraction).prune(weights, rows: rows, factor: try factor(statistics, layer: layer), removing: removing)
            return (r.weights, r.mask, r.loss)
        }
    }

    /// One layer's error curve at `SparsityAllocation.gridCounts`: the method's own estimate of
    /// ‖(W−Ŵ)X‖² relative to ‖WX‖². Wanda (no update): Σ over the removed weights of w²·Σx²,
    /// over the same sum for all weights (XᵀX's diagonal, which is what Wanda's score reads).
    /// SparseGPT: twice the sweep's loss Σe²/2 (= ‖(W−Ŵ)X‖² with the damped Hessian H), over
    /// Σ_rows w H wᵀ. A layer whose output is always 0 has a flat curve at 0 (it is given its
    /// weights last).
    /// - Throws: `PassError.unsupported` naming `layer` when the statistics are not finite.
    func curve(_ weights: [Float], rows: Int, statistics: LayerStatistics, layer: String) throws -> SparsityAllocation.Curve {
        let n = statistics.columns, count = weights.count
        let counts = SparsityAllocation.gridCounts(weights: count)
        var energy = 0.0
        let removed: (Int) throws -> Double
        switch method {
        case .wanda:
            let s = statistics.sumOfSquares, norms = statistics.columnNorms
            for (i, w) in weights.enumerated() { energy += Double(w) * Double(w) * s[i % n] }
            removed = { k in
                let keep = Wanda.mask(weights, rows: rows, norms: norms, removing: count - k)
                var e = 0.0
                for (i, w) in weights.enumerated() where !keep[i] { e += Double(w) * Double(w) * s[i % n] }
                return e
            }
        case .sparsegpt:
            let f = try factor(statistics, layer: layer)
            let h = HessianFactor.damped(gram: statistics.symmetricGram, columns: n, dampFraction: dampFraction).hessian
            let dead = Set(f.deadColumns)
            for r in 0..<rows {
                let w = (0..<n).map { dead.contains($0) ? 0 : Double(weights[r * n + $0]) }
                for i in 0..<n where w[i] != 0 {
                    var hw = 0.0
                    for j in 0..<n { hw += h[i * n + j] * w[j] }
                    energy += w[i] * hw
                }
            }
            let sparseGPT = SparseGPT(dampFraction: dampFraction)
            removed = { k in k == count ? 0 : 2 * sparseGPT.prune(weights, rows: rows, factor: f, removing: count - k).loss }
        }
        guard energy.isFinite else {
            throw PassError.unsupported(tensor: layer, reason: "the calibration statistics are not finite (the layer's output energy is NaN or infinite)")
        }
        let errors = try counts.map { k in energy > 0 ? try removed(k) / energy : 0 }
        guard errors.allSatisfy(\.isFinite) else {
            throw PassError.unsupported(tensor: layer, reason: "the calibration statistics are not finite (the layer's error curve is NaN or infinite)")
        }
        return SparsityAllocation.Curve(kept: counts, errors: errors)
    }

    /// SparseGPT's factor of the layer's damped Hessian.
    private func factor(_ statistics: LayerStatistics, layer: String) throws -> HessianFactor {
        guard statistics.hasGram else {
            throw PassError.unsupported(tensor: layer, reason: "SparseGPT needs the calibration Gram matrix XᵀX of the layer's input")
        }
        return try HessianFactor(gram: statistics.symmetricGram, columns: statistics.columns, dampFraction: dampFraction, layer: layer)
    }
}

import AICompressCore

extension Prune {
    /// Unstructured magnitude pruning of each selected tensor, per tensor or under one global threshold.
    struct MagnitudeTransform: TensorTransform {
        let selected: Set<String>
        let global: MagnitudeThreshold.Result?
        let tieQuota: [String: Int]
        let keep: Double
        /// Per-chunk counts from the global selection's second pass.
        let chunkCounts: [String: [(sure: Int, ties: Int)]]
        let kernel: PruneKernel

        func transform(_ t: Tensor) throws -> (Tensor, TensorReport?) {
            guard selected.contains(t.name) else { return (t, nil) }
            let view = try FloatView(t)
            defer { view.release() }
            let v = view.values
            let threshold: MagnitudeThreshold.Result
            let ties: Int
            var counts: [(sure: Int, ties: Int)]? = nil
            if let global {
                // finiteness was checked by the global selection
                threshold = global
                ties = global.keepsAllTies ? Int.max : tieQuota[t.name] ?? 0
                counts = chunkCounts[t.name]
            } else {
                let (th, c) = MagnitudeThreshold.selectCounting([v], keep: Prune.keepCount(keep, of: v.count), chunkSize: Prune.chunkSize)
                threshold = th
                if threshold.nonFinite > 0 { try Prune.checkFinite(t, v) }
                ties = threshold.tiesToKeep
                counts = c?.runs.first
            }
            let scheme = "magnitude keep \(keep)" + (global == nil ? "" : " (global)")
            return try Prune.masked(t, v, scheme: scheme, decision: .threshold(threshold, ties: ties), precounted: counts,
                                   kernel: kernel)
        }
    }
}

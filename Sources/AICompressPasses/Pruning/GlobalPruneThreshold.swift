import AICompressCore

/// The merged statistics of a sharded global pruning run (spec/sharded-runs.md §6): after round
/// 1 the critical high bin and what lies above it; after round 2 the exact threshold of
/// `MagnitudeThreshold.select` over the whole model, with each shard's ties at it, so that
/// every shard keeps the ties one process would keep (model order, then index order).
public struct GlobalPruneThreshold: Sendable, Equatable {
    /// Magic of a threshold file.
    static let magic = Array("AICPGT01".utf8)
    /// Largest element count of one shard accepted (2^46 f32 values, 256 TiB), so that the sum
    /// over 99,999 shards cannot overflow.
    static let maxShardElements = 1 << 46

    /// What the merge knows of one shard.
    public struct Shard: Sendable, Equatable {
        /// Selected tensors.
        public var tensors: Int
        /// Their elements.
        public var elements: Int
        /// Values in the critical high bin (0 when there is none).
        public var inBucket: Int
        /// Round 2: values equal to the threshold.
        public var ties: Int
    }

    /// 1 (the critical bin is known) or 2 (final).
    public var round: Int
    /// The run.
    public var run: GlobalPruneRun
    /// round(keep × selected elements): how many values the whole model keeps.
    public var keepCount: Int
    /// The critical high bin; nil when no second round is needed (keep none or all).
    public var bucket: UInt32?
    /// Values whose high bits lie above `bucket`.
    public var above: Int
    /// Per shard, K = 1…N.
    public var shards: [Shard]
    /// Round 2: the threshold as one process finds it.
    public var result: MagnitudeThreshold.Result?

    /// Selected elements over every shard.
    public var elements: Int { shards.reduce(0) { $0 + $1.elements } }

    /// The tie budget of shard `k` (1-based): what is left of `tiesToKeep` after the earlier
    /// shards kept theirs, as `Prune.prepare` hands ties out in model order.
    public func tieBudget(shard k: Int) -> Int {
        guard let result else { return 0 }
        var remaining = result.tiesToKeep
        for s in shards.prefix(k - 1) { remaining -= min(s.ties, remaining) }
        return remaining
    }

    /// Round 1 merged: sums the high-bit histograms of parts 1…N (in that order) and finds the
    /// bin where the count from the top reaches round(keep × n).
    /// - Throws: `GlobalPruneError` when the parts are not one run's round 1 (names the part),
    ///   `PassError.nothingSelected` when no shard selected anything.
    public static func merge(round1 parts: [(file: String, statistics: GlobalPruneStatistics)]) throws -> GlobalPruneThreshold {
        let run = try checkRun(parts, round: 1)
        let total = parts.reduce(0) { $0 + $1.statistics.elements }
        guard parts.contains(where: { $0.statistics.tensors > 0 }) else {
            throw PassError.nothingSelected("none of the \(run.shards) shards has a tensor that the selection takes")
        }
        let k = Prune.keepCount(run.keep, of: total)
        var bucket: UInt32? = nil, above = 0
        if k > 0 && k < total {
            var high = [Int](repeating: 0, count: GlobalPruneStatistics.bins)
            for p in parts { for (b, c) in p.statistics.histogram.enumerated() where c != 0 { high[b] += c } }
            let (bin, count) = MagnitudeThreshold.critical(high, above: 0, keep: k)
            bucket = UInt32(bin)
            above = count
        }
        let shards = parts.map { p in
            Shard(tensors: p.statistics.tensors, elements: p.statistics.elements,
                  inBucket: bucket.map { p.statistics.histogram[Int($0)] } ?? 0, ties: 0)
        }
        return GlobalPruneThreshold(round: 1, run: run, keepCount: k, bucket: bucket, above: above, shards: shards, result: nil)
    }

    /// Round 2 merged: sums the low-bit histograms of the critical bin and fixes the exact
    /// threshold, `greater`, `tiesToKeep` and each shard's ties, as `MagnitudeThreshold.select`.
    /// - Throws: `GlobalPruneError` when a part is not of this run's round 2 after `self` or its
    ///   shard now selects other tensors or other values.
    public func merged(round2 parts: [(file: String, statistics: GlobalPruneStatistics)]) throws -> GlobalPruneThreshold {
        let run = try Self.checkRun(parts, round: 2, expected: self.run)
        var shards = self.shards
        for (i, p) in parts.enumerated() {
            let s = p.statistics, was = shards[i]
            guard s.bucket == bucket else {
                throw GlobalPruneError.disagree(file: p.file, reason: "counted bin \(s.bucket.map { "\($0)" } ?? "none"), "
                                                + "the round-1 threshold names \(bucket.map { "\($0)" } ?? "none")")
            }
            guard s.tensors == was.tensors, s.elements == was.elements, s.histogram.reduce(0, +) == was.inBucket else {
                throw GlobalPruneError.inputDiffers(file: p.file, reason: "shard \(s.shard) now selects \(s.tensors) tensors of "
                    + "\(s.elements) elements (\(s.histogram.reduce(0, +)) in the bin); round 1 counted \(was.tensors) of "
                    + "\(was.elements) (\(was.inBucket))")
            }
        }
        let total = elements, k = keepCount
        let result: MagnitudeThreshold.Result
        if let bucket {
            var low = [Int](repeating: 0, count: GlobalPruneStatistics.bins)
            for p in parts { for (b, c) in p.statistics.histogram.enumerated() where c != 0 { low[b] += c } }
            let (l, greater) = MagnitudeThreshold.critical(low, above: above, keep: k)
            result = MagnitudeThreshold.Result(bits: bucket << 16 | UInt32(l), greater: greater, tiesToKeep: k - greater,
                                               keepNone: false, ties: low[l])
            for (i, p) in parts.enumerated() { shards[i].ties = p.statistics.histogram[l] }
        } else if k == 0 {
            result = MagnitudeThreshold.Result(bits: UInt32.max, greater: 0, tiesToKeep: 0, keepNone: true)
        } else {
            result = MagnitudeThreshold.Result(bits: 0, greater: 0, tiesToKeep: 0, keepNone: false).allKept(total)
            for i in shards.indices { shards[i].ties = shards[i].elements }
        }
        return GlobalPruneThreshold(round: 2, run: run, keepCount: k, bucket: bucket, above: above, shards: shards, result: result)
    }

    /// Checks that `parts` are shards 1…N of one run (of `expected`, when given) in `round`.
    static func checkRun(_ parts: [(file: String, statistics: GlobalPruneStatistics)], round: Int,
                         expected: GlobalPruneRun? = nil) throws(GlobalPruneError) -> GlobalPruneRun {
        guard let first = parts.first else { throw .malformed(file: "", reason: "no parts") }
        let run = expected ?? first.statistics.run
        for (i, p) in parts.enumerated() {
            if let m = run.mismatch(p.statistics.run, file: p.file) { throw m }
            guard p.statistics.shard == i + 1 else {
                throw .disagree(file: p.file, reason: "holds shard \(p.statistics.shard), expected \(i + 1)")
            }
            guard p.statistics.round == round else {
                throw .wrongRound(file: p.file, reason: "a round-\(p.statistics.round) part, but the threshold file calls for round \(round)"
                                  + " (remove the stale parts and count that round again)")
            }
        }
        guard parts.count == run.shards else { throw .disagree(file: parts[0].file, reason: "\(parts.count) parts of \(run.shards)") }
        return run
    }
}

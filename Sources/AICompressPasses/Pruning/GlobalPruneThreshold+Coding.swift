import AICompressCore

extension GlobalPruneThreshold {
    /// The threshold file's bytes (spec/sharded-runs.md §6.3): the run's header, the keep count,
    /// the bin and what lies above it, in round 2 the threshold, then 32 bytes per shard.
    public func encoded() -> [UInt8] {
        var w = GlobalPruneBytesWriter()
        run.encode(magic: Self.magic, round: round, into: &w)
        w.int(keepCount)
        w.u32(bucket ?? GlobalPruneStatistics.noBucket)
        w.int(above)
        if let result {
            w.u32(result.bits)
            w.int(result.greater)
            w.int(result.tiesToKeep)
            w.int(result.ties)
            w.u8(result.keepNone ? 1 : 0)
        }
        for s in shards {
            w.int(s.tensors)
            w.int(s.elements)
            w.int(s.inBucket)
            w.int(s.ties)
        }
        return w.bytes
    }

    /// Reads a threshold file, refusing anything `encoded` would not write and any threshold
    /// that is not what the merge computes from its own counts (keep count, bin, ties).
    /// - Throws: `GlobalPruneError.malformed` naming `file` and what is wrong.
    public init(decoding bytes: [UInt8], file: String) throws(GlobalPruneError) {
        var r = GlobalPruneBytesReader(bytes, file: file)
        let (round, run) = try GlobalPruneRun.decode(magic: Self.magic, kind: "threshold file", from: &r)
        let k = try r.int("the keep count")
        let rawBucket = try r.u32("the bin")
        guard rawBucket == GlobalPruneStatistics.noBucket || rawBucket < UInt32(GlobalPruneStatistics.bins) else {
            throw r.fail("bin \(rawBucket) outside 0...65535")
        }
        let bucket = rawBucket == GlobalPruneStatistics.noBucket ? nil : rawBucket
        let above = try r.int("the count above the bin")
        var result: MagnitudeThreshold.Result? = nil
        if round == 2 {
            let bits = try r.u32("the threshold")
            let greater = try r.int("the count above the threshold"), tiesToKeep = try r.int("the ties to keep")
            let ties = try r.int("the ties")
            let keepNone = try r.u8("keep-none")
            guard keepNone <= 1 else { throw r.fail("keep-none flag \(keepNone), not 0 or 1") }
            result = MagnitudeThreshold.Result(bits: bits, greater: greater, tiesToKeep: tiesToKeep, keepNone: keepNone == 1, ties: ties)
        }
        try r.need(run.shards * 32, "\(run.shards) shard records")
        var shards: [Shard] = []
        shards.reserveCapacity(run.shards)
        for i in 1...run.shards {
            let s = Shard(tensors: try r.int("shard \(i) tensors", limit: Self.maxShardElements),
                          elements: try r.int("shard \(i) elements", limit: Self.maxShardElements),
                          inBucket: try r.int("shard \(i) values in the bin", limit: Self.maxShardElements),
                          ties: try r.int("shard \(i) ties", limit: Self.maxShardElements))
            guard s.tensors <= s.elements, s.inBucket <= s.elements, s.ties <= s.elements else {
                throw r.fail("shard \(i): \(s.tensors) tensors, \(s.inBucket) values in the bin, \(s.ties) ties of \(s.elements) elements")
            }
            guard (bucket != nil || s.inBucket == 0), (round == 2 || s.ties == 0) else {
                throw r.fail("shard \(i): counts that its round and bin do not have")
            }
            shards.append(s)
        }
        try r.end()
        self.init(round: round, run: run, keepCount: k, bucket: bucket, above: above, shards: shards, result: result)
        if let reason = inconsistency() { throw r.fail(reason) }
    }

    /// Why these fields are not what a merge writes, or nil.
    func inconsistency() -> String? {
        let total = elements, k = keepCount
        let inBucket = shards.reduce(0) { $0 + $1.inBucket }, ties = shards.reduce(0) { $0 + $1.ties }
        guard k == Prune.keepCount(run.keep, of: total) else { return "keep count \(k), not round(keep × \(total))" }
        guard (bucket == nil) == (k == 0 || k >= total) else { return "a bin is given exactly when neither none nor all are kept" }
        if bucket != nil {
            guard above < k, above + inBucket >= k else { return "\(above) above the bin and \(inBucket) in it do not reach \(k) there" }
        } else if above != 0 {
            return "\(above) above no bin"
        }
        guard let result else { return nil }
        guard result.greater + result.tiesToKeep == k, result.ties == ties else {
            return "threshold counts \(result.greater) + \(result.tiesToKeep) (of \(result.ties) ties) against \(k) kept, \(ties) ties"
        }
        if let bucket {
            guard result.bits >> 16 == bucket, !result.keepNone, result.greater >= above, result.tiesToKeep >= 1,
                  result.ties >= result.tiesToKeep else {
                return "threshold 0x\(String(result.bits, radix: 16)) does not lie in bin \(bucket) with its ties"
            }
        } else {
            let expected = k == 0 ? MagnitudeThreshold.Result(bits: UInt32.max, greater: 0, tiesToKeep: 0, keepNone: true)
                : MagnitudeThreshold.Result(bits: 0, greater: 0, tiesToKeep: 0, keepNone: false).allKept(total)
            guard result == expected else { return "keeping \(k == 0 ? "none" : "all") needs the threshold of that case" }
        }
        return nil
    }
}

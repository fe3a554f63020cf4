import AICompressCore

/// One shard's statistics for global magnitude pruning in shards (spec/sharded-runs.md §6): a
/// histogram of the f32 bit patterns of |w| over the shard's selected tensors, 65,536 bins.
/// Round 1 counts the high 16 bits of every value; round 2 counts the low 16 bits of the
/// values in the one critical high bin that the round-1 merge found. Two rounds are the radix
/// select `MagnitudeThreshold.select` runs in one process, split where the bins are summed.
public struct GlobalPruneStatistics: Sendable, Equatable {
    /// The bins of one round.
    public static let bins = 1 << 16
    /// Magic of a statistics part.
    static let magic = Array("AICPGS01".utf8)
    /// "No bin": round 1 counts every value; in round 2, the round-1 merge decided the threshold.
    static let noBucket = UInt32.max

    /// 1 (high 16 bits) or 2 (low 16 bits of `bucket`).
    public var round: Int
    /// K, 1-based.
    public var shard: Int
    /// The run this part belongs to.
    public var run: GlobalPruneRun
    /// Round 2: the high bin whose values were counted; nil when round 1 already decided.
    public var bucket: UInt32?
    /// Selected tensors in the shard.
    public var tensors: Int
    /// Their elements.
    public var elements: Int
    /// `bins` counts.
    public var histogram: [Int]

    /// Counts shard `k` of `model` (the tensors of that input shard, in model order) as `pass`
    /// selects them: round 1 when `after` is nil, else round 2 in the bin `after` found.
    /// Mapped pages are dropped as they are counted.
    /// - Throws: `PassError.nonFinite` naming the first tensor in the shard with NaN or ±Inf
    ///   (round 1, as one process refuses), `GlobalPruneError.wrongRound` when `after` is final.
    public static func collect(_ model: Model, pass: Prune, shard k: Int, run: GlobalPruneRun,
                               after first: GlobalPruneThreshold? = nil, file: String = "") throws -> GlobalPruneStatistics {
        try pass.validate()
        if let first, first.round != 1 {
            throw GlobalPruneError.wrongRound(file: file, reason: "already the final threshold; apply it with --threshold")
        }
        let selected = pass.selectedTensors(model)
        var views: [FloatView] = []
        defer { views.forEach { $0.release() } }
        for t in selected { views.append(try FloatView(t)) }
        let release = Prune.pageRelease(selected, views)
        let runs = views.map(\.values)
        var histogram: [Int]
        var bucket: UInt32? = nil
        if let first {
            bucket = first.bucket
            histogram = first.bucket.map { MagnitudeThreshold.histogram(runs, only: $0, release: release) }
                ?? [Int](repeating: 0, count: bins)
        } else {
            histogram = MagnitudeThreshold.histogram(runs, release: release)
            // NaN and ±Inf land in bins 0x7F80 and above: refuse as `Prune.prepare` does.
            if histogram[0x7F80...].contains(where: { $0 > 0 }) {
                for (t, v) in zip(selected, views) { try Prune.checkFinite(t, v.values) }
            }
        }
        return GlobalPruneStatistics(round: first == nil ? 1 : 2, shard: k, run: run, bucket: bucket, tensors: selected.count,
                                     elements: runs.reduce(0) { $0 + $1.count }, histogram: histogram)
    }

    /// The part file's bytes: the run's header, then the shard, the bin, the counts and the
    /// non-zero bins in ascending order (spec/sharded-runs.md §6.3). At most about 800 KB.
    public func encoded() -> [UInt8] {
        var w = GlobalPruneBytesWriter()
        run.encode(magic: Self.magic, round: round, into: &w)
        w.u32(UInt32(shard))
        w.u32(bucket ?? Self.noBucket)
        w.int(tensors)
        w.int(elements)
        let nonZero = histogram.indices.filter { histogram[$0] != 0 }
        w.u32(UInt32(nonZero.count))
        for b in nonZero {
            w.u32(UInt32(b))
            w.int(histogram[b])
        }
        return w.bytes
    }

    /// Reads a part file, refusing anything `encoded` would not write.
    /// - Throws: `GlobalPruneError.malformed` naming `file` and what is wrong.
    public init(decoding bytes: [UInt8], file: String) throws(GlobalPruneError) {
        var r = GlobalPruneBytesReader(bytes, file: file)
        let (round, run) = try GlobalPruneRun.decode(magic: Self.magic, kind: "statistics part", from: &r)
        let shard = Int(try r.u32("the shard"))
        guard shard >= 1, shard <= run.shards else { throw r.fail("shard \(shard) outside 1...\(run.shards)") }
        let rawBucket = try r.u32("the bin")
        guard rawBucket == Self.noBucket || (round == 2 && rawBucket < UInt32(Self.bins)) else {
            throw r.fail("bin \(rawBucket) in round \(round)")
        }
        let tensors = try r.int("the tensor count"), elements = try r.int("the element count")
        guard tensors <= elements else { throw r.fail("\(tensors) tensors but \(elements) elements") }
        let entries = Int(try r.u32("the bin count"))
        guard entries <= Self.bins else { throw r.fail("\(entries) bins, more than \(Self.bins)") }
        try r.need(entries * 12, "\(entries) bins")
        var histogram = [Int](repeating: 0, count: Self.bins)
        var previous = -1, sum = 0
        for _ in 0..<entries {
            let b = Int(try r.u32("a bin"))
            guard b > previous, b < Self.bins else { throw r.fail("bin \(b) after bin \(previous): not ascending below \(Self.bins)") }
            let count = try r.int("a count")
            guard count > 0 else { throw r.fail("bin \(b) is listed with count 0") }
            sum += count
            guard sum <= elements else { throw r.fail("the bins count more than the \(elements) elements") }
            histogram[b] = count
            previous = b
        }
        guard round == 2 || sum == elements else { throw r.fail("the bins count \(sum) of the \(elements) elements") }
        guard round == 1 || rawBucket != Self.noBucket || sum == 0 else { throw r.fail("counts without a bin in round 2") }
        try r.end()
        self.init(round: round, shard: shard, run: run, bucket: rawBucket == Self.noBucket ? nil : rawBucket, tensors: tensors,
                  elements: elements, histogram: histogram)
    }

    init(round: Int, shard: Int, run: GlobalPruneRun, bucket: UInt32?, tensors: Int, elements: Int, histogram: [Int]) {
        self.round = round
        self.shard = shard
        self.run = run
        self.bucket = bucket
        self.tensors = tensors
        self.elements = elements
        self.histogram = histogram
    }
}

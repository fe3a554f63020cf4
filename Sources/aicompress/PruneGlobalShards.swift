import AICompressCore
import AICompressFormats
import AICompressPasses
import ArgumentParser
import Foundation

/// `prune --scope global --shard K/N` in phases (spec/sharded-runs.md §6): `--stats` counts a
/// round of statistics into `T.part-0000K-of-0000N`, `aicompress merge T` merges a round into
/// the threshold file `T` (NAME.prune-threshold), and, after two rounds, `--threshold T`
/// prunes each shard as one process would.
struct GlobalShardOptions: ParsableArguments {
    @Flag(help: ArgumentHelp(
        "With --scope global --shard K/N: count this shard's statistics for the threshold file OUT (NAME.prune-threshold) into OUT.part-0000K-of-0000N instead of pruning: round 1 while OUT does not exist, round 2 after the first `aicompress merge OUT`."))
    var stats = false

    @Option(help: ArgumentHelp(
        "With --scope global --shard K/N: prune this shard by FILE, the final threshold that two rounds of --stats and `aicompress merge FILE` wrote.",
        valueName: "FILE"))
    var threshold: String?

    /// Whether this run is a phase of a sharded global prune.
    var isPhase: Bool { stats || threshold != nil }

    /// Refuses `--stats`/`--threshold` outside `--scope global --shard K/N` magnitude pruning,
    /// and `--shard` with `--scope global` without one of them.
    func check(shard: ShardPart?, global: Bool, magnitude: Bool, output: String) throws {
        if let shard, global, !isPhase {
            throw ValidationError("--shard \(shard) with --scope global runs in phases: --stats, aicompress merge, then --threshold FILE (spec/sharded-runs.md §6)")
        }
        guard isPhase else { return }
        guard shard != nil, global, magnitude else {
            throw ValidationError("--stats and --threshold go with --scope global --shard K/N (magnitude pruning, no --pattern)")
        }
        if stats && threshold != nil { throw ValidationError("give --stats (count) or --threshold (apply), not both") }
        if stats && !output.hasSuffix(GlobalShardRun.suffix) {
            throw ValidationError("--stats writes the statistics of the threshold file OUT: give OUT as DIR/NAME\(GlobalShardRun.suffix)")
        }
        if let threshold, !threshold.hasSuffix(GlobalShardRun.suffix) {
            throw ValidationError("--threshold takes the file that aicompress merge wrote, NAME\(GlobalShardRun.suffix)")
        }
    }
}

/// The file work of the phases; the counting, merging and pruning are library values
/// (`GlobalPruneStatistics`, `GlobalPruneThreshold`, `ShardedGlobalPrune`).
enum GlobalShardRun {
    /// The threshold file's suffix (`aicompress merge` dispatches on it).
    static let suffix = ".prune-threshold"
    /// Largest statistics part or threshold file read (both are far smaller: spec §6.3).
    static let maxFileBytes = 4 << 20

    /// `T.part-0000K-of-0000N`.
    static func partPath(_ threshold: String, _ part: ShardPart) -> String {
        threshold + ".part-" + String(format: "%05d", part.k) + "-of-" + String(format: "%05d", part.n)
    }

    /// The bytes of a small file, its size checked before reading.
    static func read(_ path: String, missing: GlobalPruneError) throws -> [UInt8] {
        guard FileManager.default.fileExists(atPath: path) else { throw missing }
        let file = try InputFile(path: path)
        guard file.size <= maxFileBytes else {
            throw GlobalPruneError.malformed(file: path, reason: "\(file.size) bytes, more than \(maxFileBytes)")
        }
        return Array(file.buffer.bytes)
    }

    /// Writes `bytes` to `path` atomically (temporary name, rename).
    static func write(_ bytes: [UInt8], to path: String, durable: Bool = false, refusing inputs: [FileIdentity] = []) throws {
        try ModelIO.checkNotInput(path, inputs)
        var file = try OutputFile(path: path, durable: durable)
        do {
            try file.write(bytes)
            try file.commit()
        } catch {
            file.abort()
            throw error
        }
    }

    /// `--stats`: counts input shard `part` for the threshold file `threshold` (round 1 while
    /// it does not exist, else round 2 in its critical bin) and writes the part.
    static func countStatistics(_ pass: AICompressPasses.Prune, input: String, threshold: String, part: ShardPart,
                                quiet: Bool) throws {
        let loaded = try ModelIO.read(path: input).restricted(toShard: part, input: input)
        let run = try GlobalPruneRun(pass: pass, input: loaded.facts, shards: part.n)
        var first: GlobalPruneThreshold? = nil
        if FileManager.default.fileExists(atPath: threshold) {
            let t = try GlobalPruneThreshold(decoding: try read(threshold, missing: .missingThreshold(path: threshold)), file: threshold)
            if let m = run.mismatch(t.run, file: threshold) { throw m }
            first = t
        }
        let stats: GlobalPruneStatistics
        do {
            stats = try GlobalPruneStatistics.collect(loaded.model, pass: pass, shard: part.k, run: run, after: first, file: threshold)
        } catch let e as PassError {
            throw PassRunner.failure(e, input: input, parameters: .commandLine)  // worded as one process words it
        }
        let path = partPath(threshold, part)
        try write(stats.encoded(), to: path, refusing: loaded.identities)
        if !quiet {
            FileHandleOutput.stderr("\(path): round \(stats.round) statistics of shard \(part): \(Format.count(stats.tensors)) tensors, "
                                    + "\(Format.count(stats.elements)) values\(stats.round == 1 ? "" : ", \(Format.count(stats.histogram.reduce(0, +))) in the critical bin")\n")
        }
    }

    /// `--threshold`: prunes input shard `part` by the final threshold file, checking that it
    /// was made from this input with these options.
    static func apply(_ pass: AICompressPasses.Prune, threshold path: String, part: ShardPart, input: String, output: String,
                      out: OutputOptions, report: ReportOptions) throws {
        let threshold = try GlobalPruneThreshold(decoding: try read(path, missing: .missingThreshold(path: path)), file: path)
        let sharded = try ShardedGlobalPrune(prune: pass, threshold: threshold, shard: part.k, file: path)
        try PassRunner.run(sharded, input: input, output: output, out: out, report: report, recipe: [Recipe.Step(pass)],
                           shard: part) { loaded in
            if let m = try GlobalPruneRun(pass: pass, input: loaded.facts, shards: part.n).mismatch(threshold.run, file: path) { throw m }
        }
    }

    /// `aicompress merge T.prune-threshold`: merges the round the parts beside `path` hold,
    /// writes `path` atomically, removes the parts, and describes the result.
    static func merge(threshold path: String, durable: Bool) throws -> String {
        let folder = (path as NSString).deletingLastPathComponent, prefix = (path as NSString).lastPathComponent + ".part-"
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder.isEmpty ? "." : folder)) ?? [])
            .filter { $0.hasPrefix(prefix) }.sorted()
        guard !names.isEmpty else { throw GlobalPruneError.noParts(threshold: path) }
        var byK: [Int: (file: String, statistics: GlobalPruneStatistics)] = [:]
        var n = 0
        for name in names {
            let file = folder.isEmpty ? name : folder + "/" + name
            let s = try GlobalPruneStatistics(decoding: try read(file, missing: .missingPart(path: file)), file: file)
            if n == 0 { n = s.run.shards }
            guard s.run.shards == n else {
                throw GlobalPruneError.disagree(file: file, reason: "a part of \(s.run.shards) shards, but \(folder)/\(names[0]) is one of \(n)")
            }
            guard let part = ShardPart(k: s.shard, n: n), partPath(path, part) == file else {
                throw GlobalPruneError.disagree(file: file, reason: "its content says shard \(s.shard)/\(n)")
            }
            byK[s.shard] = (file, s)
        }
        let parts = try (1...n).map { k in
            guard let p = byK[k] else { throw GlobalPruneError.missingPart(path: ShardPart(k: k, n: n).map { partPath(path, $0) } ?? path) }
            return p
        }
        let exists = FileManager.default.fileExists(atPath: path)
        let merged: GlobalPruneThreshold
        if parts[0].statistics.round == 1 {
            if exists {
                throw GlobalPruneError.wrongRound(file: path, reason: "exists, and the parts beside it are round 1: remove it to start a new run, or count round 2 after it")
            }
            merged = try GlobalPruneThreshold.merge(round1: parts)
        } else {
            let first = try GlobalPruneThreshold(decoding: try read(path, missing: .missingThreshold(path: path)), file: path)
            guard first.round == 1 else {
                throw GlobalPruneError.wrongRound(file: path, reason: "already the final threshold; the round-2 parts beside it are stale")
            }
            merged = try first.merged(round2: parts)
        }
        try write(merged.encoded(), to: path, durable: durable)
        for p in parts { try? FileManager.default.removeItem(atPath: p.file) }
        return describe(merged, path: path)
    }

    /// One line about a merged threshold file.
    static func describe(_ t: GlobalPruneThreshold, path: String) -> String {
        let kept = "keeps \(Format.count(t.keepCount)) of \(Format.count(t.elements)) selected values over \(t.shards.count) shards"
        guard let r = t.result else {
            return "\(path): round 1 merged, \(kept); critical bin " + (t.bucket.map { "0x" + String($0, radix: 16) } ?? "none")
                + "; count round 2 with --stats, then merge again"
        }
        let at = r.keepNone ? "none kept" : "|w| >= \(Format.number(Double(Float(bitPattern: r.bits))))"
        return "\(path): final threshold, \(at), \(kept) (\(Format.count(r.tiesToKeep)) of \(Format.count(r.ties)) ties at it); "
            + "prune each shard with --threshold \(path)"
    }
}

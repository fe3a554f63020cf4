import AICompressCore
import AICompressFormats
import Foundation
import XCTest

/// Global magnitude pruning in phases across shards (spec/sharded-runs.md §6): fanned out by GNU
/// parallel, two rounds of `--stats` and `merge`, then `--threshold` and `merge`, give the bytes
/// one process writes; every phase refuses parts and threshold files of another run.
extension ShardRunCLITests {
    /// Every fifth weight at ±0.7, about the 30 % quantile of these uniform weights: the
    /// threshold of keep 0.3 falls among them, so ties are split across the shards.
    func tiedInput(_ dir: String) throws -> String {
        try shardedInput(dir) { i, w in for j in stride(from: i, to: w.count, by: 5) { w[j] = j % 2 == 0 ? 0.7 : -0.7 } }
    }

    /// The phases as a shell script: `prune … --stats` and `merge` twice, then `--threshold`.
    func phases(_ options: String, index: String, threshold: String, out: String, shards: Int = 3) -> String {
        let ks = (1...shards).map(String.init).joined(separator: " ")
        let stats = "parallel --will-cite --halt now,fail=1 \"$bin\" prune -q \(options) --shard {}/\(shards) --stats '\(index)' '\(threshold)' ::: \(ks)"
        return "\(stats) && \"$bin\" merge -q '\(threshold)' && \(stats) && \"$bin\" merge -q '\(threshold)' && "
            + "parallel --will-cite --halt now,fail=1 \"$bin\" prune -q \(options) --shard {}/\(shards) --threshold '\(threshold)' '\(index)' "
            + "'\(out)/model.safetensors' ::: \(ks) && \"$bin\" merge -q '\(out)/model.safetensors.index.json'"
    }

    func testParallelGlobalPruneInPhasesGivesTheBytesOfOneProcess() throws {
        guard try shell("command -v parallel").status == 0 else {
            throw XCTSkip("GNU parallel is not installed (scripts/install-deps.sh installs it): the parallel form is not run")
        }
        let dir = try tempDir()
        let index = try tiedInput(dir)
        for (name, options) in [("keep0.3", "--scope global --keep 0.3"), ("sparsity0.9", "--scope global --sparsity 0.9 --include-1d"),
                                ("none", "--scope global --keep 0")] {
            let one = dir + "/one-" + name, many = dir + "/many-" + name, stats = dir + "/stats-" + name
            for d in [one, many, stats] { try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true) }
            let single = try run(["prune", "-q"] + options.split(separator: " ").map(String.init) + ["--shard-size", "40KB", index, one + "/model.safetensors"])
            XCTAssertEqual(single.status, 0, single.stderr)
            let threshold = stats + "/model.prune-threshold"
            let fanned = try shell(phases(options, index: index, threshold: threshold, out: many))
            XCTAssertEqual(fanned.status, 0, fanned.stderr)
            let names = try files(one)
            XCTAssertEqual(names.count, 4, "\(name): \(names) \(single.stderr)")
            XCTAssertEqual(try files(many), names, "\(name): the same files, the parts gone")
            XCTAssertEqual(try files(stats), ["model.prune-threshold"], "\(name): the statistics parts are gone after each merge")
            for f in names {
                let a = try Data(contentsOf: URL(fileURLWithPath: one + "/" + f)), b = try Data(contentsOf: URL(fileURLWithPath: many + "/" + f))
                XCTAssertTrue(a == b, "\(name): \(f) differs (\(a.count) vs \(b.count) bytes)")
            }
            let merged = try run(["merge", threshold])
            XCTAssertEqual(merged.status, 66, "\(name): nothing left to merge: \(merged.stderr)")
        }
        // The threshold of keep 0.3 fell among the ties, and they were split (not all kept).
        let again = try shell("cd '\(dir)' && mkdir -p s && for r in 1 2; do for k in 1 2 3; do \"$bin\" prune -q --scope global --keep 0.3 "
                              + "--shard $k/3 --stats '\(index)' s/m.prune-threshold || exit 1; done; \"$bin\" merge s/m.prune-threshold || exit 1; done")
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stderr.contains("|w| >= 0.7,"), again.stderr)
        let ties = try XCTUnwrap(again.stderr.range(of: #"\(([0-9,]+) of ([0-9,]+) ties at it\)"#, options: .regularExpression))
        let counts = again.stderr[ties].split { !$0.isNumber && $0 != "," }.compactMap { Int($0.filter(\.isNumber)) }
        XCTAssertEqual(counts.count, 2)
        XCTAssertLessThan(counts[0], counts[1], again.stderr)
        XCTAssertGreaterThan(counts[0], 0, again.stderr)
    }

    func testGlobalPrunePhasesRefuseFilesOfAnotherRun() throws {
        let dir = try tempDir()
        let index = try tiedInput(dir)
        let st = dir + "/st", out = dir + "/out"
        for d in [st, out] { try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true) }
        let threshold = st + "/m.prune-threshold"
        func stats(_ k: Int, _ extra: [String] = [], input: String? = nil) throws -> Result {
            try run(["prune", "-q", "--scope", "global", "--keep", "0.3", "--shard", "\(k)/3", "--stats"] + extra + [input ?? index, threshold])
        }
        func apply(_ k: Int, _ extra: [String] = [], input: String? = nil) throws -> Result {
            try run(["prune", "-q", "--scope", "global", "--keep", "0.3", "--shard", "\(k)/3", "--threshold", threshold] + extra
                    + [input ?? index, out + "/model.safetensors"])
        }
        func merge() throws -> Result { try run(["merge", threshold]) }
        func expect(_ r: Result, _ status: Int32, _ message: String, line: UInt = #line) {
            XCTAssertEqual(r.status, status, r.stderr, line: line)
            XCTAssertTrue(r.stderr.contains(message), r.stderr, line: line)
        }
        expect(try run(["prune", "--scope", "global", "--keep", "0.3", "--stats", index, threshold]), 64, "go with --scope global --shard K/N")
        expect(try run(["prune", "--keep", "0.3", "--shard", "1/3", "--stats", index, threshold]), 64, "go with --scope global --shard K/N")
        expect(try run(["prune", "--scope", "global", "--keep", "0.3", "--shard", "1/3", "--stats", index, st + "/m.safetensors"]), 64,
               "give OUT as DIR/NAME.prune-threshold")
        expect(try run(["prune", "--scope", "global", "--keep", "0.3", "--shard", "1/3", "--stats", "--threshold", threshold, index, threshold]),
               64, "not both")
        expect(try apply(1), 66, "m.prune-threshold: missing; merge the statistics parts first")
        expect(try merge(), 66, "no statistics part")
        for k in [1, 3] { XCTAssertEqual(try stats(k).status, 0) }
        expect(try merge(), 66, "st/m.prune-threshold.part-00002-of-00003: missing")
        // A part counted with other options, or from another model, or malformed.
        let part2 = threshold + ".part-00002-of-00003"
        XCTAssertEqual(try stats(2, ["--include-1d"]).status, 0)
        expect(try merge(), 64, "part-00002-of-00003: made with 'method=magnitude keep=0.3 scope=global include-1d=true")
        try FileManager.default.createDirectory(atPath: dir + "/other-model", withIntermediateDirectories: true)
        let other = try shardedInput(dir + "/other-model") { i, w in if i == 0 { w[0] = 0.5 } }
        XCTAssertEqual(try stats(2, input: other).status, 0)
        expect(try merge(), 65, "part-00002-of-00003: made from a model of")
        let good = try Data(contentsOf: URL(fileURLWithPath: part2))
        XCTAssertEqual(try stats(2).status, 0)
        let counted = try Data(contentsOf: URL(fileURLWithPath: part2))
        XCTAssertNotEqual(good, counted)
        try counted.prefix(counted.count - 3).write(to: URL(fileURLWithPath: part2))
        expect(try merge(), 65, "part-00002-of-00003: not a global pruning statistics file")
        XCTAssertFalse(FileManager.default.fileExists(atPath: threshold), "nothing is written when a check fails")
        XCTAssertEqual(try stats(2).status, 0)
        XCTAssertEqual(try merge().status, 0)
        // Round 1 merged: applying it, or merging round-1 parts again, is refused.
        expect(try apply(1), 64, "a round-1 threshold; count round 2")
        XCTAssertEqual(try stats(1).status, 0)
        XCTAssertEqual(try stats(2).status, 0)
        expect(try stats(3, ["--sparsity", "0.7"]), 64, "not both")
        expect(try run(["prune", "-q", "--scope", "global", "--sparsity", "0.6", "--shard", "3/3", "--stats", index, threshold]), 64,
               "m.prune-threshold: made with 'method=magnitude keep=0.3")
        XCTAssertEqual(try stats(3).status, 0)
        XCTAssertEqual(try merge().status, 0)
        expect(try stats(1), 64, "already the final threshold")
        // The final threshold applied to another model, or with other options.
        expect(try apply(1, input: other), 65, "m.prune-threshold: made from a model of")
        expect(try apply(1, ["--exclude", "layers.0.*"]), 64, "made with 'method=magnitude keep=0.3 scope=global'")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/model-00001-of-00003.safetensors"))
        for k in 1...3 { XCTAssertEqual(try apply(k).status, 0) }
        XCTAssertEqual(try run(["merge", "-q", out + "/model.safetensors.index.json"]).status, 0)
    }

    /// NaN in a weight: the statistics of the shard holding it refuse with the message and exit
    /// code of one process; the other shards count as usual.
    func testGlobalPruneStatisticsRefuseNaNAsOneProcess() throws {
        let dir = try tempDir()
        let index = try shardedInput(dir) { i, w in if i == 3 { w[100] = .nan } }
        let one = try run(["prune", "-q", "--scope", "global", "--keep", "0.3", index, dir + "/one.safetensors"])
        XCTAssertEqual(one.status, 65, one.stderr)
        XCTAssertTrue(one.stderr.contains("tensor 'layers.3.weight': 1 NaN or infinite values"), one.stderr)
        for k in 1...3 {
            let r = try run(["prune", "-q", "--scope", "global", "--keep", "0.3", "--shard", "\(k)/3", "--stats", index, dir + "/m.prune-threshold"])
            XCTAssertEqual(r.status, k == 2 ? 65 : 0, r.stderr)
            if k == 2 { XCTAssertEqual(r.stderr, one.stderr) }
        }
    }
}

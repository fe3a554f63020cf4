import AICompressCore
@testable import AICompressPasses
import Foundation
import XCTest

/// The statistics part and threshold files (spec/sharded-runs.md §6.3): one malformed file per
/// check, each refused with that check's reason, committed under fixtures/prune-stats/ (the
/// fuzz seeds; `AICOMPRESS_UPDATE_GOLDEN=1` rewrites them, and the test fails when they are stale).
final class GlobalPruneFilesTests: XCTestCase {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("fixtures/prune-stats")

    /// A 3-shard run over a small model with ties; the parts of both rounds and both thresholds.
    func files() throws -> (part1: [UInt8], part2: [UInt8], first: [UInt8], final: [UInt8]) {
        var v = gaussianValues(600, seed: 41)
        for k in stride(from: 0, to: v.count, by: 4) { v[k] = 0.5 }
        let shards = try (0..<3).map { i in
            try Model(tensors: [try Tensor(name: "w\(i)", shape: [20, 10], floats: Array(v[(200 * i)..<(200 * i + 200)]))])
        }
        let pass = Prune(method: .magnitude(keep: 0.4, scope: .global))
        let run = try GlobalPruneRun(pass: pass, input: InputFacts(format: "safetensors", bytes: 9999, crc32: 0x1234_5678), shards: 3)
        let r1 = try shards.enumerated().map { ("p", try GlobalPruneStatistics.collect($0.element, pass: pass, shard: $0.offset + 1, run: run)) }
        let first = try GlobalPruneThreshold.merge(round1: r1)
        let r2 = try shards.enumerated().map {
            ("q", try GlobalPruneStatistics.collect($0.element, pass: pass, shard: $0.offset + 1, run: run, after: first))
        }
        let final = try first.merged(round2: r2)
        XCTAssertFalse(try XCTUnwrap(final.result).keepsAllTies, "the fixture splits ties")
        return (r1[0].1.encoded(), r2[0].1.encoded(), first.encoded(), final.encoded())
    }

    func put(_ b: inout [UInt8], _ at: Int, _ v: UInt64, _ width: Int) {
        for i in 0..<width { b[at + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) }
    }

    func edit(_ b: [UInt8], _ body: (inout [UInt8]) -> Void) -> [UInt8] {
        var c = b
        body(&c)
        return c
    }

    /// (file name, bytes, a reason the reader must give).
    func malformed() throws -> [(String, [UInt8], String)] {
        let f = try files()
        let o = 40 + Int(f.part1[36]) + Int(f.part1[37]) << 8  // after the options
        let e = o + 28  // the first bin entry
        let p = f.part1, q = f.part2, t1 = f.first, t2 = f.final
        let s1 = o + 20, s2 = o + 49  // first shard record of a round-1 / final threshold
        return [
            ("part-magic", edit(p) { $0[0] = 0x58 }, "are not 'AICPGS01'"),
            ("part-round", edit(p) { $0[8] = 3 }, "round 3, not 1 or 2"),
            ("part-reserved", edit(p) { $0[10] = 1 }, "reserved bytes 9-11 are not zero"),
            ("part-shards", edit(p) { self.put(&$0, 12, 0, 4) }, "shard count 0 outside"),
            ("part-keep", edit(p) { self.put(&$0, 28, Double(1.5).bitPattern, 8) }, "keep 1.5 outside 0...1"),
            ("part-options-length", edit(p) { self.put(&$0, 36, 5000, 4) }, "options of 5000 bytes"),
            ("part-options-utf8", edit(p) { $0[40] = 0xFF }, "the options are not UTF-8"),
            ("part-shard", edit(p) { self.put(&$0, o, 4, 4) }, "shard 4 outside 1...3"),
            ("part-bin-round1", edit(p) { self.put(&$0, o + 4, 5, 4) }, "bin 5 in round 1"),
            ("part-tensors", edit(p) { self.put(&$0, o + 8, 10_000, 8) }, "10000 tensors but 200 elements"),
            ("part-huge-count", edit(p) { self.put(&$0, o + 16, 1 << 60, 8) }, "exceeds"),
            ("part-bin-count", edit(p) { self.put(&$0, o + 24, 70_000, 4) }, "70000 bins, more than 65536"),
            ("part-truncated", Array(p.dropLast(5)), "bins needs"),
            ("part-order", edit(p) { self.put(&$0, e + 12, UInt64($0[e]) | UInt64($0[e + 1]) << 8, 4) }, "not ascending"),
            ("part-zero-count", edit(p) { self.put(&$0, e + 4, 0, 8) }, "is listed with count 0"),
            ("part-sum", edit(p) { self.put(&$0, o + 16, 201, 8) }, "the bins count 200 of the 201 elements"),
            ("part-overcount", edit(p) { self.put(&$0, o + 16, 1, 8); self.put(&$0, o + 8, 1, 8) }, "the bins count more than the 1 elements"),
            ("part-trailing", p + [0], "1 bytes after the end"),
            ("part-round2-no-bin", edit(q) { self.put(&$0, o + 4, UInt64(UInt32.max), 4) }, "counts without a bin in round 2"),
            ("threshold-magic", edit(t1) { $0[5] = 0x53 }, "are not 'AICPGT01'"),
            ("threshold-keep-count", edit(t1) { self.put(&$0, o, 7, 8) }, "keep count 7, not round(keep × 600)"),
            ("threshold-bin", edit(t1) { self.put(&$0, o + 8, 70_000, 4) }, "bin 70000 outside 0...65535"),
            ("threshold-no-bin", edit(t1) {
                self.put(&$0, o + 8, UInt64(UInt32.max), 4)
                self.put(&$0, o + 12, 0, 8)
                for i in 0..<3 { self.put(&$0, s1 + 32 * i + 16, 0, 8) }
            }, "a bin is given exactly when"),
            ("threshold-above", edit(t1) { self.put(&$0, o + 12, 590, 8) }, "do not reach"),
            ("threshold-records", Array(t1.dropLast(1)), "3 shard records needs 96 bytes"),
            ("threshold-record", edit(t1) { self.put(&$0, s1, 500, 8) }, "shard 1: 500 tensors"),
            ("threshold-round1-ties", edit(t1) { self.put(&$0, s1 + 24, 1, 8) }, "counts that its round and bin do not have"),
            ("threshold-trailing", t2 + [0, 0], "2 bytes after the end"),
            ("threshold-keep-none", edit(t2) { $0[o + 48] = 2 }, "keep-none flag 2, not 0 or 1"),
            ("threshold-bits", edit(t2) { $0[o + 22] ^= 1 }, "does not lie in bin"),
            ("threshold-ties", edit(t2) { self.put(&$0, s2 + 24, 0, 8) }, "threshold counts"),
            ("threshold-greater", edit(t2) { self.put(&$0, o + 24, 0, 8) }, "threshold counts 0 +"),
        ]
    }

    func decode(_ name: String, _ bytes: [UInt8]) -> GlobalPruneError? {
        do {
            if name.hasPrefix("part") { _ = try GlobalPruneStatistics(decoding: bytes, file: name) } else {
                _ = try GlobalPruneThreshold(decoding: bytes, file: name)
            }
            return nil
        } catch { return error }
    }

    func testEveryMalformationIsRefusedWithItsReason() throws {
        let f = try files()
        for (name, bytes) in [("part-round1", f.part1), ("part-round2", f.part2), ("threshold-round1", f.first), ("threshold-final", f.final)] {
            XCTAssertNil(decode(name, bytes), name)
            XCTAssertEqual(try Data(contentsOf: Self.folder.appendingPathComponent("valid/" + name)), Data(bytes), "\(name) is stale")
        }
        let cases = try malformed()
        XCTAssertEqual(Set(cases.map(\.0)).count, cases.count)
        for (name, bytes, reason) in cases {
            guard case .malformed(let file, let why)? = decode(name, bytes) else { XCTFail("\(name): accepted"); continue }
            XCTAssertEqual(file, name)
            XCTAssertTrue(why.contains(reason), "\(name): \(why)")
            let committed = try Data(contentsOf: Self.folder.appendingPathComponent("malformed/" + name))
            XCTAssertEqual(committed, Data(bytes), "\(name) is stale (AICOMPRESS_UPDATE_GOLDEN=1 rewrites it)")
        }
        // Every prefix of a valid file is refused, never read past its end.
        for bytes in [f.part1, f.part2, f.first, f.final] {
            for n in stride(from: 0, to: bytes.count, by: 7) { XCTAssertNotNil(decode(bytes == f.part1 || bytes == f.part2 ? "part" : "t", Array(bytes.prefix(n)))) }
        }
    }

    func testUpdateFixtures() throws {
        guard ProcessInfo.processInfo.environment["AICOMPRESS_UPDATE_GOLDEN"] == "1" else { throw XCTSkip("AICOMPRESS_UPDATE_GOLDEN=1 rewrites fixtures/prune-stats") }
        let f = try files()
        for d in ["valid", "malformed"] {
            try FileManager.default.createDirectory(at: Self.folder.appendingPathComponent(d), withIntermediateDirectories: true)
        }
        for (name, bytes) in [("part-round1", f.part1), ("part-round2", f.part2), ("threshold-round1", f.first), ("threshold-final", f.final)] {
            try Data(bytes).write(to: Self.folder.appendingPathComponent("valid/" + name))
        }
        for (name, bytes, _) in try malformed() { try Data(bytes).write(to: Self.folder.appendingPathComponent("malformed/" + name)) }
    }
}

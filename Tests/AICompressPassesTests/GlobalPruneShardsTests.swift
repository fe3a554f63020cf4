import AICompressCore
@testable import AICompressPasses
import XCTest

/// Global magnitude pruning in phases across shards (spec/sharded-runs.md §6): two rounds of
/// per-shard statistics, each merged, then per-shard application give the tensors of one
/// process bit for bit, ties, all-zero tensors and the trivial keeps included; NaN is refused
/// as one process refuses it; the files round-trip and refuse every malformation.
final class GlobalPruneShardsTests: XCTestCase {
    let facts = InputFacts(format: "safetensors", bytes: 123_456, crc32: 0xDEAD_BEEF)

    /// Seven tensors, one all zero, one with many exact ties of both signs at a few levels.
    func model() throws -> Model {
        var tied = gaussianValues(3000, seed: 21)
        for k in stride(from: 0, to: tied.count, by: 3) { tied[k] = k % 2 == 0 ? 0.25 : -0.25 }
        var small = gaussianValues(70, seed: 22)
        for k in stride(from: 1, to: small.count, by: 4) { small[k] = -0.25 }
        let coarse = gaussianValues(2000, seed: 23).map { ($0 * 4).rounded() / 4 }  // few levels: ties everywhere
        return try Model(tensors: [
            try Tensor(name: "a.weight", shape: [40, 50], floats: gaussianValues(2000, seed: 20)),
            try Tensor(name: "a.bias", shape: [50], floats: gaussianValues(50, seed: 24)),  // 1-D: not selected
            try Tensor(name: "tied.weight", shape: [60, 50], floats: tied),
            try Tensor(name: "zero.weight", shape: [16, 16], floats: [Float](repeating: 0, count: 256)),
            try Tensor(name: "small.weight", shape: [7, 10], floats: small),
            try Tensor(name: "coarse.weight", shape: [40, 50], floats: coarse),
            try Tensor(name: "big.weight", shape: [150, 150], floats: gaussianValues(22_500, seed: 25, scale: 0.5)),
        ])
    }

    /// The tensors split into `n` contiguous shards (as a sharded set is read: shards in order).
    func shards(_ m: Model, _ n: Int) throws -> [Model] {
        let t = m.tensors
        return try (0..<n).map { i in try Model(tensors: Array(t[(t.count * i / n)..<(t.count * (i + 1) / n)])) }
    }

    /// The phases as N processes run them, every file through its bytes.
    func sharded(_ pass: Prune, _ parts: [Model], inspect: (GlobalPruneThreshold) -> Void = { _ in }) throws -> [Tensor] {
        let run = try GlobalPruneRun(pass: pass, input: facts, shards: parts.count)
        func roundTrip(_ s: GlobalPruneStatistics) throws -> (file: String, statistics: GlobalPruneStatistics) {
            let back = try GlobalPruneStatistics(decoding: s.encoded(), file: "part-\(s.shard)")
            XCTAssertEqual(back, s)
            return ("part-\(s.shard)", back)
        }
        func roundTrip(_ t: GlobalPruneThreshold) throws -> GlobalPruneThreshold {
            let back = try GlobalPruneThreshold(decoding: t.encoded(), file: "t")
            XCTAssertEqual(back, t)
            return back
        }
        let round1 = try parts.enumerated().map { try roundTrip(try GlobalPruneStatistics.collect($0.element, pass: pass, shard: $0.offset + 1, run: run)) }
        let first = try roundTrip(try GlobalPruneThreshold.merge(round1: round1))
        let round2 = try parts.enumerated().map {
            try roundTrip(try GlobalPruneStatistics.collect($0.element, pass: pass, shard: $0.offset + 1, run: run, after: first))
        }
        let final = try roundTrip(try first.merged(round2: round2))
        inspect(final)
        return try parts.enumerated().flatMap { i, m in
            try ShardedGlobalPrune(prune: pass, threshold: final, shard: i + 1).apply(m).0.tensors
        }
    }

    func testShardsGiveTheTensorsOfOneProcessBitForBit() throws {
        let m = try model()
        for keep in [0.0, 0.001, 0.3, 0.9, 1.0] {
            let pass = Prune(method: .magnitude(keep: keep, scope: .global))
            let (one, _) = try pass.apply(m)
            for n in [1, 3, 7] {
                let got = try sharded(pass, try shards(m, n))
                XCTAssertEqual(got.map(\.name), one.tensors.map(\.name))
                for (a, b) in zip(got, one.tensors) { XCTAssertTrue(a == b, "keep \(keep), \(n) shards: \(a.name) differs") }
            }
        }
    }

    /// The fixture really splits ties at the threshold across shards: the tie budget runs out
    /// in a later shard, which keeps some of its ties and not others.
    func testTiesAtTheThresholdAreSplitAcrossShardsAsInOneProcess() throws {
        let m = try model()
        // keep half of the values at |w| = 0.25 (tied, small and coarse hold many) beyond those above it
        let selected = m.tensors.filter { TensorSelection().selects($0) }.flatMap { $0.doubleValues().map { abs($0) } }
        let above = selected.filter { $0 > 0.25 }.count, at = selected.filter { $0 == 0.25 }.count
        XCTAssertGreaterThan(at, 1000)
        let pass = Prune(method: .magnitude(keep: Double(above + at / 2) / Double(selected.count), scope: .global))
        var seen: GlobalPruneThreshold?
        let got = try sharded(pass, try shards(m, 7)) { seen = $0 }
        let t = try XCTUnwrap(seen), r = try XCTUnwrap(t.result)
        XCTAssertFalse(r.keepsAllTies)
        XCTAssertEqual(r.bits, Float(0.25).bitPattern)
        XCTAssertEqual(r.tiesToKeep, at / 2)
        let partial = (1...7).filter { k in t.shards[k - 1].ties > 0 && t.tieBudget(shard: k) > 0 && t.tieBudget(shard: k) < t.shards[k - 1].ties }
        XCTAssertEqual(partial.count, 1, "one shard keeps part of its ties: \(t.shards)")
        let (one, _) = try pass.apply(m)
        XCTAssertEqual(got, one.tensors)
    }

    func testNonFiniteValuesAreRefusedNamingTheTensorAsOneProcessDoes() throws {
        for bad in [Float.nan, .infinity, -.infinity] {
            var v = gaussianValues(70, seed: 30)
            v[33] = bad
            var tensors = try model().tensors
            tensors.insert(try Tensor(name: "bad.weight", shape: [7, 10], floats: v), at: 5)
            let m = try Model(tensors: tensors)
            let pass = Prune(method: .magnitude(keep: 0.3, scope: .global))
            XCTAssertThrowsError(try pass.apply(m)) { XCTAssertEqual($0 as? PassError, .nonFinite(tensor: "bad.weight", count: 1, pass: "prune")) }
            let parts = try shards(m, 3)
            let run = try GlobalPruneRun(pass: pass, input: facts, shards: 3)
            for (i, p) in parts.enumerated() {
                let holds = p.tensors.contains { $0.name == "bad.weight" }
                do {
                    _ = try GlobalPruneStatistics.collect(p, pass: pass, shard: i + 1, run: run)
                    XCTAssertFalse(holds, "\(bad): shard \(i + 1) holds the tensor")
                } catch {
                    XCTAssertTrue(holds)
                    XCTAssertEqual(error as? PassError, .nonFinite(tensor: "bad.weight", count: 1, pass: "prune"))
                }
            }
        }
    }

    func testMergeRefusesPartsOfAnotherRunOrRound() throws {
        let m = try model(), parts = try shards(m, 3)
        let pass = Prune(method: .magnitude(keep: 0.3, scope: .global))
        let run = try GlobalPruneRun(pass: pass, input: facts, shards: 3)
        let round1 = try parts.enumerated().map { ("p\($0.offset + 1)", try GlobalPruneStatistics.collect($0.element, pass: pass, shard: $0.offset + 1, run: run)) }
        let first = try GlobalPruneThreshold.merge(round1: round1)
        func expect(_ body: @autoclosure () throws -> Any, _ expected: (GlobalPruneError) -> Bool, line: UInt = #line) {
            XCTAssertThrowsError(try body(), line: line) { e in
                XCTAssertTrue((e as? GlobalPruneError).map(expected) ?? false, "\(e)", line: line)
            }
        }
        var other = round1
        other[1].1.run.inputCRC32 ^= 1
        expect(try GlobalPruneThreshold.merge(round1: other)) { if case .inputDiffers(file: "p2", _) = $0 { true } else { false } }
        other = round1
        other[2].1.run.options += " include=x"
        expect(try GlobalPruneThreshold.merge(round1: other)) { if case .optionsDiffer(file: "p3", _, _) = $0 { true } else { false } }
        other = round1
        other.swapAt(0, 1)
        expect(try GlobalPruneThreshold.merge(round1: other)) { if case .disagree(file: "p2", _) = $0 { true } else { false } }
        expect(try GlobalPruneThreshold.merge(round1: Array(round1.prefix(2)))) { if case .disagree = $0 { true } else { false } }
        expect(try first.merged(round2: round1)) { if case .wrongRound(file: "p1", _) = $0 { true } else { false } }
        let round2 = try parts.enumerated().map { ("q\($0.offset + 1)", try GlobalPruneStatistics.collect($0.element, pass: pass, shard: $0.offset + 1, run: run, after: first)) }
        other = round2
        other[1].1.bucket = other[1].1.bucket.map { $0 - 1 }
        expect(try first.merged(round2: other)) { if case .disagree(file: "q2", _) = $0 { true } else { false } }
        other = round2
        other[0].1.histogram[Int(other[0].1.histogram.firstIndex { $0 > 0 } ?? 0)] += 1
        expect(try first.merged(round2: other)) { if case .inputDiffers(file: "q1", _) = $0 { true } else { false } }
        let final = try first.merged(round2: round2)
        expect(try GlobalPruneStatistics.collect(parts[0], pass: pass, shard: 1, run: run, after: final)) { if case .wrongRound = $0 { true } else { false } }
        expect(try ShardedGlobalPrune(prune: pass, threshold: first, shard: 1)) { if case .wrongRound = $0 { true } else { false } }
        // A shard that now selects other tensors, or holds other values at the threshold.
        let narrower = Prune(method: .magnitude(keep: 0.3, scope: .global), selection: TensorSelection(exclude: ["a.*"]))
        expect(try ShardedGlobalPrune(prune: narrower, threshold: final, shard: 1).apply(parts[0])) { if case .inputDiffers = $0 { true } else { false } }
    }
}

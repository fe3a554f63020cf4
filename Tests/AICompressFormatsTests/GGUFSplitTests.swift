import AICompressCore
@testable import AICompressFormats
import Foundation
import XCTest

/// Split GGUF (llama.cpp's gguf-split layout): written with a shard size, read back from any
/// shard bit for bit; the same bytes whether the input was split or not; the layout's keys,
/// names and plan; deterministic.
final class GGUFSplitTests: XCTestCase {
    private func bytes(_ path: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: path))) }

    /// tiny-llama as shards of at most 40 000 tensor bytes (its 139 kB make several).
    private func splitTiny(_ dir: String, name: String = "s") throws -> (model: Model, shards: [String]) {
        let model = try ModelIO.read(path: fixture("gguf/llama/tiny-llama.gguf")).model
        try ModelIO.write(model, to: dir + "/\(name).gguf", format: .gguf, shardSize: 40_000)
        let listing = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix(name + "-") }.sorted()
        return (model, listing.map { dir + "/" + $0 })
    }

    func testRoundTripFromAnyShardBitForBit() throws {
        let dir = try temporaryDirectory(self)
        let (model, shards) = try splitTiny(dir)
        XCTAssertGreaterThan(shards.count, 2)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/s.gguf"), "a split output leaves no single file")
        for (k, shard) in shards.enumerated() {
            XCTAssertEqual(shard, dir + "/" + GGUFSplit.name(prefix: "s", number: k, count: shards.count))
            let loaded = try ModelIO.read(path: shard)
            XCTAssertEqual(loaded.model.tensors.map(\.name), model.tensors.map(\.name))
            for (a, b) in zip(loaded.model.tensors, model.tensors) {
                XCTAssertEqual(a.data.byteArray, b.data.byteArray, a.name)
                XCTAssertEqual(a.shape, b.shape)
                XCTAssertEqual(a.encoding, b.encoding)
            }
            XCTAssertEqual(loaded.model.metadata, model.metadata, "the split keys are not model metadata")
            XCTAssertEqual(loaded.formatVersion, "GGUF v3, split in \(shards.count) files")
            XCTAssertEqual(loaded.identities.count, shards.count)
            XCTAssertEqual(loaded.inputBytes, try shards.reduce(0) { $0 + (try bytes($1)).count })
        }
    }

    func testSameBytesSplitOrNot() throws {
        let dir = try temporaryDirectory(self)
        let (model, shards) = try splitTiny(dir)
        // Unsplit from split input is the file itself (tiny-llama round-trips bit for bit).
        let fromSplit = try ModelIO.read(path: shards[0]).model
        try ModelIO.write(fromSplit, to: dir + "/joined.gguf", format: .gguf)
        XCTAssertEqual(try bytes(dir + "/joined.gguf"), try bytes(fixture("gguf/llama/tiny-llama.gguf")))
        // Split again from the split input: the same shards.
        try FileManager.default.createDirectory(atPath: dir + "/again", withIntermediateDirectories: false)
        try ModelIO.write(fromSplit, to: dir + "/again/s.gguf", format: .gguf, shardSize: 40_000)
        for shard in shards {
            let name = String(shard.split(separator: "/").last!)
            XCTAssertEqual(try bytes(dir + "/again/" + name), try bytes(shard), name)
        }
        // Determinism: written twice from the same model, the same bytes.
        try FileManager.default.createDirectory(atPath: dir + "/twice", withIntermediateDirectories: false)
        try ModelIO.write(model, to: dir + "/twice/s.gguf", format: .gguf, shardSize: 40_000)
        for shard in shards {
            let name = String(shard.split(separator: "/").last!)
            XCTAssertEqual(try bytes(dir + "/twice/" + name), try bytes(shard), name)
        }
    }

    func testLayoutIsGGUFSplits() throws {
        let dir = try temporaryDirectory(self)
        let (model, shards) = try splitTiny(dir)
        let unsplit = try GGUFReader.read(try InputFile(path: fixture("gguf/llama/tiny-llama.gguf")).buffer)
        var names: [String] = []
        for (k, path) in shards.enumerated() {
            let file = try GGUFReader.read(try InputFile(path: path).buffer)
            XCTAssertEqual(file.version, 3)
            let split = [GGUFKeyValue(GGUFSplit.numberKey, .uint16(UInt16(k))),
                         GGUFKeyValue(GGUFSplit.tensorsCountKey, .int32(Int32(model.tensors.count))),
                         GGUFKeyValue(GGUFSplit.countKey, .uint16(UInt16(shards.count)))]
            // Metadata only in the first shard, the split keys last, split.count after the others.
            XCTAssertEqual(file.metadata, k == 0 ? unsplit.metadata + split : split)
            XCTAssertFalse(file.tensors.isEmpty)
            let padded = file.tensors.reduce(0) { $0 + $1.info.byteCount + GGUFWriter.padding($1.info.byteCount, 32) }
            XCTAssertTrue(padded <= 40_000 || file.tensors.count == 1, "shard \(k): \(padded) bytes")
            if k + 1 < shards.count, let next = try GGUFReader.read(try InputFile(path: shards[k + 1]).buffer).tensors.first {
                // gguf-split's rule: the next shard starts with the tensor that did not fit.
                XCTAssertGreaterThan(padded + next.info.byteCount + GGUFWriter.padding(next.info.byteCount, 32), 40_000)
            }
            // Each shard's tensors, bytes and index entries are those of the unsplit file.
            for t in file.tensors {
                let u = try XCTUnwrap(unsplit.tensor(named: t.info.name))
                XCTAssertEqual(t.info.dims, u.info.dims)
                XCTAssertEqual(t.info.type, u.info.type)
                XCTAssertEqual(t.data.byteArray, u.data.byteArray)
            }
            names += file.tensors.map(\.info.name)
        }
        XCTAssertEqual(names, unsplit.tensors.map(\.info.name))
    }

    func testPlanFollowsGGUFSplit() {
        // Sizes padded to 32: 40 → 64, 100 → 128, 10 → 32.
        XCTAssertEqual(GGUFSplit.plan([40, 40, 40], maxBytes: 128), [0..<2, 2..<3])
        XCTAssertEqual(GGUFSplit.plan([100, 10, 10], maxBytes: 192), [0..<3])
        XCTAssertEqual(GGUFSplit.plan([100, 10, 10], maxBytes: 191), [0..<2, 2..<3])
        XCTAssertEqual(GGUFSplit.plan([500, 10], maxBytes: 64), [0..<1, 1..<2], "an oversized tensor alone")
        XCTAssertEqual(GGUFSplit.plan([], maxBytes: 64), [0..<0])
        XCTAssertEqual(GGUFSplit.name(prefix: "a/m", number: 1, count: 3), "a/m-00002-of-00003.gguf")
        XCTAssertEqual(GGUFSplit.prefix(of: "m-00002-of-00003.gguf", number: 1, count: 3), "m")
        XCTAssertNil(GGUFSplit.prefix(of: "m-00002-of-00003.gguf", number: 0, count: 3))
        XCTAssertNil(GGUFSplit.prefix(of: "-00001-of-00001.gguf", number: 0, count: 1))
    }

    func testFitsInOneShardIsOneFile() throws {
        let dir = try temporaryDirectory(self)
        let model = try ModelIO.read(path: fixture("gguf/llama/tiny-llama.gguf")).model
        try ModelIO.write(model, to: dir + "/one.gguf", format: .gguf, shardSize: 1 << 30)
        XCTAssertEqual(try bytes(dir + "/one.gguf"), try bytes(fixture("gguf/llama/tiny-llama.gguf")))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["one.gguf"])
    }

    func testSplitOutputRefusesStandardOutputAndItsInputs() throws {
        let dir = try temporaryDirectory(self)
        let (model, shards) = try splitTiny(dir)
        XCTAssertThrowsError(try ModelIO.write(model, to: "-", format: .gguf, shardSize: 40_000)) { error in
            XCTAssertTrue("\(error)".contains("not standard output"), "\(error)")
        }
        let loaded = try ModelIO.read(path: shards[0])
        let inputs = loaded.identities
        XCTAssertThrowsError(try ModelIO.write(model, to: dir + "/s.gguf", format: .gguf, refusing: inputs, shardSize: 40_000)) { error in
            XCTAssertTrue("\(error)".contains("output is the input"), "\(error)")
        }
    }
}

/// llama-gguf-split's own output (fixtures/gguf/split, made from tiny-llama.gguf with
/// `--split-max-tensors 8`) read by our reader.
final class GGUFSplitFixtureTests: XCTestCase {
    func testReadsLlamaGGUFSplitOutput() throws {
        let dir = try temporaryDirectory(self)
        let whole = try ModelIO.read(path: fixture("gguf/llama/tiny-llama.gguf")).model
        for k in 1...3 {
            let loaded = try ModelIO.read(path: fixture("gguf/split/tiny-llama-0000\(k)-of-00003.gguf"))
            XCTAssertEqual(loaded.model.tensors, whole.tensors)
            XCTAssertEqual(loaded.model.metadata, whole.metadata)
            try ModelIO.write(loaded.model, to: dir + "/t.gguf", format: .gguf)
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/t.gguf")),
                           try Data(contentsOf: URL(fileURLWithPath: fixture("gguf/llama/tiny-llama.gguf"))))
        }
        let counts = try (1...3).map { try GGUFReader.read(try InputFile(path: fixture("gguf/split/tiny-llama-0000\($0)-of-00003.gguf")).buffer).tensors.count }
        XCTAssertEqual(counts, [8, 8, 5])
    }
}

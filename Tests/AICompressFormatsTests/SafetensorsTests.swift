import AICompressCore
@testable import AICompressFormats
import Foundation
import XCTest

final class SafetensorsTests: XCTestCase {
    func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    /// Files written by the real `safetensors` package read back value for value, and our
    /// whole-file CRC-32 (derived from per-tensor CRCs) equals a direct one.
    func testReadsReferenceFiles() throws {
        let path = fixture("safetensors/all-dtypes.safetensors")
        let loaded = try ModelIO.read(path: path)
        XCTAssertEqual(loaded.format, .safetensors)
        let expected = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: fixture("safetensors/all-dtypes.json")))) as! [String: Any]
        XCTAssertEqual(loaded.model.tensors.map(\.name), expected["order"] as? [String], "buffer order")
        let tensors = expected["tensors"] as! [String: [String: Any]]
        for (name, e) in tensors {
            let t = try XCTUnwrap(loaded.model.tensor(named: name))
            XCTAssertEqual(SafetensorsLayout.name(of: t.dtype), e["dtype"] as? String, name)
            XCTAssertEqual(t.shape.dims, e["shape"] as? [Int], name)
            XCTAssertEqual(hex(t.data.byteArray), e["hex"] as? String, name)
            XCTAssertTrue(t.data.buffer === loaded.input.buffer, "zero copy")
            XCTAssertEqual(t.data.knownCRC32, CRC32.checksum(t.data.byteArray))
        }
        XCTAssertEqual(loaded.model.metadata, ["format": "np", "note": "all dtypes"])
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        XCTAssertEqual(loaded.fileCRC32, CRC32.checksum(bytes))
    }

    func testWriterRoundTripPaddingAndDeterminism() throws {
        let loaded = try ModelIO.read(path: fixture("safetensors/all-dtypes.safetensors"))
        var sink = MemorySink()
        try SafetensorsWriter.write(tensors: loaded.model.tensors, metadata: loaded.model.metadata, to: &sink)
        let bytes = sink.bytes
        let n = Int(UInt64(littleEndian: bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }))
        XCTAssertEqual(n % 8, 0, "header padded to a multiple of 8")
        XCTAssertEqual(bytes[8 + n - 1], 0x20, "padded with spaces")
        let (back, _) = try SafetensorsReader.read(bytes.withUnsafeBytes { ByteBuffer.copying($0) })
        XCTAssertEqual(back.tensors, loaded.model.tensors)
        XCTAssertEqual(back.metadata, loaded.model.metadata)
        var again = MemorySink()
        try SafetensorsWriter.write(tensors: back.tensors, metadata: back.metadata, to: &again)
        XCTAssertEqual(again.bytes, bytes)
    }

    func testFourBitTensorsAreRefused() throws {
        let t = try Tensor(name: "q", dtype: .i4, shape: [4], data: TensorData(bytes: [0x12, 0x34]))
        var sink = MemorySink()
        XCTAssertThrowsError(try SafetensorsWriter.write(tensors: [t], metadata: [:], to: &sink)) {
            guard case .unrepresentable = $0 as? SafetensorsError else { return XCTFail("\($0)") }
        }
    }

    func testShardedSetReadsFromIndexOrAnyShard() throws {
        let viaIndex = try ModelIO.read(path: fixture("safetensors/sharded/model.safetensors.index.json"))
        let viaShard = try ModelIO.read(path: fixture("safetensors/sharded/model-00002-of-00002.safetensors"))
        let single = try ModelIO.read(path: fixture("safetensors/mlp.safetensors"))
        XCTAssertEqual(Set(viaIndex.model.tensors.map(\.name)), ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"])
        XCTAssertEqual(viaIndex.model.tensors, viaShard.model.tensors)
        for t in viaIndex.model.tensors { XCTAssertEqual(t, single.model.tensor(named: t.name), t.name) }
        XCTAssertEqual(viaIndex.identities.count, 3, "the index and both shards are inputs")
    }

    func testShardedWriteAndReadBack() throws {
        let dir = try temporaryDirectory(self)
        let model = try ModelIO.read(path: fixture("safetensors/mlp.safetensors")).model
        try ModelIO.write(model, to: dir + "/model.safetensors", format: .safetensors, shardSize: 2100)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        XCTAssertEqual(files, ["model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors",
                               "model-00003-of-00003.safetensors", "model.safetensors.index.json"])
        let back = try ModelIO.read(path: dir + "/model.safetensors.index.json")
        XCTAssertEqual(Set(back.model.tensors.map(\.name)), Set(model.tensors.map(\.name)))
        for t in model.tensors { XCTAssertEqual(back.model.tensor(named: t.name), t) }
        let index = try JSONParser.parse(String(decoding: try Data(contentsOf: URL(fileURLWithPath: dir + "/model.safetensors.index.json")), as: UTF8.self))
        XCTAssertEqual(index["metadata"]?["total_size"], .number(String(model.storedBytes)))
    }

    static let malformed: [String: SafetensorsError] = [
        "too-short": .tooShort(fileSize: 5),
        "header-too-large": .headerTooLarge(length: 200_000_000),
        "header-past-end": .headerPastEnd(length: 4096, fileSize: 200),
        "invalid-utf8": .headerNotUTF8,
        "invalid-json": .invalidJSON(JSONError(reason: "unterminated object", offset: 160)),
        "not-an-object": .headerNotAnObject,
        "unknown-dtype": .unknownDType(tensor: "b", dtype: "Q7"),
        "offsets-gap": .offsetsGap(tensor: "b", begin: 20, expected: 16),
        "offsets-overlap": .offsetsOverlap(tensor: "b", begin: 12, previousEnd: 16),
        "trailing-bytes": .trailingBytes(dataEnd: 32, bufferSize: 40),
        "length-mismatch": .lengthMismatch(tensor: "b", expected: 24, actual: 16),
        "shape-overflow": .shapeOverflow(tensor: "b", shape: [1 << 62, 1 << 62]),
        "negative-dim": .invalidEntry(tensor: "b", reason: "shape entry -2 is not a non-negative integer"),
        "bad-offsets-type": .invalidEntry(tensor: "b", reason: "data_offsets is not [BEGIN, END] of non-negative integers"),
        "bad-offsets-count": .invalidEntry(tensor: "b", reason: "data_offsets is not [BEGIN, END] of non-negative integers"),
        "metadata-not-strings": .invalidMetadata("the value of 'note' is not a string"),
        "duplicate-key": .invalidJSON(JSONError(reason: "duplicate key \"b\"", offset: 158)),
        "begin-after-end": .offsetsInvalid(tensor: "b", begin: 32, end: 16),
        "duplicate-metadata": .invalidJSON(JSONError(reason: "duplicate key \"__metadata__\"", offset: 158)),
        "header-bom": .headerNotAnObject,
        "header-empty": .headerNotAnObject,
        "nul-padding": .invalidJSON(JSONError(reason: "unexpected content after the value", offset: 158)),
    ]

    func testEveryMalformedFixtureGivesItsExactError() throws {
        let dir = fixturesURL.appendingPathComponent("safetensors/malformed")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".safetensors") }
        XCTAssertEqual(Set(files.map { String($0.dropLast(".safetensors".count)) }), Set(Self.malformed.keys))
        for file in files.sorted() {
            let path = dir.appendingPathComponent(file).path
            let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
            XCTAssertThrowsError(try SafetensorsReader.read(bytes.withUnsafeBytes { ByteBuffer.copying($0) }), file) {
                XCTAssertEqual($0 as? SafetensorsError, Self.malformed[String(file.dropLast(".safetensors".count))], file)
            }
            // Through the CLI's path the message names the file.
            XCTAssertThrowsError(try ModelIO.read(path: path)) { XCTAssertTrue("\($0)".hasPrefix(path + ": "), "\($0)") }
        }
    }

    /// Unusual files the reference library accepts are accepted too (fixtures/safetensors/edge).
    func testEdgeCasesTheReferenceAcceptsAreAccepted() throws {
        let dir = fixturesURL.appendingPathComponent("safetensors/edge")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".safetensors") }
        XCTAssertGreaterThan(files.count, 5)
        for file in files { XCTAssertNoThrow(try ModelIO.read(path: dir.appendingPathComponent(file).path), file) }
    }

    /// Each broken set in fixtures/safetensors/malformed/sharded gives its exact error, naming
    /// the index (or, for a missing shard, the shard's path).
    func testBrokenShardedSetsGiveTheirExactError() throws {
        let dir = fixturesURL.appendingPathComponent("safetensors/malformed/sharded").path
        let second = "model-00002-of-00002.safetensors"
        let expected: [String: SafetensorsError] = [
            // Shard 1 holds b too, which the map gives to shard 2.
            "index-duplicate-tensor": .shardUnexpectedTensor(shard: "model-00001-of-00002.safetensors", tensor: "b"),
            // ../outside.safetensors exists: only the containment check can stop it.
            "index-escape": .shardEscapes("../outside.safetensors"),
            "index-tensor-not-in-shard": .shardMissingTensor(shard: second, tensor: "c"),
        ]
        let sets = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("index-") }
        XCTAssertEqual(Set(sets), Set(expected.keys).union(["index-missing-shard"]))
        for (name, error) in expected {
            let index = "\(dir)/\(name)/model.safetensors.index.json"
            XCTAssertThrowsError(try ModelIO.read(path: index), name) {
                guard let e = $0 as? ModelFileError, case .invalid(let inner) = e.kind else { return XCTFail("\(name): \($0)") }
                XCTAssertEqual(e.path, index, name)
                XCTAssertEqual(inner as? SafetensorsError, error, name)
            }
        }
        let missing = "\(dir)/index-missing-shard/\(second)"
        XCTAssertThrowsError(try ModelIO.read(path: "\(dir)/index-missing-shard/model.safetensors.index.json")) {
            XCTAssertEqual($0 as? FileError, .cannotOpen(path: missing, errno: ENOENT))
        }
    }

    /// Shards are held inside the index's folder by the same realpath check as ONNX external
    /// data: a link leading out and a backslash are refused like `..`.
    func testShardLinksAndBackslashesAreRefused() throws {
        let dir = try temporaryDirectory(self)
        let set = dir + "/set"
        try FileManager.default.createDirectory(atPath: set, withIntermediateDirectories: false)
        let shard = Array(try Data(contentsOf: URL(fileURLWithPath: fixture("safetensors/mlp.safetensors"))))
        FileManager.default.createFile(atPath: dir + "/outside.safetensors", contents: Data(shard))
        try FileManager.default.createSymbolicLink(atPath: set + "/link.safetensors", withDestinationPath: "../outside.safetensors")
        let names = try SafetensorsReader.read(shard.withUnsafeBytes { ByteBuffer.copying($0) }).model.tensors.map(\.name)
        for file in ["link.safetensors", "a\\b.safetensors"] {
            let map = names.map { "\(JSONWriter.quote($0)): \(JSONWriter.quote(file))" }.joined(separator: ", ")
            let index = set + "/model.safetensors.index.json"
            FileManager.default.createFile(atPath: index, contents: Data("{\"weight_map\": {\(map)}}".utf8))
            XCTAssertThrowsError(try ModelIO.read(path: index), file) {
                guard let e = $0 as? ModelFileError, case .invalid(let inner) = e.kind else { return XCTFail("\(file): \($0)") }
                XCTAssertEqual(inner as? SafetensorsError, .shardEscapes(file), file)
            }
        }
    }

    /// Every prefix and random corruption of a valid file is rejected or read, never a crash.
    func testTruncationAndCorruptionNeverCrash() throws {
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: fixture("safetensors/all-dtypes.safetensors"))))
        for n in 0..<bytes.count {
            XCTAssertThrowsError(try SafetensorsReader.read(Array(bytes[0..<n]).withUnsafeBytes { ByteBuffer.copying($0) }))
        }
        for seed in 1...2000 {
            var mutant = bytes
            let noise = pseudoRandomBytes(4, seed: UInt64(seed))
            mutant[(Int(noise[0]) << 8 | Int(noise[1])) % mutant.count] ^= noise[2] | 1
            _ = try? SafetensorsReader.read(mutant.withUnsafeBytes { ByteBuffer.copying($0) })
        }
    }

    func testJSONParserLimits() throws {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        XCTAssertThrowsError(try JSONParser.parse(deep)) { XCTAssertEqual(($0 as? JSONError)?.reason, "nesting deeper than 64") }
        XCTAssertEqual(try JSONParser.parse(#"{"a":[1,-2.5e3,"\u00e9\ud83d\ude00"],"b":null}"#)["a"],
                       .array([.number("1"), .number("-2.5e3"), .string("é😀")]))
        for bad in ["{", "[1,]", "01", "\"\\x\"", "{\"a\":1,\"a\":2}", "\"\u{1}\"", "nul", "1 2"] {
            XCTAssertThrowsError(try JSONParser.parse(bad), bad)
        }
        XCTAssertEqual(try JSONParser.parse("18446744073709551615").description, "18446744073709551615", "exact integers")
    }
}

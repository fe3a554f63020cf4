import AICompressCore
@testable import AICompressFormats
import Foundation
import XCTest

/// One malformed split set per `GGUFSplitError` case, built in the test as files in a folder
/// and read through `ModelIO` (names, the side-file resolver), and the exact case it must raise.
final class GGUFSplitMalformedTests: XCTestCase {
    private var dir = ""

    override func setUpWithError() throws { dir = try temporaryDirectory(self) }

    /// The split keys in gguf-split's order.
    private func keys(no: Int, count: Int, tensors: Int) -> [GGUFKeyValue] {
        [GGUFKeyValue(GGUFSplit.numberKey, .uint16(UInt16(no))), GGUFKeyValue(GGUFSplit.tensorsCountKey, .int32(Int32(tensors))),
         GGUFKeyValue(GGUFSplit.countKey, .uint16(UInt16(count)))]
    }

    /// Writes `name` in the folder: `kvs`, and an f32 [4] tensor per name in `tensors`.
    @discardableResult
    private func file(_ name: String, _ kvs: [GGUFKeyValue], tensors: [String]) throws -> String {
        var sink = MemorySink()
        try GGUFWriter.write(metadata: kvs, tensors: tensors.map { ($0, GGMLType.f32, [4], TensorData(bytes: [UInt8](repeating: 1, count: 16))) },
                             to: &sink)
        let path = dir + "/" + name
        try Data(sink.bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    private func expect(_ path: String, _ expected: GGUFSplitError, exit kind: FaultKind = .data,
                        file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try ModelIO.read(path: path), file: file, line: line) { error in
            XCTAssertEqual(error as? GGUFSplitError, expected, "\(error)", file: file, line: line)
            XCTAssertEqual((error as? any DataFault)?.faultKind, kind, file: file, line: line)
            XCTAssertFalse("\(error)".contains("\n"), "one line", file: file, line: line)
        }
    }

    private let arch = GGUFKeyValue("general.architecture", .text("llama"))

    func testAWellFormedPairReads() throws {
        let first = try file("m-00001-of-00002.gguf", [arch] + keys(no: 0, count: 2, tensors: 2), tensors: ["a"])
        try file("m-00002-of-00002.gguf", keys(no: 1, count: 2, tensors: 2), tensors: ["b"])
        let loaded = try ModelIO.read(path: first)
        XCTAssertEqual(loaded.model.tensors.map(\.name), ["a", "b"])
        XCTAssertEqual(try GGUFModelMetadata.pairs(loaded.model.metadata), [arch])
    }

    func testKeyTypes() throws {
        let count32 = try file("a-00001-of-00002.gguf", [GGUFKeyValue(GGUFSplit.countKey, .uint32(2))], tensors: ["a"])
        expect(count32, .keyType(file: count32, key: GGUFSplit.countKey, type: .uint32))
        let no8 = try file("b-00001-of-00002.gguf", [GGUFKeyValue(GGUFSplit.numberKey, .uint8(0)), GGUFKeyValue(GGUFSplit.countKey, .uint16(2))],
                           tensors: ["a"])
        expect(no8, .keyType(file: no8, key: GGUFSplit.numberKey, type: .uint8))
        let t64 = try file("c-00001-of-00002.gguf", [GGUFKeyValue(GGUFSplit.numberKey, .uint16(0)), GGUFKeyValue(GGUFSplit.countKey, .uint16(2)),
                                                     GGUFKeyValue(GGUFSplit.tensorsCountKey, .int64(2))], tensors: ["a"])
        expect(t64, .keyType(file: t64, key: GGUFSplit.tensorsCountKey, type: .int64))
    }

    func testMissingKeys() throws {
        let noNumber = try file("a-00001-of-00002.gguf", [GGUFKeyValue(GGUFSplit.countKey, .uint16(2))], tensors: ["a"])
        expect(noNumber, .missingKey(file: noNumber, key: GGUFSplit.numberKey))
        let noTensors = try file("b-00001-of-00002.gguf", [GGUFKeyValue(GGUFSplit.numberKey, .uint16(0)), GGUFKeyValue(GGUFSplit.countKey, .uint16(2))],
                                 tensors: ["a"])
        expect(noTensors, .missingKey(file: noTensors, key: GGUFSplit.tensorsCountKey))
    }

    func testNumberOutOfRangeAndNegativeCount() throws {
        let p = try file("a-00003-of-00002.gguf", keys(no: 2, count: 2, tensors: 1), tensors: ["a"])
        expect(p, .numberOutOfRange(file: p, number: 2, count: 2))
        let n = try file("b-00001-of-00002.gguf", keys(no: 0, count: 2, tensors: -1), tensors: ["a"])
        expect(n, .negativeTensorCount(file: n, count: -1))
    }

    func testNameMustMatchTheKeys() throws {
        let p = try file("renamed.gguf", keys(no: 0, count: 2, tensors: 2), tensors: ["a"])
        expect(p, .unexpectedName(file: p, expectedSuffix: "-00001-of-00002.gguf"))
        let q = try file("m-00002-of-00002.gguf", keys(no: 0, count: 2, tensors: 2), tensors: ["a"])
        expect(q, .unexpectedName(file: q, expectedSuffix: "-00001-of-00002.gguf"))
    }

    func testMissingShard() throws {
        let first = try file("m-00001-of-00003.gguf", keys(no: 0, count: 3, tensors: 3), tensors: ["a"])
        try file("m-00002-of-00003.gguf", keys(no: 1, count: 3, tensors: 3), tensors: ["b"])
        expect(first, .missingShard(file: dir + "/m-00003-of-00003.gguf", number: 2, count: 3), exit: .noInput)
    }

    func testShardFromStandardInput() throws {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: try file("m-00001-of-00002.gguf", keys(no: 0, count: 2, tensors: 2), tensors: ["a"])))
        let parsed = try GGUFReader.read(Array(bytes).withUnsafeBytes { ByteBuffer.copying($0) })
        XCTAssertThrowsError(try GGUFSplitReader.assemble(given: parsed, path: "-") { _, _, _ in XCTFail("opened"); throw SideFileError.unavailable("") }) {
            XCTAssertEqual($0 as? GGUFSplitError, .fromStandardInput(count: 2))
            XCTAssertEqual(($0 as? any DataFault)?.faultKind, .noInput)
        }
    }

    func testShardsThatDisagree() throws {
        let first = try file("m-00001-of-00002.gguf", keys(no: 0, count: 2, tensors: 2), tensors: ["a"])
        let second = try file("m-00002-of-00002.gguf", [], tensors: ["b"])
        expect(first, .notAShard(file: second))
        try file("m-00002-of-00002.gguf", keys(no: 1, count: 3, tensors: 2), tensors: ["b"])
        expect(first, .countMismatch(file: second, count: 3, expected: 2))
        try file("m-00002-of-00002.gguf", keys(no: 0, count: 2, tensors: 2), tensors: ["b"])
        expect(first, .numberMismatch(file: second, number: 0, expected: 1))
        try file("m-00002-of-00002.gguf", keys(no: 1, count: 2, tensors: 3), tensors: ["b"])
        expect(first, .tensorsCountMismatch(file: second, count: 3, expected: 2))
        // Read from the second shard, the first is the reference.
        expect(second, .tensorsCountMismatch(file: second, count: 3, expected: 2))
    }

    func testTensorsAcrossShards() throws {
        let first = try file("m-00001-of-00002.gguf", keys(no: 0, count: 2, tensors: 2), tensors: ["a"])
        let second = try file("m-00002-of-00002.gguf", keys(no: 1, count: 2, tensors: 2), tensors: ["a"])
        expect(first, .duplicateTensor(tensor: "a", file: second, otherFile: first))
        try file("m-00002-of-00002.gguf", keys(no: 1, count: 2, tensors: 2), tensors: ["b", "c"])
        expect(first, .tensorCountMismatch(file: first, expected: 2, found: 3))
        try file("m-00002-of-00002.gguf", keys(no: 1, count: 2, tensors: 2), tensors: [])
        expect(first, .tensorCountMismatch(file: first, expected: 2, found: 1))
    }

    func testSingleShardSetMustCountItsTensors() throws {
        let p = try file("one-00001-of-00001.gguf", keys(no: 0, count: 1, tensors: 2), tensors: ["a"])
        expect(p, .tensorCountMismatch(file: p, expected: 2, found: 1))
        // split.count 0 (llama-gguf-split --merge output) is a plain file; its split keys are dropped.
        let merged = try file("merged.gguf", [arch] + keys(no: 0, count: 0, tensors: 1), tensors: ["a"])
        XCTAssertEqual(try GGUFModelMetadata.pairs(try ModelIO.read(path: merged).model.metadata), [arch])
    }

    func testABrokenShardIsNamed() throws {
        let first = try file("m-00001-of-00002.gguf", keys(no: 0, count: 2, tensors: 2), tensors: ["a"])
        let second = dir + "/m-00002-of-00002.gguf"
        try Data([0x47, 0x47, 0x55, 0x46, 3, 0, 0, 0]).write(to: URL(fileURLWithPath: second))
        XCTAssertThrowsError(try ModelIO.read(path: first)) { error in
            guard let e = error as? ModelFileError else { return XCTFail("\(error)") }
            XCTAssertEqual(e.path, second)
            XCTAssertEqual("\(e)", "\(second): truncated: tensor count at offset 8 needs 8 bytes past the end of the file")
        }
    }

    func testAShardLinkLeadingOutIsRefused() throws {
        let outside = try temporaryDirectory(self)
        let first = try file("m-00001-of-00002.gguf", keys(no: 0, count: 2, tensors: 2), tensors: ["a"])
        let elsewhere = try file("x.gguf", keys(no: 1, count: 2, tensors: 2), tensors: ["b"])
        try FileManager.default.moveItem(atPath: elsewhere, toPath: outside + "/x.gguf")
        try FileManager.default.createSymbolicLink(atPath: dir + "/m-00002-of-00002.gguf", withDestinationPath: outside + "/x.gguf")
        XCTAssertThrowsError(try ModelIO.read(path: first)) {
            XCTAssertEqual($0 as? SideFileError, .outsideFolder("m-00002-of-00002.gguf"), "\($0)")
        }
    }
}

import AICompressCore
@testable import AICompressFormats
import XCTest

/// One malformed input per GGUFError case of the reader, built in the test, and the exact case
/// it must raise (STYLE habits 1 and 2).
final class GGUFMalformedTests: XCTestCase {
    private func expect(_ bytes: [UInt8], _ expected: GGUFError, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try readGGUF(bytes), file: file, line: line) { error in
            XCTAssertEqual(error as? GGUFError, expected, file: file, line: line)
            XCTAssertFalse("\(error)".isEmpty, file: file, line: line)
        }
    }

    /// A file with one metadata pair whose type and payload are given.
    private func oneKV(_ key: [UInt8], type: UInt32, payload: (inout GGUFBytes) -> Void) -> [UInt8] {
        var g = GGUFBytes.header(tensors: 0, kvs: 1)
        g.str(key)
        g.u32(type)
        payload(&g)
        return g.bytes
    }

    func testHeader() {
        expect([0x47, 0x47, 0x55], .truncated(what: "magic", offset: 0, needed: 4))
        expect([0x47, 0x47, 0x55, 0x46, 3, 0, 0, 0], .truncated(what: "tensor count", offset: 8, needed: 8))
    }

    func testBadMagic() {
        var g = GGUFBytes.header(tensors: 0, kvs: 0)
        g.bytes[0] = 0x46
        expect(g.bytes, .badMagic(0x4655_4746))
    }

    func testVersions() {
        expect(GGUFBytes.header(version: 1, tensors: 0, kvs: 0).bytes, .unsupportedVersion(1))
        expect(GGUFBytes.header(version: 4, tensors: 0, kvs: 0).bytes, .unsupportedVersion(4))
        expect(GGUFBytes.header(version: 0x0300_0000, tensors: 0, kvs: 0).bytes, .unsupportedVersion(0x0300_0000))
        XCTAssertEqual(try readGGUF(GGUFBytes.header(version: 2, tensors: 0, kvs: 0).bytes).version, 2)
        XCTAssertEqual(try readGGUF(GGUFBytes.header(version: 3, tensors: 0, kvs: 0).bytes).version, 3)
    }

    func testCountsAgainstTheFile() {
        expect(GGUFBytes.header(tensors: 1 << 40, kvs: 0).bytes, .countExceedsFile(what: "tensor", count: 1 << 40, offset: 8, remaining: 0))
        expect(GGUFBytes.header(tensors: 0, kvs: UInt64.max).bytes, .countExceedsFile(what: "metadata", count: UInt64.max, offset: 16, remaining: 0))
        var g = GGUFBytes.header(tensors: 0, kvs: 1)
        g.u64(1 << 30)  // key length far past the end
        g.bytes += [UInt8](repeating: 0x61, count: 8)
        expect(g.bytes, .truncated(what: "metadata key 0", offset: 32, needed: 1 << 30))
    }

    func testKeys() {
        expect(oneKV([], type: 4) { $0.u32(1) } + [0], .emptyKey(index: 0, offset: 24))
        expect(oneKV([0xFF, 0xFE], type: 4) { $0.u32(1) }, .keyNotUTF8(offset: 24))
        var g = GGUFBytes.header(tensors: 0, kvs: 2)
        g.kvU32("a.b", 1)
        g.kvU32("a.b", 2)
        expect(g.bytes, .duplicateKey("a.b", offset: 43))
    }

    func testValues() {
        expect(oneKV(Array("k".utf8), type: 13) { $0.u32(0) }, .invalidValueType(key: "k", type: 13, offset: 33))
        expect(oneKV(Array("k".utf8), type: 7) { $0.u8(2) }, .invalidBool(key: "k", value: 2, offset: 37))
        expect(oneKV(Array("k".utf8), type: 9) { g in g.u32(7); g.u64(2); g.u8(1); g.u8(5) },
               .invalidBool(key: "k", value: 5, offset: 50))
        expect(oneKV(Array("k".utf8), type: 9) { g in g.u32(77); g.u64(0) }, .invalidValueType(key: "k", type: 77, offset: 37))
        expect(oneKV(Array("k".utf8), type: 8) { g in g.u64(100); g.u8(0x41) }, .truncated(what: "string value of 'k'", offset: 45, needed: 100))
        expect(oneKV(Array("k".utf8), type: 6) { g in g.u8(0) }, .truncated(what: "FLOAT32 value of 'k'", offset: 37, needed: 4))
    }

    func testArrays() {
        expect(oneKV(Array("k".utf8), type: 9) { g in g.u32(0); g.u64((1 << 30) + 1) },
               .arrayTooLong(key: "k", count: (1 << 30) + 1, offset: 41))
        expect(oneKV(Array("k".utf8), type: 9) { g in g.u32(8); g.u64(1000); g.u64(0) },
               .countExceedsFile(what: "array 'k' element", count: 1000, offset: 41, remaining: 8))
        // Nine levels of arrays of one array; the innermost would be empty u8.
        let deep = oneKV(Array("k".utf8), type: 9) { g in
            for _ in 0..<9 { g.u32(9); g.u64(1) }
            g.u32(0); g.u64(0)
        }
        expect(deep, .arrayTooDeep(key: "k", offset: 37 + 12 * 8))
        let ok = oneKV(Array("k".utf8), type: 9) { g in
            for _ in 0..<7 { g.u32(9); g.u64(1) }
            g.u32(0); g.u64(0)
        }
        XCTAssertNoThrow(try readGGUF(ok))
    }

    func testAlignment() {
        var g = GGUFBytes.header(tensors: 0, kvs: 1)
        g.str("general.alignment")
        g.u32(GGUFValueType.uint64.rawValue)
        g.u64(32)
        expect(g.bytes, .alignmentNotU32(.uint64))
        expect(ggufWithTensors([], dataBytes: 0, kvs: [("general.alignment", 12)]), .invalidAlignment(12))
        expect(ggufWithTensors([], dataBytes: 0, kvs: [("general.alignment", 0)]), .invalidAlignment(0))
        XCTAssertEqual(try readGGUF(ggufWithTensors([], dataBytes: 0, kvs: [("general.alignment", 24)])).alignment, 24)
    }

    func testTensorNames() {
        expect(ggufWithTensors([("", [4], 0, 0)], dataBytes: 16), .emptyTensorName(index: 0, offset: 24))
        var g = GGUFBytes.header(tensors: 1, kvs: 0)
        g.str([0xC3, 0x28])
        g.u32(1); g.u64(4); g.u32(0); g.u64(0)
        expect(g.bytes, .tensorNameNotUTF8(offset: 24))
        let long = String(repeating: "n", count: 64)
        expect(ggufWithTensors([(long, [4], 0, 0)], dataBytes: 16), .tensorNameTooLong(long, length: 64, offset: 24))
        XCTAssertNoThrow(try readGGUF(ggufWithTensors([(String(long.dropLast()), [4], 0, 0)], dataBytes: 16)))
        expect(ggufWithTensors([("a", [4], 0, 0), ("a", [4], 0, 32)], dataBytes: 64), .duplicateTensorName("a", offset: 57))
    }

    func testDimensions() {
        expect(ggufWithTensors([("t", [1, 1, 1, 1, 1], 0, 0)], dataBytes: 4), .tooManyDimensions(tensor: "t", count: 5, offset: 33))
        expect(ggufWithTensors([("t", [1 << 63], 0, 0)], dataBytes: 4), .dimensionTooLarge(tensor: "t", dimension: 1 << 63, offset: 37))
        expect(ggufWithTensors([("t", [1 << 32, 1 << 32], 0, 0)], dataBytes: 4), .shapeOverflow(tensor: "t", dims: [1 << 32, 1 << 32]))
        // Elements fit, bytes do not (f32: 4 bytes each).
        expect(ggufWithTensors([("t", [1 << 31, 1 << 31], 0, 0)], dataBytes: 4), .shapeOverflow(tensor: "t", dims: [1 << 31, 1 << 31]))
    }

    func testTensorTypes() {
        expect(ggufWithTensors([("t", [256], 15, 0)], dataBytes: 292), .tensorType(tensor: "t", .unsupportedType(id: 15, name: "Q8_K"), offset: 45))
        expect(ggufWithTensors([("t", [32], 99, 0)], dataBytes: 64), .tensorType(tensor: "t", .unknownType(id: 99), offset: 45))
        expect(ggufWithTensors([("t", [33, 2], 8, 0)], dataBytes: 128), .rowNotWholeBlocks(tensor: "t", rowLength: 33, type: .q8_0))
    }

    func testOffsets() {
        expect(ggufWithTensors([("t", [4], 0, 4)], dataBytes: 32), .misalignedOffset(tensor: "t", offset: 4, alignment: 32))
        expect(ggufWithTensors([("t", [8], 0, 0)], dataBytes: 16), .tensorPastEnd(tensor: "t", begin: 64, end: 96, fileSize: 80))
        expect(ggufWithTensors([("t", [8], 0, UInt64.max - 31)], dataBytes: 32),
               .tensorPastEnd(tensor: "t", begin: .max, end: .max, fileSize: 96))
        expect(ggufWithTensors([("a", [16], 0, 0), ("b", [4], 0, 32)], dataBytes: 96),
               .tensorsOverlap(tensor: "b", other: "a", begin: 128, otherEnd: 160))
        // Zero-size tensors overlap nothing; the padding before the data must be in the file.
        XCTAssertNoThrow(try readGGUF(ggufWithTensors([("a", [0], 0, 0), ("b", [4], 0, 0)], dataBytes: 16)))
        var g = GGUFBytes.header(tensors: 1, kvs: 0)
        g.tensor("t", dims: [0], type: 0, offset: 0)
        expect(g.bytes, .truncated(what: "padding before the data section", offset: 57, needed: 7))
    }
}

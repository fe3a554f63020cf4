import AICompressCore
@testable import AICompressFormats
import Foundation
import XCTest

/// Reading gguf-py's files (fixtures/gguf/valid/, made by fixtures/gguf/make_gguf_fixtures.py),
/// writing them back byte for byte, and the writer's own checks.
final class GGUFTests: XCTestCase {
    private let files = ["gguf-py-v3.gguf", "gguf-py-align64.gguf"]

    private func listing() throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: fixture("gguf/valid/valid.json")))
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    private func read(_ name: String) throws -> GGUFFile {
        try GGUFReader.read(try InputFile(path: fixture("gguf/valid/" + name)).buffer)
    }

    func testReadsEverythingGGUFPyWrote() throws {
        let all = try listing()
        for name in files {
            let expected = try XCTUnwrap(all[name] as? [String: Any])
            let file = try read(name)
            XCTAssertEqual(file.version, 3)
            XCTAssertEqual(file.alignment, expected["alignment"] as? Int, name)
            XCTAssertEqual(file.dataOffset % file.alignment, 0)
            let keys = try XCTUnwrap(expected["keys"] as? [String: Int])
            XCTAssertEqual(Dictionary(uniqueKeysWithValues: file.metadata.map { ($0.key, Int($0.value.type.rawValue)) }), keys, name)
            let tensors = try XCTUnwrap(expected["tensors"] as? [[String: Any]])
            XCTAssertEqual(file.tensors.map(\.info.name), tensors.compactMap { $0["name"] as? String })
            for (t, e) in zip(file.tensors, tensors) {
                XCTAssertEqual(t.info.type.name, e["type"] as? String, t.info.name)
                let dims = try XCTUnwrap(e["dims"] as? [Int])
                XCTAssertEqual(t.info.dims.map { Int($0) }, dims, t.info.name)
                XCTAssertEqual(t.info.shape, dims.reversed(), t.info.name)
                XCTAssertEqual(t.data.withUnsafeBytes { SHA256.hex($0) }, e["sha256"] as? String, t.info.name)
                XCTAssertTrue(t.data.buffer === file.buffer, "zero-copy view")
            }
        }
    }

    func testMetadataValues() throws {
        let f = try read("gguf-py-v3.gguf")
        XCTAssertEqual(f["general.architecture"]?.stringValue, "llama")
        XCTAssertEqual(f["test.u8"], .uint8(200))
        XCTAssertEqual(f["test.i8"], .int8(-100))
        XCTAssertEqual(f["test.u16"], .uint16(60000))
        XCTAssertEqual(f["test.i16"], .int16(-30000))
        XCTAssertEqual(f["test.u32"], .uint32(4_000_000_000))
        XCTAssertEqual(f["test.i32"], .int32(-2_000_000_000))
        XCTAssertEqual(f["test.f32"], .float32(0.1))
        XCTAssertEqual(f["test.bool"], .bool(true))
        XCTAssertEqual(f["test.string"]?.stringValue, "héllo, GGUF")
        XCTAssertEqual(f["test.u64"], .uint64((1 << 63) + 5))
        XCTAssertEqual(f["test.i64"], .int64(-(1 << 62)))
        XCTAssertEqual(f["test.f64"], .float64(2.5e-300))
        XCTAssertEqual(f["general.file_type"]?.integerValue, 7)
        guard case .array(let ints) = f["test.array.i32"], case .array(let strings) = f["test.array.strings"],
              case .array(let bools) = f["test.array.bool"], case .array(let nested) = f["test.array.nested"],
              case .array(let nestedStrings) = f["test.array.nested_strings"] else { return XCTFail("arrays") }
        XCTAssertEqual(ints.values, [.int32(1), .int32(-2), .int32(3)])
        XCTAssertEqual(strings.strings, ["a", "", "<0x0A>", "ünïcode"])
        XCTAssertEqual(bools.values, [.bool(true), .bool(false), .bool(true)])
        XCTAssertEqual(nested.elementType, .array)
        XCTAssertEqual(nested.values, [.array(try GGUFArray(.int32, [.int32(1), .int32(2)])), .array(try GGUFArray(.int32, [.int32(3)]))])
        XCTAssertEqual(nestedStrings[1], .array(GGUFArray(strings: ["z"])))
    }

    /// read → write gives gguf-py's bytes exactly (same layout rules, same padding).
    func testRoundTripIsByteIdentical() throws {
        for name in files {
            let original = try Array(Data(contentsOf: URL(fileURLWithPath: fixture("gguf/valid/" + name))))
            var sink = MemorySink()
            try GGUFWriter.write(try read(name), to: &sink)
            XCTAssertEqual(sink.bytes.count, original.count, name)
            XCTAssertTrue(sink.bytes == original, name)
            XCTAssertEqual(try GGUFWriter(metadata: try read(name).metadata, tensors: try read(name).tensors.map {
                ($0.info.name, $0.info.type, $0.info.shape) }).totalBytes, original.count)
        }
    }

    /// The writer lays out from shapes and types, streams in order, and checks what it is given.
    func testWriterFromScratch() throws {
        let values = (0..<(4 * 256)).map { Float(sin(Double($0))) }
        let q4k = TensorData(bytes: try GGMLType.q4_K.quantize(values))
        let f32 = TensorData(values: [Float](repeating: 1.5, count: 6))
        let kv = [GGUFKeyValue("general.architecture", .text("llama")), GGUFKeyValue("general.alignment", .uint32(64)),
                  GGUFKeyValue("tokenizer.ggml.tokens", .array(GGUFArray(strings: ["<s>", "a"])))]
        var w = try GGUFWriter(metadata: kv, tensors: [("w", .q4_K, [4, 256]), ("b", .f32, [2, 3])])
        XCTAssertEqual(w.tensors.map(\.offset), [0, 576])
        XCTAssertEqual(w.tensors[0].dims, [256, 4])
        var sink = MemorySink()
        XCTAssertThrowsError(try w.append(q4k, to: &sink)) { XCTAssertEqual($0 as? GGUFError, .writeOrder("append before begin")) }
        try w.begin(&sink)
        XCTAssertThrowsError(try w.finish()) { XCTAssertEqual($0 as? GGUFError, .writeOrder("0 of 2 tensors written")) }
        XCTAssertThrowsError(try w.append(f32, to: &sink)) {
            XCTAssertEqual($0 as? GGUFError, .dataLengthMismatch(tensor: "w", expected: 576, actual: 24))
        }
        try w.append(q4k, to: &sink)
        try w.append(f32, to: &sink)
        XCTAssertThrowsError(try w.append(f32, to: &sink)) { XCTAssertEqual($0 as? GGUFError, .writeOrder("more tensors than the 2 declared")) }
        try w.finish()
        XCTAssertEqual(sink.bytes.count, w.totalBytes)
        let back = try readGGUF(sink.bytes)
        XCTAssertEqual(back.alignment, 64)
        XCTAssertEqual(back.metadata, kv)
        XCTAssertEqual(back.tensors.map(\.info), w.tensors)
        XCTAssertEqual(try GGMLType.q4_K.dequantize(back.tensors[0].data.byteArray), try GGMLType.q4_K.dequantize(q4k.byteArray))
        XCTAssertEqual(back.tensors[1].data.byteArray, f32.byteArray)
        var again = MemorySink()
        try GGUFWriter.write(back, to: &again)
        XCTAssertEqual(again.bytes, sink.bytes, "deterministic")
    }

    /// The metadata of a file survives encodeMetadata → decodeMetadata exactly.
    func testMetadataCoding() throws {
        let kv = try read("gguf-py-v3.gguf").metadata
        let bytes = GGUFWriter.encodeMetadata(kv)
        XCTAssertEqual(try bytes.withUnsafeBytes { try GGUFReader.decodeMetadata($0) }, kv)
        XCTAssertThrowsError(try (bytes + [0]).withUnsafeBytes { try GGUFReader.decodeMetadata($0) }) {
            XCTAssertEqual($0 as? GGUFError, .countExceedsFile(what: "metadata", count: UInt64(kv.count), offset: 0, remaining: 1))
        }
    }

    func testWriterRefusals() {
        func refuse(_ kv: [GGUFKeyValue] = [], _ t: [(name: String, type: GGMLType, shape: [Int])], _ e: GGUFError, line: UInt = #line) {
            XCTAssertThrowsError(try GGUFWriter(metadata: kv, tensors: t), line: line) { XCTAssertEqual($0 as? GGUFError, e, line: line) }
        }
        refuse([], [("w", .q8_0, [2, 33])], .rowNotWholeBlocks(tensor: "w", rowLength: 33, type: .q8_0))
        refuse([], [("", .f32, [1])], .emptyTensorName(index: 0, offset: 0))
        refuse([], [("a", .f32, [1]), ("a", .f32, [1])], .duplicateTensorName("a", offset: 0))
        refuse([], [("a", .f32, [1, 1, 1, 1, 1])], .tooManyDimensions(tensor: "a", count: 5, offset: 0))
        refuse([], [("a", .f32, [1 << 40, 1 << 40])], .shapeOverflow(tensor: "a", dims: [1 << 40, 1 << 40]))
        refuse([GGUFKeyValue("general.alignment", .uint32(7))], [], .invalidAlignment(7))
        refuse([GGUFKeyValue("general.alignment", .uint32(24))], [], .invalidAlignment(24))
        refuse([GGUFKeyValue("k", .uint8(1)), GGUFKeyValue("k", .uint8(2))], [], .duplicateKey("k", offset: 0))
        XCTAssertThrowsError(try GGUFArray(.int32, [.int32(1), .uint8(2)])) {
            XCTAssertEqual($0 as? GGUFError, .unrepresentable("an array of INT32 holds a UINT8 value"))
        }
    }
}

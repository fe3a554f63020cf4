import AICompressCore
import AICompressFormats
import Foundation
import XCTest

/// Writes files for scripts/interop/gguf_check.py (gguf-py as the judge) into the folder named
/// by AICOMPRESS_GGUF_EXPORT; skipped when that is unset.
///
/// - `ours.gguf`: our writer's file with metadata of every value type and one tensor per type
///   we quantize, encoded by our quantizers from `input.f32`.
/// - `input.f32`: the float input (rows of 256).
/// - `<TYPE>.dequantized.f32`: our dequantizer's output for that tensor.
/// - `roundtrip.gguf`: `ours.gguf` read by our reader and written back.
final class GGUFInteropExportTests: XCTestCase {
    static let quantizedTypes: [GGMLType] = [.f32, .f16, .bf16, .q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .iq4_NL]

    func testExportForGGUFPy() throws {
        guard let dir = ProcessInfo.processInfo.environment["AICOMPRESS_GGUF_EXPORT"] else {
            throw XCTSkip("set AICOMPRESS_GGUF_EXPORT to a folder to export files for scripts/interop/gguf_check.py")
        }
        var s: UInt64 = 0x1234_5678
        let rows = 8
        let input: [Float] = (0..<(rows * 256)).map { i in
            s ^= s << 13; s ^= s >> 7; s ^= s << 17
            let u = Float(s >> 40) / Float(1 << 24) - 0.5
            return i % 97 == 0 ? u * 40 : u * Float(1 + i / 256)
        }
        try Data(input.withUnsafeBytes { Array($0) }).write(to: URL(fileURLWithPath: dir + "/input.f32"))
        var tensors = [(name: String, type: GGMLType, shape: [Int], data: TensorData)]()
        for t in Self.quantizedTypes {
            let bytes = try t.quantize(input)
            tensors.append(("blk.0.\(t.name.lowercased()).weight", t, [rows, 256], TensorData(bytes: bytes)))
            let back = try t.dequantize(bytes)
            try Data(back.withUnsafeBytes { Array($0) }).write(to: URL(fileURLWithPath: dir + "/\(t.name).dequantized.f32"))
        }
        let metadata: [GGUFKeyValue] = [
            GGUFKeyValue("general.architecture", .text("llama")),
            GGUFKeyValue("general.alignment", .uint32(64)),
            GGUFKeyValue("test.u8", .uint8(7)), GGUFKeyValue("test.i8", .int8(-7)),
            GGUFKeyValue("test.u16", .uint16(65535)), GGUFKeyValue("test.i16", .int16(-32768)),
            GGUFKeyValue("test.u32", .uint32(123_456)), GGUFKeyValue("test.i32", .int32(-123_456)),
            GGUFKeyValue("test.f32", .float32(-0.25)), GGUFKeyValue("test.bool", .bool(false)),
            GGUFKeyValue("test.string", .text("ünïcode ✓")), GGUFKeyValue("test.u64", .uint64(.max)),
            GGUFKeyValue("test.i64", .int64(.min)), GGUFKeyValue("test.f64", .float64(1e300)),
            GGUFKeyValue("test.array.u16", .array(try GGUFArray(.uint16, [.uint16(1), .uint16(2)]))),
            GGUFKeyValue("test.array.strings", .array(GGUFArray(strings: ["<s>", "", "▁the"]))),
            GGUFKeyValue("test.array.nested", .array(try GGUFArray(.array, [
                .array(try GGUFArray(.float32, [.float32(1.5)])), .array(try GGUFArray(.float32, [.float32(-2), .float32(3)])),
            ]))),
        ]
        var sink = MemorySink()
        try GGUFWriter.write(metadata: metadata, tensors: tensors, to: &sink)
        try Data(sink.bytes).write(to: URL(fileURLWithPath: dir + "/ours.gguf"))
        var again = MemorySink()
        try GGUFWriter.write(try GGUFReader.read(sink.bytes.withUnsafeBytes { ByteBuffer.copying($0) }), to: &again)
        try Data(again.bytes).write(to: URL(fileURLWithPath: dir + "/roundtrip.gguf"))
    }
}

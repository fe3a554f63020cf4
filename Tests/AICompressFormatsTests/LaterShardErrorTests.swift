import AICompressCore
@testable import AICompressFormats
import Foundation
import XCTest

/// A set whose second file is broken (a bad offset, a bad shape, a quantized group that does not
/// match its description), built in the test from a valid set by editing bytes in place: the
/// error names the second file, whichever file of the set is given, and is one line.
final class LaterShardErrorTests: XCTestCase {
    private var dir = ""

    override func setUpWithError() throws { dir = try temporaryDirectory(self) }

    /// `path`'s bytes with `old` replaced by `new` (same length, exactly one occurrence).
    private func edit(_ path: String, _ old: [UInt8], _ new: [UInt8], file: StaticString = #filePath, line: UInt = #line) throws {
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        XCTAssertEqual(old.count, new.count, file: file, line: line)
        var hits: [Int] = []
        for i in 0...(bytes.count - old.count) where Array(bytes[i..<(i + old.count)]) == old { hits.append(i) }
        XCTAssertEqual(hits.count, 1, "\(path): \(String(decoding: old, as: UTF8.self))", file: file, line: line)
        guard let at = hits.first else { return }
        bytes.replaceSubrange(at..<(at + old.count), with: new)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    /// Reading the set from each of `givens` fails with `message`, as a `ModelFileError` of `path`.
    private func expect(_ givens: [String], path: String, message: String, file: StaticString = #filePath, line: UInt = #line) {
        for given in givens {
            XCTAssertThrowsError(try ModelIO.read(path: given), given, file: file, line: line) { error in
                XCTAssertEqual((error as? ModelFileError)?.path, path, "\(given): \(error)", file: file, line: line)
                XCTAssertEqual("\(error)", "\(path): \(message)", given, file: file, line: line)
                XCTAssertEqual((error as? any DataFault)?.faultKind, .data, file: file, line: line)
            }
        }
    }

    /// A two-shard GGUF set: `a` (f32 [4]) in the first file, `bb` (f32 [4]) in the second.
    private func ggufSet() throws -> (first: String, second: String) {
        var model = Model()
        for t in try plain() { try model.append(t) }
        try ModelIO.write(model, to: dir + "/m.gguf", format: .gguf, shardSize: 16)
        return (dir + "/m-00001-of-00002.gguf", dir + "/m-00002-of-00002.gguf")
    }

    /// The tensor entry of `bb` in a GGUF file: name, n_dims, dims, type, offset.
    private func ggufEntry(dim: UInt64, offset: UInt64) -> [UInt8] {
        func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
        return le(UInt64(2)) + Array("bb".utf8) + le(UInt32(1)) + le(dim) + le(UInt32(0)) + le(offset)
    }

    func testGGUFLaterShardBadOffsetNamesIt() throws {
        let (first, second) = try ggufSet()
        try edit(second, ggufEntry(dim: 4, offset: 0), ggufEntry(dim: 4, offset: 4))
        expect([first, second], path: second, message: "tensor 'bb': data offset 4 is not a multiple of the alignment 32")
    }

    func testGGUFLaterShardBadShapeNamesIt() throws {
        let (first, second) = try ggufSet()
        let bytes = try Data(contentsOf: URL(fileURLWithPath: second))
        let data = try GGUFReader.read(bytes.withUnsafeBytes { ByteBuffer.copying($0) }).dataOffset
        try edit(second, ggufEntry(dim: 4, offset: 0), ggufEntry(dim: 64, offset: 0))
        expect([first, second], path: second,
               message: "tensor 'bb': data [\(data), \(data + 256)) runs past the end of a \(bytes.count)-byte file")
    }

    /// A two-shard safetensors set of one f32 tensor each (`a`, then `bb`).
    private func safetensorsSet(_ tensors: [Tensor]) throws -> (index: String, first: String, second: String) {
        var model = Model()
        for t in tensors { try model.append(t) }
        try ModelIO.write(model, to: dir + "/model.safetensors", format: .safetensors, shardSize: 16)
        return (dir + "/model.safetensors.index.json", dir + "/model-00001-of-00002.safetensors", dir + "/model-00002-of-00002.safetensors")
    }

    /// `a` and `bb`, f32 [4] each.
    private func plain() throws -> [Tensor] {
        [try Tensor(name: "a", shape: [4], floats: [1, 1, 1, 1]), try Tensor(name: "bb", shape: [4], floats: [2, 2, 2, 2])]
    }

    func testSafetensorsLaterShardBadShapeNamesIt() throws {
        let set = try safetensorsSet(try plain())
        try edit(set.second, Array("\"shape\":[4]".utf8), Array("\"shape\":[5]".utf8))
        expect([set.index, set.first, set.second], path: set.second,
               message: "tensor 'bb': data_offsets span 16 bytes, its dtype and shape need 20")
    }

    func testSafetensorsLaterShardBadOffsetsNameIt() throws {
        let set = try safetensorsSet(try plain())
        try edit(set.second, Array("\"data_offsets\":[0,16]".utf8), Array("\"data_offsets\":[0,24]".utf8))
        expect([set.index, set.first, set.second], path: set.second,
               message: "tensor 'bb': data_offsets span 24 bytes, its dtype and shape need 16")
    }

    /// A quantized tensor's group (NAME, NAME_scale) is folded after the shards are merged: an
    /// error in it names the shard whose metadata describes it, not the index.
    func testSafetensorsLaterShardQuantizedGroupNamesIt() throws {
        let params = QuantizationParameters(storage: .int8, axis: 0, hasZeroPoint: false)
        let values = (0..<32).map { Float($0 % 7) - 3 }
        let dense = try Tensor(name: "bb", shape: [4, 8], floats: values)
        let q = try QuantizedFormatsTests.quantized(dense, params)
        let set = try safetensorsSet([try plain()[0], q])
        let described = try ModelIO.read(path: set.index).model.tensor(named: "bb")
        XCTAssertEqual(described?.encoding, .quantized(params), "the valid set folds bb")
        try edit(set.second, Array("shape=4,8".utf8), Array("shape=4,9".utf8))
        expect([set.index, set.first, set.second], path: set.second,
               message: "tensor 'bb': quantized layout: tensor sizes do not match the description")
    }
}

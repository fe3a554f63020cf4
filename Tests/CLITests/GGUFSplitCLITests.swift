import AICompressCore
import AICompressFormats
import Foundation
import XCTest

/// Split GGUF on the command line: `--shard-size` with a .gguf output writes gguf-split's
/// files; every command reads them from a shard; `quantize --gguf` of the split input gives the
/// tensors and metadata of the unsplit one; broken sets exit 65 or 66 with one line.
final class GGUFSplitCLITests: CLITestCase {
    private func files(_ dir: String) throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: dir).sorted() }

    func testSplitConvertQuantizeInspectAndRefusals() throws {
        let dir = try tempDir(), input = fixture("gguf/llama/tiny-llama.gguf")
        try FileManager.default.createDirectory(atPath: dir + "/s", withIntermediateDirectories: false)
        let split = try run(["convert", "-q", "--shard-size", "40KB", input, dir + "/s/m.gguf"])
        XCTAssertEqual(split.status, 0, split.stderr)
        let shards = try files(dir + "/s")
        XCTAssertEqual(shards, (1...shards.count).map { "m-0000\($0)-of-0000\(shards.count).gguf" })
        XCTAssertGreaterThan(shards.count, 2)
        let first = dir + "/s/" + shards[0]

        let inspect = try run(["inspect", dir + "/s/" + shards[1]])
        XCTAssertEqual(inspect.status, 0, inspect.stderr)
        XCTAssertTrue(inspect.text.contains("split in \(shards.count) files"), inspect.text)

        // The same quantized model from the split input as from the unsplit one: tensors and
        // metadata, but for the input facts provenance records (bytes and CRC of all shards).
        for (src, out) in [(input, "/q-one.gguf"), (first, "/q-split.gguf")] {
            let r = try run(["quantize", "-q", "--gguf", "Q4_0", src, dir + out])
            XCTAssertEqual(r.status, 0, r.stderr)
        }
        let a = try ModelIO.read(path: dir + "/q-one.gguf").model, b = try ModelIO.read(path: dir + "/q-split.gguf").model
        XCTAssertEqual(a.tensors, b.tensors)
        XCTAssertEqual(try GGUFModelMetadata.pairs(a.metadata), try GGUFModelMetadata.pairs(b.metadata))

        // --shard-size to a format that cannot split is still refused.
        let onnx = try run(["convert", "--shard-size", "40KB", input, dir + "/x.onnx"])
        XCTAssertEqual(onnx.status, 64, onnx.stderr)
        XCTAssertTrue(onnx.stderr.contains("safetensors and GGUF output only"), onnx.stderr)

        // A missing shard: exit 66, one line naming it.
        try FileManager.default.removeItem(atPath: dir + "/s/" + shards[2])
        let missing = try run(["convert", first, dir + "/y.gguf"])
        XCTAssertEqual(missing.status, 66, missing.stderr)
        XCTAssertTrue(missing.stderr.contains(shards[2] + ": missing; shard 3 of the \(shards.count)"), missing.stderr)
        // A shard under another's name: exit 65.
        try FileManager.default.copyItem(atPath: dir + "/s/" + shards[1], toPath: dir + "/s/" + shards[2])
        let wrong = try run(["convert", first, dir + "/y.gguf"])
        XCTAssertEqual(wrong.status, 65, wrong.stderr)
        XCTAssertTrue(wrong.stderr.contains(shards[2] + ": split.no 1, expected 2 for this file"), wrong.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/y.gguf"))
    }
}

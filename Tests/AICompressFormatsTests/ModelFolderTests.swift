@testable import AICompressFormats
import Foundation
import XCTest

/// A folder given as a model: its Hugging Face weights file, or its one model file, or a refusal.
final class ModelFolderTests: XCTestCase {
    func testFolderNamesItsModelFile() throws {
        let dir = try temporaryDirectory(self), fm = FileManager.default
        let gguf = fixturesURL.appendingPathComponent("gguf/llama/tiny-llama.gguf").path
        XCTAssertEqual(try ModelIO.modelPath(gguf), gguf, "a file is itself")
        XCTAssertEqual(try ModelIO.modelPath("-"), "-")

        let one = dir + "/one"
        try fm.createDirectory(atPath: one, withIntermediateDirectories: true)
        try fm.copyItem(atPath: gguf, toPath: one + "/m.gguf")
        try "{}".write(toFile: one + "/config.json", atomically: true, encoding: .utf8)
        XCTAssertEqual(try ModelIO.modelPath(one), one + "/m.gguf", "the one file with a model extension")
        XCTAssertEqual(try ModelIO.read(path: one + "/").model.tensors.count, try ModelIO.read(path: gguf).model.tensors.count)

        // Hugging Face's names win over other model files; the index over the single file.
        try fm.copyItem(atPath: gguf, toPath: one + "/model.safetensors")
        XCTAssertEqual(try ModelIO.modelPath(one + "/"), one + "/model.safetensors")
        try "{}".write(toFile: one + "/model.safetensors.index.json", atomically: true, encoding: .utf8)
        XCTAssertEqual(try ModelIO.modelPath(one), one + "/model.safetensors.index.json")

        let two = dir + "/two"
        try fm.createDirectory(atPath: two, withIntermediateDirectories: true)
        for name in ["b.onnx", "a.gguf"] { try fm.copyItem(atPath: gguf, toPath: two + "/" + name) }
        try fm.createDirectory(atPath: two + "/c.ckpt", withIntermediateDirectories: true)  // a folder, not a model file
        XCTAssertThrowsError(try ModelIO.modelPath(two)) { error in
            XCTAssertEqual(error as? FileError, .folderWithoutModel(path: two, modelFiles: ["a.gguf", "b.onnx"]))
            XCTAssertEqual((error as? FileError)?.faultKind, .noInput)
            XCTAssertTrue("\(error)".hasSuffix("and 2 model files (a.gguf, b.onnx): name the model file"), "\(error)")
        }
        // A split GGUF's shards: the folder is its first shard; a set with a shard missing is not.
        let split = fixturesURL.appendingPathComponent("gguf/split").path
        let shards = dir + "/shards"
        try fm.createDirectory(atPath: shards, withIntermediateDirectories: true)
        for n in 1...3 { try fm.copyItem(atPath: split + "/tiny-llama-0000\(n)-of-00003.gguf", toPath: shards + "/tiny-llama-0000\(n)-of-00003.gguf") }
        XCTAssertEqual(try ModelIO.modelPath(shards), shards + "/tiny-llama-00001-of-00003.gguf")
        XCTAssertEqual(try ModelIO.read(path: shards).model.tensors.count, try ModelIO.read(path: gguf).model.tensors.count)
        XCTAssertNil(ModelFolder.firstShard(of: ["m-00001-of-00003.gguf", "m-00002-of-00003.gguf", "x.gguf"]))
        XCTAssertNil(ModelFolder.firstShard(of: ["m-00001-of-00002.gguf", "n-00002-of-00002.gguf"]))
        XCTAssertEqual(ModelFolder.firstShard(of: ["m-00001-of-00002.gguf", "m-00002-of-00002.gguf"]), "m-00001-of-00002.gguf")

        XCTAssertThrowsError(try ModelIO.read(path: dir)) { error in
            XCTAssertEqual(error as? FileError, .folderWithoutModel(path: dir, modelFiles: []))
        }
    }
}

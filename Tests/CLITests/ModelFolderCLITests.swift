import Foundation
import XCTest

/// Every command takes a model's folder where it takes the model file.
final class ModelFolderCLITests: CLITestCase {
    func testAFolderIsItsModelFile() throws {
        let dir = try tempDir(), folder = dir + "/mlp"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: fixture("demo/mlp-digits.ckpt"), toPath: folder + "/mlp-digits.ckpt")
        XCTAssertEqual(try run(["quantize", "-q", "--int8", folder, dir + "/a.ckpt"]).status, 0)
        XCTAssertEqual(try run(["quantize", "-q", "--int8", folder + "/mlp-digits.ckpt", dir + "/b.ckpt"]).status, 0)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/a.ckpt")), try Data(contentsOf: URL(fileURLWithPath: dir + "/b.ckpt")))
        XCTAssertTrue(try run(["inspect", folder]).text.hasPrefix(folder + "/mlp-digits.ckpt: ckpt"))
        let empty = try run(["inspect", dir + "/nothing-here"])
        XCTAssertEqual(empty.status, 66)
        try FileManager.default.createDirectory(atPath: dir + "/empty", withIntermediateDirectories: true)
        let none = try run(["quantize", "--int8", dir + "/empty", dir + "/c.ckpt"])
        XCTAssertEqual(none.status, 66, none.stderr)
        XCTAssertEqual(none.stderr, "aicompress: error: \(dir)/empty: a folder without model.safetensors or model.safetensors.index.json, and no model file: name the model file\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/c.ckpt"))
    }
}

import Foundation
import XCTest

/// `inspect` of a set of files (a split GGUF model, a sharded safetensors set): the sizes are
/// the whole set's and the number of files is shown, in the table and in JSON (`input_files`,
/// `input_bytes`), whichever file of the set is given.
final class InspectSetCLITests: CLITestCase {
    private func size(_ path: String) throws -> Int {
        try XCTUnwrap(FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
    }

    /// `inspect --json` of `path`: file_bytes, input_files, input_bytes; and the text's total line.
    private func inspect(_ path: String) throws -> (fileBytes: Int, files: Int, bytes: Int, total: String) {
        let j = try run(["inspect", "--json", path])
        XCTAssertEqual(j.status, 0, j.stderr)
        let o = try jsonObject(j.stdout)
        let t = try run(["inspect", path])
        XCTAssertEqual(t.status, 0, t.stderr)
        let total = t.text.split(separator: "\n").first { $0.hasPrefix("total: ") }.map(String.init) ?? ""
        return (try XCTUnwrap(o["file_bytes"] as? Int), try XCTUnwrap(o["input_files"] as? Int), try XCTUnwrap(o["input_bytes"] as? Int), total)
    }

    func testShardedSafetensorsShowsTheSet() throws {
        let dir = fixture("safetensors/sharded")
        let files = ["model.safetensors.index.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
        let all = try files.reduce(0) { $0 + (try size(dir + "/" + $1)) }
        for given in [files[0], files[2]] {
            let r = try inspect(dir + "/" + given)
            XCTAssertEqual(r.fileBytes, try size(dir + "/" + given), given)
            XCTAssertEqual(r.files, 3, given)
            XCTAssertEqual(r.bytes, all, given)
            // 4,129 bytes: the index (281) and the two shards (2,352 and 1,496).
            XCTAssertEqual(all, 4129)
            XCTAssertTrue(r.total.contains(", 3 files 4.0 KiB (4,129 bytes), "), r.total)
        }
    }

    func testSplitGGUFShowsTheSet() throws {
        let dir = try tempDir()
        let w = try run(["convert", "-q", "--shard-size", "40K", fixture("gguf/llama/tiny-llama.gguf"), dir + "/m.gguf"])
        XCTAssertEqual(w.status, 0, w.stderr)
        let shards = (1...4).map { dir + "/m-0000\($0)-of-00004.gguf" }
        let all = try shards.reduce(0) { $0 + (try size($1)) }
        for given in [shards[0], shards[2]] {
            let r = try inspect(given)
            XCTAssertEqual(r.fileBytes, try size(given))
            XCTAssertEqual(r.files, 4)
            XCTAssertEqual(r.bytes, all)
            XCTAssertTrue(r.total.contains(", 4 files "), r.total)
        }
        // A single file: one file, its own size.
        let one = try inspect(fixture("gguf/llama/tiny-llama.gguf"))
        XCTAssertEqual(one.files, 1)
        XCTAssertEqual(one.bytes, one.fileBytes)
        XCTAssertTrue(one.total.contains(", file "), one.total)
    }
}

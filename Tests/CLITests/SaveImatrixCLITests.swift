import AICompressCore
import AICompressFormats
import Foundation
import XCTest

/// `quantize --gguf TYPE --calibration TEXT [--save-imatrix FILE]`: the importance matrix is the
/// one `aicompress imatrix` computes, and the quantization is `--imatrix` of it.
final class SaveImatrixCLITests: CLITestCase {
    func bytes(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    /// Each tensor's stored bytes, by name.
    func tensors(_ path: String) throws -> [String: Data] {
        var out: [String: Data] = [:]
        for t in try ModelIO.read(path: path).model.tensors { out[t.name] = t.data.withUnsafeBytes { Data($0) } }
        return out
    }

    func calibrationText(_ dir: String) throws -> String {
        var g = SplitMix64(seed: 11)
        let words = "the of and to in is was for on that with as by at from".split(separator: " ")
        let path = dir + "/calib.txt"
        try (0..<400).map { _ in String(words[Int(g.next() % UInt64(words.count))]) }.joined(separator: " ")
            .write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func testSavedMatrixIsTheImatrixCommandsAndQuantizesAsImatrixDoes() throws {
        let dir = try tempDir(), calib = try calibrationText(dir), input = fixture("gguf/llama/tiny-llama.gguf")
        let reference = dir + "/reference.imatrix.gguf", saved = dir + "/saved.imatrix.gguf"
        let m = try run(["imatrix", input, "--text", calib, "--context", "16", "--chunks", "5", "-o", reference])
        XCTAssertEqual(m.status, 0, m.stderr)
        for type in ["Q4_K_M", "Q4_0"] {
            let q = try run(["quantize", "--gguf", type, "--calibration", calib, "--calibration-tokens", "16", "--calibration-chunks", "5",
                             "--save-imatrix", saved, "-q", input, dir + "/saved.gguf"])
            XCTAssertEqual(q.status, 0, q.stderr)
            XCTAssertEqual(try bytes(saved), try bytes(reference), "\(type): the saved file is not aicompress imatrix's")
            // The same file as --imatrix of the saved matrix (provenance and recipe name it).
            XCTAssertEqual(try run(["quantize", "--gguf", type, "--imatrix", saved, "-q", input, dir + "/imatrix.gguf"]).status, 0)
            XCTAssertEqual(try bytes(dir + "/saved.gguf"), try bytes(dir + "/imatrix.gguf"), type)
            // Without saving, the tensors are the same (only provenance differs), and differ from no matrix.
            XCTAssertEqual(try run(["quantize", "--gguf", type, "--calibration", calib, "--calibration-tokens", "16",
                                    "--calibration-chunks", "5", "-q", input, dir + "/text.gguf"]).status, 0)
            XCTAssertEqual(try run(["quantize", "--gguf", type, "-q", input, dir + "/plain.gguf"]).status, 0)
            let text = try tensors(dir + "/text.gguf"), plain = try tensors(dir + "/plain.gguf")
            XCTAssertEqual(text, try tensors(dir + "/imatrix.gguf"), type)
            let moved = text.keys.filter { text[$0] != plain[$0] }
            XCTAssertGreaterThanOrEqual(moved.count, 10, "\(type): the matrix changes \(moved.sorted())")
        }
        let recipe = try run(["recipe", dir + "/saved.gguf"]).text
        XCTAssertTrue(recipe.contains("      imatrix: \(saved)\n      imatrix-sha256: "), recipe)
    }

    func testRefusals() throws {
        let dir = try tempDir(), calib = try calibrationText(dir), input = fixture("gguf/llama/tiny-llama.gguf")
        let cases: [([String], String)] = [
            (["--gguf", "Q4_0", "--save-imatrix", dir + "/m.gguf"], "--save-imatrix needs"),
            (["--gguf", "Q4_0", "--method", "gptq", "--calibration", calib, "--save-imatrix", dir + "/m.gguf"], "--save-imatrix goes with --method rtn"),
            (["--gguf", "Q4_0", "--calibration", calib, "--imatrix", dir + "/m.gguf"], "not both"),
            (["--int4", "--calibration", calib, "--save-imatrix", dir + "/m.gguf"], "go with --gguf TYPE"),
            (["--gguf", "Q4_0", "--calibration", calib, "--save-imatrix", calib], "would overwrite"),
        ]
        for (args, message) in cases {
            let r = try run(["quantize"] + args + [input, dir + "/x.gguf"])
            XCTAssertEqual(r.status, 64, args.joined(separator: " ") + ": " + r.stderr)
            XCTAssertTrue(r.stderr.contains(message), r.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/x.gguf"))
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/m.gguf"))
        }
    }
}

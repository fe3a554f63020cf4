import AICompressCore
import AICompressFormats
import Foundation
import XCTest

/// `apply` of the recipes that calibrated runs record: the same bytes as the run itself, the
/// data file checked by its SHA-256 and size, and the keys of each method checked.
final class RecipeCalibrationCLITests: CLITestCase {
    /// A deterministic text of common words.
    func text(_ dir: String, _ name: String = "calib.txt", words: Int = 400) throws -> String {
        var g = SplitMix64(seed: 7)
        let vocabulary = "the model weights are pruned one block at a time with calibration text of and to in".split(separator: " ")
        let path = dir + "/" + name
        try (0..<words).map { _ in String(vocabulary[Int(g.next() % UInt64(vocabulary.count))]) }.joined(separator: " ")
            .write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func bytes(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    /// Runs `args` into `dir/run.EXT`, then `apply` of its recorded recipe into `dir/apply.EXT`;
    /// returns the recipe text after asserting the two files are byte-identical.
    @discardableResult
    func assertReplays(_ args: [String], input: String, dir: String, ext: String,
                       file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let first = dir + "/run." + ext, again = dir + "/apply." + ext, recipe = dir + "/r.yaml"
        let r = try run(args + ["-q", input, first])
        XCTAssertEqual(r.status, 0, r.stderr, file: file, line: line)
        let shown = try run(["recipe", first])
        XCTAssertEqual(shown.status, 0, shown.stderr, file: file, line: line)
        try shown.stdout.write(to: URL(fileURLWithPath: recipe))
        let a = try run(["apply", "-q", recipe, input, again])
        XCTAssertEqual(a.status, 0, "\(args): \(a.stderr)", file: file, line: line)
        XCTAssertEqual(try bytes(first), try bytes(again), "\(args.joined(separator: " ")): apply differs from the run", file: file, line: line)
        return shown.text
    }

    func testLanguageModelCalibratedStepsReplayByteForByte() throws {
        let dir = try tempDir(), calib = try text(dir), input = fixture("gguf/llama/tiny-llama.gguf")
        let cut = ["--calibration", calib, "--calibration-tokens", "16", "--calibration-chunks", "4"]
        let sha = try InputFile(path: calib).buffer.withUnsafeBytes { SHA256.hex($0) }
        let size = try bytes(calib).count
        let gptq = try assertReplays(["quantize", "--gguf", "Q4_0", "--method", "gptq", "--act-order", "--damp", "0.02"] + cut,
                                     input: input, dir: dir, ext: "gguf")
        XCTAssertEqual(gptq, """
            # aicompress recipe: reproduce with `aicompress apply THIS_FILE IN OUT`
            version: 1
            steps:
              - quantize-gguf:
                  gguf: Q4_0
                  method: gptq
                  calibration: \(calib)
                  calibration-sha256: \(sha)
                  calibration-bytes: \(size)
                  calibration-tokens: 16
                  calibration-chunks: 4
                  damp: 0.02
                  act-order: true
                  head: auto
                  embedding: auto
                  targets: dense

            """)
        // The replay is GPTQ, not round to nearest: it differs from plain Q4_0.
        XCTAssertEqual(try run(["quantize", "--gguf", "Q4_0", "-q", input, dir + "/rtn.gguf"]).status, 0)
        XCTAssertNotEqual(try bytes(dir + "/rtn.gguf"), try bytes(dir + "/apply.gguf"))
        let wanda = try assertReplays(["prune", "--method", "wanda", "--keep", "0.5"] + cut, input: input, dir: dir, ext: "gguf")
        XCTAssertTrue(wanda.contains("      method: wanda\n      sparsity: 0.5\n      calibration: \(calib)\n"), wanda)
        // Wanda's replay is not magnitude pruning.
        XCTAssertEqual(try run(["prune", "--keep", "0.5", "-q", input, dir + "/magnitude.gguf"]).status, 0)
        XCTAssertNotEqual(try bytes(dir + "/magnitude.gguf"), try bytes(dir + "/apply.gguf"))
        let sparsegpt = try assertReplays(["prune", "--method", "sparsegpt", "--pattern", "2:4"] + cut, input: input, dir: dir, ext: "gguf")
        XCTAssertTrue(sparsegpt.contains("      method: sparsegpt\n      pattern: 2:4\n      targets: dense\n"), sparsegpt)
        // The importance matrix computed from the text (--method rtn) replays too.
        let imatrix = try assertReplays(["quantize", "--gguf", "Q4_K_M"] + cut, input: input, dir: dir, ext: "gguf")
        XCTAssertTrue(imatrix.contains("      gguf: Q4_K_M\n      calibration: \(calib)\n"), imatrix)
        // So do --imatrix FILE runs, GGUF (with its digest) and int4 (apply reads the matrix again).
        let matrix = dir + "/m.imatrix.gguf"
        XCTAssertEqual(try run(["imatrix", input, "--text", calib, "--context", "16", "--chunks", "4", "-o", matrix]).status, 0)
        let gguf = try assertReplays(["quantize", "--gguf", "Q4_K_M", "--imatrix", matrix], input: input, dir: dir, ext: "gguf")
        XCTAssertTrue(gguf.contains("      imatrix: \(matrix)\n      imatrix-sha256: "), gguf)
        try assertReplays(["quantize", "--int4", "--imatrix", matrix], input: input, dir: dir, ext: "ckpt")
    }

    func testGraphModelCalibratedStepsReplayByteForByte() throws {
        let dir = try tempDir(), model = fixture("demo/mlp-digits.ckpt"), data = fixture("demo/digits-train.csv")
        let sparsegpt = try assertReplays(["prune", "--method", "sparsegpt", "--sparsity", "0.7", "--calibration", data],
                                          input: model, dir: dir, ext: "ckpt")
        XCTAssertTrue(sparsegpt.contains("      calibration-rows: 1024\n"), sparsegpt)
        let wanda = try assertReplays(["prune", "--method", "wanda", "--keep", "0.5", "--exclude", "fc2.*", "--calibration", data,
                                       "--calibration-rows", "300"], input: model, dir: dir, ext: "ckpt")
        XCTAssertTrue(wanda.contains("      exclude: 'fc2.*'\n") && wanda.contains("      calibration-rows: 300\n"), wanda)
        try assertReplays(["prune", "--method", "sparsegpt", "--pattern", "2:4", "--calibration", data], input: model, dir: dir, ext: "ckpt")
        let gptq = try assertReplays(["quantize", "--int4", "--method", "gptq", "--act-order", "--calibration", data, "--calibration-rows", "500"],
                                     input: model, dir: dir, ext: "ckpt")
        XCTAssertTrue(gptq.contains("      int4: true\n      method: gptq\n      damp: 0.01\n      act-order: true\n"), gptq)
    }

    func testChangedOrMissingCalibrationFileIsRefused() throws {
        let dir = try tempDir(), calib = try text(dir, "c.txt"), input = fixture("gguf/llama/tiny-llama.gguf")
        let r = try run(["prune", "--method", "wanda", "--keep", "0.5", "--calibration", calib, "--calibration-tokens", "16",
                         "-q", input, dir + "/w.gguf"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let recipe = dir + "/r.yaml"
        try (try run(["recipe", dir + "/w.gguf"])).stdout.write(to: URL(fileURLWithPath: recipe))
        let original = try bytes(calib)
        // Longer: the size differs.
        try (original + Data(" more".utf8)).write(to: URL(fileURLWithPath: calib))
        var a = try run(["apply", recipe, input, dir + "/x.gguf"])
        XCTAssertEqual(a.status, 65, a.stderr)
        XCTAssertEqual(a.stderr, "aicompress: error: \(recipe):7: step 1 (prune): key 'calibration': \(calib) has changed since the recipe "
                       + "was written (\(original.count + 5) bytes; the recipe records \(original.count))\n")
        // Same size, one byte changed: the SHA-256 differs.
        var changed = original
        changed[0] = changed[0] == UInt8(ascii: "x") ? UInt8(ascii: "y") : UInt8(ascii: "x")
        try changed.write(to: URL(fileURLWithPath: calib))
        a = try run(["apply", recipe, input, dir + "/x.gguf"])
        XCTAssertEqual(a.status, 65, a.stderr)
        XCTAssertTrue(a.stderr.contains("key 'calibration': \(calib) has changed since the recipe was written (SHA-256 "), a.stderr)
        XCTAssertEqual(a.stderr.split(separator: "\n").count, 1, a.stderr)
        try FileManager.default.removeItem(atPath: calib)
        a = try run(["apply", recipe, input, dir + "/x.gguf"])
        XCTAssertEqual(a.status, 66, a.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/x.gguf"))
        // The file restored: the recipe runs again.
        try original.write(to: URL(fileURLWithPath: calib))
        XCTAssertEqual(try run(["apply", "-q", recipe, input, dir + "/x.gguf"]).status, 0)
        XCTAssertEqual(try bytes(dir + "/x.gguf"), try bytes(dir + "/w.gguf"))
    }

    func testCalibratedKeysAreCheckedPerMethod() throws {
        let dir = try tempDir(), calib = try text(dir), model = fixture("demo/mlp-digits.ckpt"), input = fixture("gguf/llama/tiny-llama.gguf")
        let cases: [(String, String, String)] = [
            ("steps:\n  - prune:\n      method: wanda\n      keep: 0.5\n      damp: 0.1\n      calibration: \(calib)\n", input,
             ":5: step 1 (prune): key 'damp': not a key of prune with method wanda"),
            ("steps:\n  - prune:\n      method: wanda\n      keep: 0.5\n", input, ":3: step 1 (prune): key 'method': wanda needs the key 'calibration'"),
            ("steps:\n  - prune:\n      method: obs\n      keep: 0.5\n", model, ":3: step 1 (prune): key 'method': prune has no data-aware method 'obs'"),
            ("steps:\n  - quantize:\n      int4: true\n      method: gptq\n      damp: 2\n      calibration: \(calib)\n", model,
             ":5: step 1 (quantize): key 'damp': must be in [0, 1) (got 2)"),
            ("steps:\n  - quantize-gguf:\n      gguf: Q4_0\n      calibration-tokens: 16\n", input,
             ":4: step 1 (quantize-gguf): key 'calibration-tokens': not a key of quantize-gguf (keys: gguf, pure, tensor-type, allow-requantize)"),
            ("steps:\n  - prune: {keep: 0.5}\n  - quantize-gguf:\n      gguf: Q4_K_M\n      calibration: \(calib)\n      calibration-tokens: 16\n",
             input, ":5: step 2 (quantize-gguf): key 'calibration': an importance matrix computed from a text runs the input model"),
        ]
        for (text, model, expected) in cases {
            let path = dir + "/r.yaml"
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            let r = try run(["apply", path, model, dir + "/x.out.gguf"])
            XCTAssertEqual(r.status, 65, text)
            XCTAssertTrue(r.stderr.hasPrefix("aicompress: error: \(path)\(expected)"), "\(text) → \(r.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/x.out.gguf"))
        }
    }
}

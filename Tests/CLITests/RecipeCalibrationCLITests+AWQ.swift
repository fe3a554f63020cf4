import AICompressCore
import AICompressFormats
import Foundation
import XCTest

/// `apply` of a `quantize --gguf TYPE --method awq` step: every setting recorded (the text's
/// digest and size, tokens, chunks, the α grid), the replay byte for byte the run's file, a
/// changed text refused, and the keys AWQ does not take refused.
extension RecipeCalibrationCLITests {
    func testAWQStepReplaysByteForByte() throws {
        let dir = try tempDir(), calib = try GGUFAWQCLITests.calibrationText(dir), input = fixture("gguf/llama/tiny-llama.gguf")
        let cut = ["--calibration", calib, "--calibration-tokens", "16", "--calibration-chunks", "6"]
        let sha = try InputFile(path: calib).buffer.withUnsafeBytes { SHA256.hex($0) }
        let size = try bytes(calib).count
        let awq = try assertReplays(["quantize", "--gguf", "Q4_0", "--method", "awq", "--awq-grid", "10"] + cut,
                                    input: input, dir: dir, ext: "gguf")
        XCTAssertEqual(awq, """
            # aicompress recipe: reproduce with `aicompress apply THIS_FILE IN OUT`
            version: 1
            steps:
              - quantize-gguf:
                  gguf: Q4_0
                  method: awq
                  calibration: \(calib)
                  calibration-sha256: \(sha)
                  calibration-bytes: \(size)
                  calibration-tokens: 16
                  calibration-chunks: 6
                  awq-grid: 10

            """)
        // The replay is AWQ, not round to nearest (which main's recipe of an AWQ run gave).
        XCTAssertEqual(try run(["quantize", "--gguf", "Q4_0", "-q", input, dir + "/rtn.gguf"]).status, 0)
        XCTAssertNotEqual(try bytes(dir + "/rtn.gguf"), try bytes(dir + "/apply.gguf"))
        let recipe = dir + "/awq.yaml"
        try awq.write(toFile: recipe, atomically: true, encoding: .utf8)
        // A changed text: refused with the key's line, nothing written.
        let original = try bytes(calib)
        var changed = original
        changed[0] = changed[0] == UInt8(ascii: "x") ? UInt8(ascii: "y") : UInt8(ascii: "x")
        try changed.write(to: URL(fileURLWithPath: calib))
        let a = try run(["apply", recipe, input, dir + "/x.gguf"])
        XCTAssertEqual(a.status, 65, a.stderr)
        XCTAssertTrue(a.stderr.hasPrefix("aicompress: error: \(recipe):7: step 1 (quantize-gguf): key 'calibration': \(calib) has changed "
                                         + "since the recipe was written (SHA-256 "), a.stderr)
        XCTAssertEqual(a.stderr.split(separator: "\n").count, 1, a.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/x.gguf"))
        try original.write(to: URL(fileURLWithPath: calib))
        // The keys AWQ takes, checked.
        let head = "steps:\n  - quantize-gguf:\n      gguf: Q4_0\n      method: awq\n"
        let cases: [(String, String)] = [
            (head + "      calibration: \(calib)\n      damp: 0.1\n", ":6: step 1 (quantize-gguf): key 'damp': not a key of quantize-gguf with method awq"),
            (head + "      calibration: \(calib)\n      awq-grid: 0\n", ":6: step 1 (quantize-gguf): key 'awq-grid': must be a whole number in 1 … 100 (got 0)"),
            (head + "      calibration-tokens: 16\n", ":4: step 1 (quantize-gguf): key 'method': awq needs the key 'calibration'"),
            ("steps:\n  - quantize-gguf:\n      gguf: Q4_0\n      awq-grid: 10\n",
             ":4: step 1 (quantize-gguf): key 'awq-grid': not a key of quantize-gguf (keys: gguf, pure, tensor-type, allow-requantize)"),
        ]
        for (text, expected) in cases {
            let path = dir + "/bad.yaml"
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            let r = try run(["apply", path, input, dir + "/x.gguf"])
            XCTAssertEqual(r.status, 65, text)
            XCTAssertTrue(r.stderr.hasPrefix("aicompress: error: \(path)\(expected)"), "\(text) → \(r.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/x.gguf"))
        }
    }
}

import Foundation
import XCTest

extension CLITestCase {
    /// `r` is a usage refusal (exit 64) in one line starting with `prefix` and containing
    /// `detail`, and `output` was not written.
    func assertRefused(_ r: Result, prefix: String, detail: String, output: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(r.status, 64, r.stderr, file: file, line: line)
        XCTAssertTrue(r.stderr.hasPrefix("aicompress: error: " + prefix), r.stderr, file: file, line: line)
        XCTAssertTrue(r.stderr.contains(detail), r.stderr, file: file, line: line)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr, file: file, line: line)
        XCTAssertFalse(FileManager.default.fileExists(atPath: output), file: file, line: line)
    }
}

/// `quantize --method gptq` of a pruned model: GPTQ would move the pruned weights and write no
/// sparsity, so it is refused (exit 64, one line naming the file, the tensor and its sparsity)
/// before calibrating, when a swept weight is stored sparse or over 30% exact zeros.
final class PrunedGPTQCLITests: CLITestCase {
    private func prune(_ keep: String, _ input: String, _ output: String) throws {
        let r = try run(["prune", "-q", "--keep", keep, input, output])
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    private func gptq(_ input: String, _ output: String) throws -> Result {
        try run(["quantize", "-q", "--int4", "--method", "gptq", "--calibration", fixture("demo/digits-train.csv"), input, output])
    }

    func testGraphModelStoredSparseIsRefused() throws {
        let dir = try tempDir(), pruned = dir + "/p.ckpt"
        try prune("0.5", fixture("demo/mlp-digits.ckpt"), pruned)
        assertRefused(try gptq(pruned, dir + "/x.ckpt"), prefix: "\(pruned): tensor 'fc1.weight' is pruned (50.0% exact zeros, stored sparse): ",
                      detail: "prune --method sparsegpt --quantize SCHEME", output: dir + "/x.ckpt")
        // Round to nearest keeps going (its zeros stay where they are).
        XCTAssertEqual(try run(["quantize", "-q", "--int8", pruned, dir + "/r.ckpt"]).status, 0)
    }

    /// Dense zeros (ONNX has no sparse weights here) count by their share: 40% is refused, 20% is not.
    func testGraphModelDenseZerosAboveThirtyPercentAreRefused() throws {
        let dir = try tempDir()
        try prune("0.6", fixture("demo/mlp-digits.ckpt"), dir + "/p40.onnx")
        let r = try gptq(dir + "/p40.onnx", dir + "/x.onnx")
        XCTAssertEqual(r.status, 64, r.stderr)
        XCTAssertTrue(r.stderr.contains("\(dir)/p40.onnx: tensor 'fc1.weight' is pruned (40.0% exact zeros): "), r.stderr)
        try prune("0.8", fixture("demo/mlp-digits.ckpt"), dir + "/p20.onnx")
        let ok = try gptq(dir + "/p20.onnx", dir + "/y.onnx")
        XCTAssertEqual(ok.status, 0, ok.stderr)
    }

    func testPrunedGGUFIsRefused() throws {
        let dir = try tempDir(), pruned = dir + "/p.gguf", text = dir + "/calib.txt"
        try prune("0.5", fixture("gguf/llama/tiny-llama.gguf"), pruned)
        try String(repeating: "the weights are quantized one block at a time ", count: 40).write(toFile: text, atomically: true, encoding: .utf8)
        let r = try run(["quantize", "--gguf", "Q4_0", "--method", "gptq", "--calibration", text, "--calibration-tokens", "16",
                         pruned, dir + "/x.gguf"])
        assertRefused(r, prefix: "\(pruned): tensor 'blk.0.attn_q.weight' is pruned (50.0% exact zeros): ",
                      detail: "--method rtn", output: dir + "/x.gguf")
    }

    /// `apply` of a GPTQ recipe (made on the unpruned model) to the pruned one: refused by the pass
    /// (`refusesPruned`), since apply has no command-layer check.
    func testApplyOfAGPTQRecipeToAPrunedGGUFIsRefused() throws {
        let dir = try tempDir(), pruned = dir + "/p.gguf", text = dir + "/calib.txt", input = fixture("gguf/llama/tiny-llama.gguf")
        try prune("0.5", input, pruned)
        try String(repeating: "the weights are quantized one block at a time ", count: 40).write(toFile: text, atomically: true, encoding: .utf8)
        let made = try run(["quantize", "--gguf", "Q4_0", "--method", "gptq", "--calibration", text, "--calibration-tokens", "16",
                            "-q", input, dir + "/g.gguf"])
        XCTAssertEqual(made.status, 0, made.stderr)
        let recipe = try run(["recipe", dir + "/g.gguf"])
        try recipe.stdout.write(to: URL(fileURLWithPath: dir + "/r.yaml"))
        let r = try run(["apply", "-q", dir + "/r.yaml", pruned, dir + "/x.gguf"])
        // apply reports a step that does not fit its input as the recipe's data error (65).
        XCTAssertEqual(r.status, 65, r.stderr)
        XCTAssertTrue(r.stderr.contains("tensor 'blk.0.attn_q.weight' is pruned (50.0% exact zeros)"), r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/x.gguf"))
        // The same recipe on the unpruned model still replays.
        XCTAssertEqual(try run(["apply", "-q", dir + "/r.yaml", input, dir + "/y.gguf"]).status, 0)
    }
}

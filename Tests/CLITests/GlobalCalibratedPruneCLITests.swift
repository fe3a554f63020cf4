import Foundation
import XCTest

/// `prune --method wanda|sparsegpt --scope global` on the digits MLP: the layers together keep
/// exactly round(0.1 × 2,368) = 237 weights, split by their error curves (the split the
/// benchmark measured, BENCHMARKS.md); the recorded recipe replays byte for byte; and what it
/// does not take is refused before anything is written.
final class GlobalCalibratedPruneCLITests: CLITestCase {
    func zeros(_ model: String, _ tensor: String) throws -> Int {
        let r = try run(["inspect", "--json", model])
        XCTAssertEqual(r.status, 0, r.stderr)
        return try XCTUnwrap(try self.tensor(tensor, in: try jsonObject(r.stdout))["zeros"] as? Int)
    }

    /// `out`'s recorded recipe shows `showing`, and `apply` of it to `model` gives `out`'s bytes.
    func assertReplays(_ out: String, model: String, recipe: String, again: String, showing: String,
                       file: StaticString = #filePath, line: UInt = #line) throws {
        let shown = try run(["recipe", out])
        XCTAssertEqual(shown.status, 0, shown.stderr, file: file, line: line)
        XCTAssertTrue(shown.text.contains(showing), shown.text, file: file, line: line)
        try shown.stdout.write(to: URL(fileURLWithPath: recipe))
        let a = try run(["apply", "-q", recipe, model, again])
        XCTAssertEqual(a.status, 0, a.stderr, file: file, line: line)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out)), try Data(contentsOf: URL(fileURLWithPath: again)), out,
                       file: file, line: line)
    }

    func testGlobalSplitsTheBudgetExactlyAndReplays() throws {
        let dir = try tempDir()
        let model = fixture("demo/mlp-digits.ckpt"), data = fixture("demo/digits-train.csv")
        // Kept in fc1 (of 2,048) and fc2 (of 320): SparseGPT gives fc2 80, 25% of its weights
        // (its curves are those of the centred inputs: the biases are refitted).
        for (method, fc1, fc2) in [("sparsegpt", 157, 80), ("wanda", 97, 140)] {
            let out = dir + "/\(method).ckpt", again = dir + "/\(method)-apply.ckpt", recipe = dir + "/\(method).yaml"
            let r = try run(["prune", "-q", "--method", method, "--keep", "0.1", "--scope", "global", "--calibration", data, model, out])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertEqual(fc1 + fc2, 237)
            XCTAssertEqual(try zeros(out, "fc1.weight"), 2048 - fc1, method)
            XCTAssertEqual(try zeros(out, "fc2.weight"), 320 - fc2, method)
            try assertReplays(out, model: model, recipe: recipe, again: again, showing: "method: \(method)\n      sparsity: 0.9\n      scope: global\n")
        }
    }

    /// `--allocation output` (issue 18's target: 90% sparsity within 3 points of the dense
    /// 97.33%, 438/450): the search moves weights from fc1 to fc2 (the curves' 157/80 become
    /// 70/167, as BENCHMARKS.md measured), the test accuracy rises from 354/450 to at least
    /// 425/450, every split it measures is printed, and the recipe replays byte for byte.
    func testOutputAllocationMeetsTheTargetAndReplays() throws {
        let dir = try tempDir()
        let model = fixture("demo/mlp-digits.ckpt"), data = fixture("demo/digits-train.csv")
        let out = dir + "/out.ckpt", again = dir + "/again.ckpt", recipe = dir + "/r.yaml"
        let r = try run(["prune", "--method", "sparsegpt", "--sparsity", "0.9", "--scope", "global", "--allocation", "output",
                         "--calibration", data, model, out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stderr.split(separator: "\n").filter { $0.hasPrefix("allocation: split ") }
        XCTAssertGreaterThan(lines.count, 1, r.stderr)
        XCTAssertLessThanOrEqual(lines.count, 16, r.stderr)
        XCTAssertTrue(lines.first?.hasPrefix("allocation: split fc1.weight 157, fc2.weight 80: output error ") ?? false, r.stderr)
        XCTAssertTrue(r.stderr.contains("splits measured; output error "), r.stderr)
        let fc1 = 2048 - (try zeros(out, "fc1.weight")), fc2 = 320 - (try zeros(out, "fc2.weight"))
        XCTAssertEqual(fc1 + fc2, 237)
        XCTAssertGreaterThan(fc2, 120, "the search gives fc2 more than the curves' 80")
        let e = try run(["evaluate", out, "--data", fixture("demo/digits-test.csv"), "--json"])
        XCTAssertEqual(e.status, 0, e.stderr)
        let metrics = try XCTUnwrap(try jsonObject(e.stdout)["metrics"] as? [String: Any])
        let correct = try XCTUnwrap(metrics["correct"] as? Int)
        XCTAssertGreaterThanOrEqual(correct, 425, "within 3 points of the dense 438/450")
        try assertReplays(out, model: model, recipe: recipe, again: again, showing: "scope: global\n      allocation: output\n")
        // Without --scope global there is no budget to split.
        let bad = try run(["prune", "--method", "sparsegpt", "--sparsity", "0.9", "--allocation", "output", "--calibration", data, model, dir + "/x.ckpt"])
        XCTAssertEqual(bad.status, 64, bad.stderr)
        XCTAssertTrue(bad.stderr.contains("--allocation output goes with --scope global"), bad.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/x.ckpt"))
    }

    func testGlobalRefusesWhatItCannotShare() throws {
        let dir = try tempDir()
        let model = fixture("demo/mlp-digits.ckpt"), data = fixture("demo/digits-train.csv")
        let cases: [([String], String, String)] = [
            (["--method", "sparsegpt", "--pattern", "2:4"], model, "--pattern N:M fixes every row's share"),
            (["--method", "sparsegpt", "--keep", "0.5", "--quantize", "int4"], model, "--scope global does not go with --quantize"),
            (["--method", "wanda", "--keep", "0.5"], fixture("gguf/llama/tiny-llama.gguf"), "goes with graph models"),
        ]
        for (args, input, message) in cases {
            let r = try run(["prune"] + args + ["--scope", "global", "--calibration", data, input, dir + "/x.ckpt"])
            XCTAssertEqual(r.status, 64, args.joined(separator: " ") + ": " + r.stderr)
            XCTAssertTrue(r.stderr.contains(message), r.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/x.ckpt"))
        }
    }
}

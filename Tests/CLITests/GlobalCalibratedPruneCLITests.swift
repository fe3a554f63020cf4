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
            let shown = try run(["recipe", out])
            XCTAssertEqual(shown.status, 0, shown.stderr)
            XCTAssertTrue(shown.text.contains("method: \(method)\n      sparsity: 0.9\n      scope: global\n"), shown.text)
            try shown.stdout.write(to: URL(fileURLWithPath: recipe))
            let a = try run(["apply", "-q", recipe, model, again])
            XCTAssertEqual(a.status, 0, a.stderr)
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out)), try Data(contentsOf: URL(fileURLWithPath: again)), method)
        }
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

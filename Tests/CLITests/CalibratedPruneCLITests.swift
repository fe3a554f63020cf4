import Foundation
import XCTest

/// `prune --method wanda|sparsegpt --calibration` on the digits MLP: exact sparsity per row,
/// and SparseGPT keeps far more accuracy than magnitude pruning at the same sparsity.
final class CalibratedPruneCLITests: CLITestCase {
    func accuracy(_ model: String) throws -> Double {
        let r = try run(["evaluate", model, "--data", fixture("demo/digits-test.csv"), "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        return try XCTUnwrap((try jsonObject(r.stdout)["metrics"] as? [String: Any])?["accuracy"] as? Double)
    }

    func zeros(_ model: String, _ tensor: String) throws -> Int {
        let r = try run(["inspect", "--json", model])
        return try XCTUnwrap(try self.tensor(tensor, in: try jsonObject(r.stdout))["zeros"] as? Int)
    }

    func testSparseGPTBeatsMagnitudeAndWandaHitsTheRowQuota() throws {
        let dir = try tempDir()
        let model = fixture("demo/mlp-digits.ckpt"), data = fixture("demo/digits-train.csv")
        var acc: [String: Double] = [:]
        for method in ["magnitude", "wanda", "sparsegpt"] {
            let out = dir + "/\(method).ckpt"
            var args = ["prune", "-q", "--sparsity", "0.7", "--method", method]
            if method != "magnitude" { args += ["--calibration", data] }
            let r = try run(args + [model, out])
            XCTAssertEqual(r.status, 0, r.stderr)
            acc[method] = try accuracy(out)
            if method == "wanda" {
                // ⌊0.7 × inputs⌋ weights of every output row: 44 of 64 (×32 rows), 22 of 32 (×10).
                XCTAssertEqual(try zeros(out, "fc1.weight"), 44 * 32, method)
                XCTAssertEqual(try zeros(out, "fc2.weight"), 22 * 10, method)
            } else if method == "sparsegpt" {
                // ⌊0.7 × weights⌋ of each block of 128 inputs across the rows (one block each here).
                XCTAssertEqual(try zeros(out, "fc1.weight"), 1433, method)
                XCTAssertEqual(try zeros(out, "fc2.weight"), 224, method)
            }
        }
        let dense = try accuracy(model)
        XCTAssertGreaterThan(acc["sparsegpt"]!, acc["magnitude"]! + 0.15, "\(acc)")
        XCTAssertGreaterThan(acc["wanda"]!, acc["magnitude"]!, "\(acc)")
        XCTAssertLessThan(dense - acc["sparsegpt"]!, 0.04, "\(acc), dense \(dense)")
    }

    func testTwoOfFourIsExactAndDeterministic() throws {
        let dir = try tempDir()
        let args = ["prune", "-q", "--method", "sparsegpt", "--pattern", "2:4", "--calibration", fixture("demo/digits-train.csv"),
                    fixture("demo/mlp-digits.ckpt")]
        XCTAssertEqual(try run(args + [dir + "/a.ckpt"]).status, 0)
        XCTAssertEqual(try run(args + [dir + "/b.ckpt"]).status, 0)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/a.ckpt")), try Data(contentsOf: URL(fileURLWithPath: dir + "/b.ckpt")))
        XCTAssertEqual(try zeros(dir + "/a.ckpt", "fc1.weight"), 1024)
        XCTAssertGreaterThan(try accuracy(dir + "/a.ckpt"), 0.94)
    }

    func testDataAwareMethodsRefuseWhatTheyCannotDo() throws {
        let dir = try tempDir()
        let model = fixture("demo/mlp-digits.ckpt"), data = fixture("demo/digits-train.csv")
        let cases: [([String], String)] = [
            (["--method", "wanda", "--keep", "0.5"], "needs --calibration"),
            (["--method", "wanda", "--pattern", "2:4", "--calibration", data, "--scope", "global"], "--pattern N:M fixes every row's share"),
            (["--method", "sparsegpt", "--pattern", "channels", "--keep", "0.5", "--calibration", data], "--pattern N:M"),
            (["--keep", "0.5", "--calibration", data], "--calibration goes with"),
        ]
        for (args, message) in cases {
            let r = try run(["prune"] + args + [model, dir + "/x.ckpt"])
            XCTAssertEqual(r.status, 64, args.joined(separator: " "))
            XCTAssertTrue(r.stderr.contains(message), r.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/x.ckpt"))
        }
        // Calibration data of the wrong width is a data error naming the input.
        let bad = dir + "/bad.csv"
        try "a,b\n1,2\n3,4\n".write(toFile: bad, atomically: true, encoding: .utf8)
        let r = try run(["prune", "--method", "wanda", "--keep", "0.5", "--calibration", bad, model, dir + "/x.ckpt"])
        XCTAssertEqual(r.status, 65, r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/x.ckpt"))
    }
}

/// `quantize --method gptq --calibration`: what it refuses, and that its output runs.
final class GPTQQuantizeCLITests: CLITestCase {
    func testGPTQRefusesWhatItCannotDo() throws {
        let dir = try tempDir()
        let model = fixture("demo/mlp-digits.ckpt"), data = fixture("demo/digits-train.csv")
        let cases: [([String], Int32, String)] = [
            (["--int4", "--method", "gptq"], 64, "needs --calibration"),
            (["--int4", "--act-order"], 64, "go with --method gptq"),
            (["--fp16", "--method", "gptq", "--calibration", data], 64, "integer scheme"),
            (["--int8", "--per-tensor", "--method", "gptq", "--calibration", data], 64, "per-channel or group"),
        ]
        for (args, status, message) in cases {
            let r = try run(["quantize"] + args + [model, dir + "/x.ckpt"])
            XCTAssertEqual(r.status, status, args.joined(separator: " ") + ": " + r.stderr)
            XCTAssertTrue(r.stderr.contains(message), r.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/x.ckpt"))
        }
    }

    func testGPTQOutputIsDeterministicAndEvaluates() throws {
        let dir = try tempDir()
        let args = ["quantize", "-q", "--int4", "--method", "gptq", "--act-order", "--calibration", fixture("demo/digits-train.csv"),
                    fixture("demo/mlp-digits.ckpt")]
        XCTAssertEqual(try run(args + [dir + "/a.ckpt"]).status, 0)
        XCTAssertEqual(try run(args + [dir + "/b.ckpt"]).status, 0)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/a.ckpt")), try Data(contentsOf: URL(fileURLWithPath: dir + "/b.ckpt")))
        let r = try run(["evaluate", dir + "/a.ckpt", "--data", fixture("demo/digits-test.csv"), "--json"])
        let accuracy = try XCTUnwrap((try jsonObject(r.stdout)["metrics"] as? [String: Any])?["accuracy"] as? Double)
        XCTAssertGreaterThan(accuracy, 0.96)
    }
}

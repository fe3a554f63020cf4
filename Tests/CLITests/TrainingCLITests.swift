import AICompressCore
import AICompressFormats
import Foundation
import XCTest

/// evaluate, predict and train through the built binary.
final class TrainingCLITests: CLITestCase {
    let test = "demo/digits-test.csv"
    let train = "demo/digits-train.csv"

    func json(_ r: Result) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: r.stdout) as? [String: Any])
    }

    func testEvaluateReproducesTheRecordedAccuracy() throws {
        // fixtures/demo/mlp-digits.json: sklearn measured 438 of 450 correct on the same rows
        let r = try run(["evaluate", fixture("demo/mlp-digits.ckpt"), "--data", fixture(test), "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let j = try json(r)
        XCTAssertEqual(j["schema"] as? String, "aicompress.evaluate/1")
        let m = try XCTUnwrap(j["metrics"] as? [String: Any])
        XCTAssertEqual(m["correct"] as? Int, 438)
        XCTAssertEqual(m["samples"] as? Int, 450)
        let confusion = try XCTUnwrap(m["confusion"] as? [[Int]])
        XCTAssertEqual(confusion.count, 10)
        XCTAssertEqual(confusion.joined().reduce(0, +), 450)
        XCTAssertEqual((0..<10).map { confusion[$0][$0] }.reduce(0, +), 438)
        // predictions equal sklearn's, row by row
        let recorded = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: fixture("demo/mlp-digits.json")))) as? [String: Any])
        let expected = try XCTUnwrap(recorded["test_predictions"] as? [Int])
        let p = try run(["predict", fixture("demo/mlp-digits.ckpt"), "--data", fixture(test)])
        XCTAssertEqual(p.status, 0, p.stderr)
        let rows = p.text.split(separator: "\n").dropFirst().map { $0.split(separator: ",").map { Float(String($0))! } }
        XCTAssertEqual(rows.count, 450)
        XCTAssertEqual(rows.map { r in r.indices.max { r[$0] < r[$1] }! }, expected)
    }

    /// The same rows as .npy features and labels give the same result as the CSV.
    func testNumpyFeaturesAndLabels() throws {
        let dir = try tempDir()
        let rows = try String(contentsOfFile: fixture(test), encoding: .utf8).split(separator: "\n").dropFirst()
            .map { $0.split(separator: ",").map { Double(String($0))! } }
        func npy(_ descr: String, _ shape: String, _ payload: [UInt8]) -> Data {
            var h = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shape), }"
            while (10 + h.utf8.count + 1) % 64 != 0 { h += " " }
            h += "\n"
            return Data([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(h.utf8.count), 0] + Array(h.utf8) + payload)
        }
        let x = rows.flatMap { $0.prefix(64).map { Float($0) } }, y = rows.map { Int64($0[64]) }
        try npy("<f4", "(\(rows.count), 64)", x.withUnsafeBytes { Array($0) }).write(to: URL(fileURLWithPath: dir + "/x.npy"))
        try npy("<i8", "(\(rows.count),)", y.withUnsafeBytes { Array($0) }).write(to: URL(fileURLWithPath: dir + "/y.npy"))
        let r = try run(["evaluate", fixture("demo/mlp-digits.ckpt"), "--data", dir + "/x.npy", "--labels", dir + "/y.npy", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(((try json(r))["metrics"] as? [String: Any])?["correct"] as? Int, 438)
    }

    /// Inputs that crashed the fuzzer once (fixtures/fuzz-regressions) now give a clean error.
    func testFuzzRegressions() throws {
        let r = try run(["predict", fixture("fuzz-regressions/exec-conv-int-bias.onnx"), "--data", fixture(test)])
        XCTAssertEqual(r.status, 65, r.stderr)
        XCTAssertTrue(r.stderr.contains("bias must be 8 float values"), r.stderr)
        // A Range of -2.4e28 elements (trapped in its Int conversion) is empty; Mul then refuses it.
        let csv = try tempDir() + "/row.csv"
        try ((0..<12).map { "f\($0)" }.joined(separator: ",") + "\n" + [String](repeating: "1", count: 12).joined(separator: ",") + "\n")
            .write(toFile: csv, atomically: true, encoding: .utf8)
        let range = try run(["predict", fixture("fuzz-regressions/exec-range-huge-count.onnx"), "--data", csv])
        XCTAssertEqual(range.status, 65, range.stderr)
        XCTAssertTrue(range.stderr.contains("output"), range.stderr)
    }

    /// A regression model (one float output): evaluate reports MSE, MAE and R²; training a
    /// zero-initialized copy recovers the line.
    func testRegressionEvaluateAndTrain() throws {
        let dir = try tempDir()
        func linear(_ w: [Float], _ b: Float, _ path: String) throws {
            let node = Node(name: "fc", opType: "Gemm", inputs: ["input", "W", "B"], outputs: ["y"],
                            attributes: [Attribute(name: "transB", value: .int(1))])
            let g = Graph(name: "line", opsets: [OpsetImport(domain: "", version: 17)],
                          inputs: [ValueInfo(name: "input", elemType: 1, shape: [.symbolic("N"), .fixed(2)])],
                          outputs: [ValueInfo(name: "y", elemType: 1, shape: [.symbolic("N"), .fixed(1)])], nodes: [node])
            let m = try Model(tensors: [try Tensor(name: "W", shape: [1, 2], floats: w), try Tensor(name: "B", shape: [1], floats: [b])], graph: g)
            try ModelIO.write(m, to: path, format: .onnx)
        }
        try linear([2, -3], 0.5, dir + "/true.onnx")
        try linear([0, 0], 0, dir + "/zero.onnx")
        var csv = "a,b,target\n"
        for i in 0..<200 {
            let a = Double(i % 17) / 8 - 1, b = Double((i * 7) % 13) / 6 - 1
            csv += "\(a),\(b),\(2 * a - 3 * b + 0.5)\n"
        }
        try csv.write(toFile: dir + "/line.csv", atomically: true, encoding: .utf8)
        let r = try run(["evaluate", dir + "/true.onnx", "--data", dir + "/line.csv", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let m = try XCTUnwrap((try json(r))["metrics"] as? [String: Any])
        XCTAssertEqual(m["task"] as? String, "regression")
        XCTAssertEqual(try XCTUnwrap(m["mse"] as? Double), 0, accuracy: 1e-10)
        XCTAssertEqual(try XCTUnwrap(m["r2"] as? Double), 1, accuracy: 1e-10)
        let t = try run(["train", dir + "/zero.onnx", "--data", dir + "/line.csv", "--optimizer", "gd", "--lr", "0.2", "--epochs", "300", "-q",
                         dir + "/fit.onnx"])
        XCTAssertEqual(t.status, 0, t.stderr)
        let e = try XCTUnwrap((try json(try run(["evaluate", dir + "/fit.onnx", "--data", dir + "/line.csv", "--json"])))["metrics"] as? [String: Any])
        XCTAssertGreaterThan(try XCTUnwrap(e["r2"] as? Double), 0.9999)
        XCTAssertTrue(try run(["evaluate", dir + "/fit.onnx", "--data", dir + "/line.csv"]).text.contains("R²"))
    }

    func testEvaluateCompareAndText() throws {
        let args = ["evaluate", fixture("demo/cnn-digits.onnx"), "--data", fixture(test), "--compare", fixture("demo/mlp-digits.ckpt")]
        let r = try run(args)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(tableRow("accuracy", in: r.text), ["accuracy", "97.78%", "(440/450)"], r.text)
        // the same figures from --json: 440 of 450 against the MLP's 438
        let j = try json(try run(args + ["--json"]))
        let m = try XCTUnwrap(j["metrics"] as? [String: Any])
        XCTAssertEqual(m["correct"] as? Int, 440)
        XCTAssertEqual(m["samples"] as? Int, 450)
        let compare = try XCTUnwrap(j["compare"] as? [String: Any])
        XCTAssertEqual((compare["metrics"] as? [String: Any])?["correct"] as? Int, 438)
        XCTAssertEqual(try XCTUnwrap(compare["accuracy_change"] as? Double), 2.0 / 450, accuracy: 1e-12)
        XCTAssertTrue(r.text.contains("confusion matrix"))
        XCTAssertTrue(r.text.contains("change +0.44 points"), r.text)
    }

    func testTrainingRecoversAPrunedModelAndKeepsItsSparsity() throws {
        let dir = try tempDir()
        let pruned = dir + "/pruned.ckpt", tuned = dir + "/tuned.ckpt"
        XCTAssertEqual(try run(["prune", "--keep", "0.2", "--scope", "global", "-q", fixture("demo/mlp-digits.ckpt"), pruned]).status, 0)
        func accuracy(_ m: String) throws -> Double {
            let r = try run(["evaluate", m, "--data", fixture(test), "--json"])
            XCTAssertEqual(r.status, 0, r.stderr)
            return try XCTUnwrap((try json(r)["metrics"] as? [String: Any])?["accuracy"] as? Double)
        }
        let before = try accuracy(pruned)
        let t = try run(["train", pruned, "--data", fixture(train), "--epochs", "15", "--lr", "0.003", "--seed", "1", "-q", tuned])
        XCTAssertEqual(t.status, 0, t.stderr)
        let after = try accuracy(tuned)
        XCTAssertLessThan(before, 0.8)
        XCTAssertGreaterThan(after, 0.94)
        // same zeros as the pruned input: inspect reports identical sparsity per weight
        func sparsity(_ m: String) throws -> [Double] {
            let j = try json(try run(["inspect", m, "--json"]))
            return (j["tensors"] as! [[String: Any]]).map { $0["sparsity"] as! Double }
        }
        XCTAssertEqual(try sparsity(tuned), try sparsity(pruned))
        // deterministic: the same seed gives the same bytes
        let again = dir + "/again.ckpt"
        XCTAssertEqual(try run(["train", pruned, "--data", fixture(train), "--epochs", "15", "--lr", "0.003", "--seed", "1", "-q", again]).status, 0)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: tuned)), try Data(contentsOf: URL(fileURLWithPath: again)))
        let step = try run(["inspect", tuned]).text
        XCTAssertTrue(step.contains("train optimizer=adam lr=0.003"), step)
    }

    func testStandardizeTravelsWithTheModelIntoONNX() throws {
        let dir = try tempDir()
        let out = dir + "/std.onnx"
        let r = try run(["train", fixture("demo/mlp-digits.ckpt"), "--data", fixture(train), "--epochs", "2", "--standardize", "--optimizer", "sgd",
                         "--lr", "0.01", "--verbose", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("epoch 2/2"), r.stderr)
        // without --verbose, and stderr not a terminal: only the closing summary
        let quietish = try run(["train", fixture("demo/mlp-digits.ckpt"), "--data", fixture(train), "--epochs", "2", dir + "/b.ckpt"])
        XCTAssertFalse(quietish.stderr.contains("epoch 1/2"), quietish.stderr)
        XCTAssertTrue(quietish.stderr.hasPrefix("trained 2,410 parameters"), quietish.stderr)
        let e = try run(["evaluate", out, "--data", fixture(test), "--json"])
        XCTAssertEqual(e.status, 0, e.stderr)
        let acc = try XCTUnwrap((try json(e)["metrics"] as? [String: Any])?["accuracy"] as? Double)
        XCTAssertGreaterThan(acc, 0.85)
        XCTAssertTrue(try run(["inspect", out]).text.contains("aicompress.input_mean"))
    }

    func testMissingValuesAreReportedAndBadDataNamesTheLine() throws {
        let dir = try tempDir()
        var lines = try String(contentsOfFile: fixture(test), encoding: .utf8).split(separator: "\n").map(String.init)
        lines[3] = lines[3].replacingOccurrences(of: "0.0,", with: ",", options: [], range: lines[3].range(of: "0.0,"))
        let holes = dir + "/holes.csv"
        try (lines.joined(separator: "\n") + "\n").write(toFile: holes, atomically: true, encoding: .utf8)
        let refused = try run(["evaluate", fixture("demo/mlp-digits.ckpt"), "--data", holes])
        XCTAssertEqual(refused.status, 65)
        XCTAssertTrue(refused.stderr.contains("1 missing values"), refused.stderr)
        let filled = try run(["evaluate", fixture("demo/mlp-digits.ckpt"), "--data", holes, "--missing", "median"])
        XCTAssertEqual(filled.status, 0, filled.stderr)
        XCTAssertTrue(filled.text.contains("missing: 1 missing values in 1 column (filled by median); 450 of 450 rows used"), filled.text)
        lines[7] = "1,2,three"
        let bad = dir + "/bad.csv"
        try (lines.joined(separator: "\n") + "\n").write(toFile: bad, atomically: true, encoding: .utf8)
        let r = try run(["evaluate", fixture("demo/mlp-digits.ckpt"), "--data", bad])
        XCTAssertEqual(r.status, 65)
        XCTAssertEqual(r.stderr, "aicompress: error: \(bad):8: has 3 fields, the header has 65\n")
    }

    func testUnusableModelsAndOptionsAreClearErrors() throws {
        // a checkpoint without a graph cannot run
        let dir = try tempDir()
        let bare = dir + "/bare.safetensors"
        XCTAssertEqual(try run(["convert", fixture("demo/mlp-digits.ckpt"), bare]).status, 0)
        let r = try run(["evaluate", bare, "--data", fixture(test)])
        XCTAssertEqual(r.status, 65)
        XCTAssertTrue(r.stderr.contains("has no graph"), r.stderr)
        // an op the executor does not run is named
        let g = Graph(name: "g", opsets: [OpsetImport(domain: "", version: 17)],
                      inputs: [ValueInfo(name: "input", elemType: 1, shape: [.symbolic("N"), .fixed(64)])],
                      outputs: [ValueInfo(name: "y", elemType: 1, shape: nil)],
                      nodes: [Node(name: "mix", opType: "Loop", inputs: ["input"], outputs: ["y"])])
        try ModelIO.write(try Model(tensors: [], graph: g), to: dir + "/loop.onnx", format: .onnx)
        let u = try run(["evaluate", dir + "/loop.onnx", "--data", fixture(test)])
        XCTAssertEqual(u.status, 65)
        XCTAssertEqual(u.stderr, "aicompress: error: \(dir)/loop.onnx: node 'mix': op Loop is not supported by the executor\n")
        // scikit-learn's logistic regression (LinearClassifier + Normalizer) runs
        let lr = try run(["evaluate", fixture("onnx/skl-logreg.onnx"), "--data", fixture(test), "--json"])
        XCTAssertEqual(lr.status, 0, lr.stderr)
        XCTAssertEqual(((try json(lr))["metrics"] as? [String: Any])?["correct"] as? Int, 436) // onnxruntime: 436/450
        for args in [["--lr", "-1"], ["--epochs", "0"], ["--optimizer", "rmsprop"], ["--val-split", "1.5"], ["--nesterov"]] {
            let t = try run(["train", fixture("demo/mlp-digits.ckpt"), "--data", fixture(train), dir + "/x.ckpt"] + args)
            XCTAssertEqual(t.status, 64, "\(args): \(t.stderr)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/x.ckpt"))
        // data of the wrong width
        let narrow = dir + "/narrow.csv"
        try "a,b,label\n1,2,0\n".write(toFile: narrow, atomically: true, encoding: .utf8)
        let w = try run(["evaluate", fixture("demo/mlp-digits.ckpt"), "--data", narrow])
        XCTAssertEqual(w.status, 65)
        XCTAssertEqual(w.stderr, "aicompress: error: \(narrow): has 2 feature columns, the model takes 64\n")
    }
}

import Foundation
import XCTest

/// `train` and `distill` on models nobody here wrote (issue 15): scikit-learn classifiers in
/// skl2onnx's default ZipMap export, teachers whose outputs are probabilities, outputs without
/// gradient, and the defaults that train until a held-out split stops improving.
/// Fixtures: fixtures/training/make_sklearn_teachers.py (and fixtures/onnx/skl-*.onnx, zipmap off).
final class Training15CLITests: CLITestCase {
    let trainCSV = "demo/digits-train.csv", testCSV = "demo/digits-test.csv"

    func accuracy(_ model: String) throws -> Double {
        let r = try run(["evaluate", model, "--data", fixture(testCSV), "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        return try XCTUnwrap((try jsonObject(r.stdout)["metrics"] as? [String: Any])?["accuracy"] as? Double)
    }

    /// Each tensor's (min, max, mean, std) from `inspect --json`: changes when its values do.
    func statistics(_ model: String) throws -> [String: [Double]] {
        let j = try jsonObject(try run(["inspect", model, "--json"]).stdout)
        var out: [String: [Double]] = [:]
        for t in try XCTUnwrap(j["tensors"] as? [[String: Any]]) {
            out[t["name"] as? String ?? ""] = ["min", "max", "mean", "std"].compactMap { t[$0] as? Double }
        }
        return out
    }

    /// Item 3: skl2onnx's default MLPClassifier export ends Softmax → ZipMap. Before the fix the
    /// loss sat on the ZipMap output, no gradient flowed, and `train` reported "trained 2,410
    /// parameters" with every weight unchanged; now it trains from the logits before the
    /// Softmax, and the output keeps its ZipMap.
    func testZipMapClassifierIsTrainedThroughItsLogits() throws {
        let dir = try tempDir()
        let pruned = dir + "/p.onnx", tuned = dir + "/t.onnx"
        XCTAssertEqual(try run(["prune", "--keep", "0.3", "-q", fixture("training/skl-mlp-zipmap.onnx"), pruned]).status, 0)
        let before = try accuracy(pruned)
        let r = try run(["train", pruned, "--data", fixture(trainCSV), "--epochs", "10", tuned])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.hasPrefix("trained 2,410 parameters"), r.stderr)
        // measured: 70.0% pruned, 94.9% after 10 epochs
        XCTAssertLessThan(before, 0.8)
        XCTAssertGreaterThan(try accuracy(tuned), 0.93)
        let a = try statistics(pruned), b = try statistics(tuned)
        for name in ["coefficient", "intercepts", "coefficient1", "intercepts1"] {
            XCTAssertNotNil(a[name], name)
            XCTAssertNotEqual(a[name], b[name], "\(name) did not change")
        }
        XCTAssertTrue(try run(["inspect", tuned]).text.contains("ZipMap"))
    }

    /// A float output computed from the weights only through ArgMax has no gradient: refused
    /// with one line naming the file, the output and the node (exit 65), and nothing written.
    /// LogisticRegression's weights are attributes: nothing to train, also refused.
    func testModelsWithoutGradientAreRefused() throws {
        let dir = try tempDir()
        let model = fixture("training/no-gradient.onnx")
        let r = try run(["train", model, "--data", fixture(trainCSV), "--epochs", "2", dir + "/out.onnx"])
        XCTAssertEqual(r.status, 65, r.stderr)
        XCTAssertEqual(r.stderr, "aicompress: error: \(model): output 'predicted' depends on the trainable tensors only through node 'argmax' (ArgMax), which passes no gradient: nothing can be trained\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/out.onnx"))
        let lr = try run(["train", fixture("training/skl-logreg-zipmap.onnx"), "--data", fixture(trainCSV), "--epochs", "2", dir + "/lr.onnx"])
        XCTAssertEqual(lr.status, 65, lr.stderr)
        XCTAssertTrue(lr.stderr.contains("no trainable float tensors"), lr.stderr)
    }
}

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

    /// Item 4: a teacher whose output is probabilities taught like near-uniform logits (its
    /// probabilities themselves were softened by T), so a student trained only on the teacher's
    /// outputs (--data-free) reached 33.6% from LogisticRegression and 23.1% from the ZipMap
    /// MLP, whichever the teacher. Now log p is used (or the pre-softmax value the graph has):
    /// LogisticRegression's students reach 95.8-96.0%, and the MLP taught through ZipMap or a
    /// hand-spelled softmax gives the same student as through its logits.
    func testProbabilityTeachersTeachThroughTheirLog() throws {
        let dir = try tempDir()
        func distill(_ teacher: String, _ out: String) throws -> String {
            let r = try run(["distill", "--teacher", fixture(teacher), "--data", fixture(trainCSV), "--hidden", "32",
                             "--data-free", "2000", "--epochs", "20", "-q", dir + "/" + out])
            XCTAssertEqual(r.status, 0, r.stderr)
            return dir + "/" + out
        }
        for teacher in ["onnx/skl-logreg.onnx", "training/skl-logreg-zipmap.onnx"] {
            XCTAssertGreaterThan(try accuracy(try distill(teacher, "lr.ckpt")), 0.93, teacher)
        }
        // the predicted class of every test row (the scores agree to float rounding: exp/log)
        func predictions(_ m: String) throws -> [Int] {
            let r = try run(["predict", m, "--data", fixture(testCSV)])
            XCTAssertEqual(r.status, 0, r.stderr)
            return r.text.split(separator: "\n").dropFirst().map { line in
                let v = line.split(separator: ",").map { Double(String($0)) ?? .nan }
                return v.indices.max { v[$0] < v[$1] } ?? -1
            }
        }
        // skl-mlp.onnx ends Softmax -> Identity: its pre-softmax value was always used
        let reference = try predictions(try distill("onnx/skl-mlp.onnx", "ref.ckpt"))
        for teacher in ["training/skl-mlp-zipmap.onnx", "training/mlp-manual-softmax.onnx"] {
            XCTAssertEqual(try predictions(try distill(teacher, "s.ckpt")), reference, teacher)
        }
        let step = try run(["inspect", try distill("training/mlp-manual-softmax.onnx", "m.ckpt")]).text
        XCTAssertTrue(step.contains(" teacher_logits=log_probabilities "), step)
    }

    /// Item 7, the rules (fast, on 60 rows): no tuning flag trains until a 10% hold-out stops
    /// improving; --epochs N alone trains exactly N epochs; --epochs N --patience P stops early
    /// within N; fewer than 20 rows hold nothing out; the summary says why training stopped.
    func testStoppingRulesAndTheirSummary() throws {
        let dir = try tempDir()
        let rows = try String(contentsOfFile: fixture(trainCSV), encoding: .utf8).split(separator: "\n")
        try (rows.prefix(61).joined(separator: "\n") + "\n").write(toFile: dir + "/small.csv", atomically: true, encoding: .utf8)
        try (rows.prefix(11).joined(separator: "\n") + "\n").write(toFile: dir + "/tiny.csv", atomically: true, encoding: .utf8)
        let model = fixture("demo/mlp-digits.ckpt")
        func train(_ data: String, _ flags: [String]) throws -> String {
            let r = try run(["train", model, "--data", dir + "/" + data, "--lr", "0.01"] + flags + [dir + "/out.ckpt"])
            XCTAssertEqual(r.status, 0, r.stderr)
            return r.stderr
        }
        let fixed = try train("small.csv", ["--epochs", "3"])
        XCTAssertTrue(fixed.hasPrefix("trained 2,410 parameters in 4 tensors: 3 epochs, 6 steps, loss "), fixed)
        XCTAssertTrue(fixed.hasSuffix("; stopped: reached --epochs 3\n"), fixed)
        let converged = try train("small.csv", [])
        XCTAssertNotNil(converged.range(of: #"\(val_acc [0-9.]+%\); stopped: validation loss did not improve for 10 epochs; kept epoch [0-9]+\n$"#,
                                        options: .regularExpression), converged)
        XCTAssertTrue(try run(["inspect", dir + "/out.ckpt"]).text.contains("epochs=500 batch=32 patience=10 seed=0 data.crc32="))
        let capped = try train("small.csv", ["--epochs", "4", "--patience", "3"])
        XCTAssertNotNil(capped.range(of: #"; stopped: reached --epochs 4; kept epoch [1-4] \(lowest validation loss\)\n$"#,
                                     options: .regularExpression), capped)
        // 10 rows: nothing held out (a hold-out would have left 1 row), the training loss is watched
        let tiny = try train("tiny.csv", [])
        XCTAssertTrue(tiny.contains("stopped: "), tiny)
        XCTAssertFalse(tiny.contains("val_acc"), tiny)
        XCTAssertTrue(try run(["inspect", dir + "/out.ckpt"]).text.contains(" rows=10"))
    }

    /// Item 7, measured (slow): with no tuning flag, `distill --hidden 32` on the digits teacher
    /// (97.78%) used to stop after a fixed 20 epochs at −2.4 points; now it trains until the
    /// validation loss stops improving (224 epochs, 97.33%, −0.44) — the same bytes for the same
    /// seed. Fine-tuning the demo MLP pruned to 20% (69.6%) reaches 95.8% (152 epochs; 20 gave
    /// 95.1%). Distilling from each kind of teacher output lands within a point of the teacher.
    func testDefaultsTrainUntilConverged() throws {
        guard ProcessInfo.processInfo.environment["AICOMPRESS_SLOW"] == "1" else {
            throw XCTSkip("slow acceptance test: set AICOMPRESS_SLOW=1 to run it (scripts/test.sh does)")
        }
        let dir = try tempDir()
        let args = ["distill", "--teacher", fixture("demo/teacher-digits.ckpt"), "--data", fixture(trainCSV), "--hidden", "32"]
        let r = try run(args + [dir + "/s.ckpt"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("; stopped: validation loss did not improve for 10 epochs; kept epoch "), r.stderr)
        XCTAssertGreaterThanOrEqual(try accuracy(dir + "/s.ckpt"), 0.9778 - 0.01)
        XCTAssertEqual(try run(args + ["-q", dir + "/again.ckpt"]).status, 0)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/s.ckpt")), try Data(contentsOf: URL(fileURLWithPath: dir + "/again.ckpt")))

        XCTAssertEqual(try run(["prune", "--keep", "0.2", "--scope", "global", "-q", fixture("demo/mlp-digits.ckpt"), dir + "/p.ckpt"]).status, 0)
        let t = try run(["train", dir + "/p.ckpt", "--data", fixture(trainCSV), dir + "/t.ckpt"])
        XCTAssertEqual(t.status, 0, t.stderr)
        XCTAssertTrue(t.stderr.contains("; stopped: validation loss did not improve for 10 epochs; kept epoch "), t.stderr)
        XCTAssertGreaterThan(try accuracy(dir + "/t.ckpt"), 0.95)

        // probabilities without a pre-softmax value (LinearClassifier + Normalizer + ZipMap),
        // probabilities behind Softmax -> Identity, and a softmax only the values reveal
        for teacher in ["training/skl-logreg-zipmap.onnx", "onnx/skl-mlp.onnx", "training/mlp-manual-softmax.onnx"] {
            let d = try run(["distill", "--teacher", fixture(teacher), "--data", fixture(trainCSV), "--hidden", "32", "-q", dir + "/k.ckpt"])
            XCTAssertEqual(d.status, 0, d.stderr)
            // measured: 96.89% of 96.89%, 97.11% of 97.33%, 97.11% of 97.33%
            XCTAssertGreaterThanOrEqual(try accuracy(dir + "/k.ckpt"), try accuracy(fixture(teacher)) - 0.01, teacher)
        }
    }
}

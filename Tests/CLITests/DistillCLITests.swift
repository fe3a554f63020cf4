import Foundation
import XCTest

/// `aicompress distill` on scikit-learn's digits (fixtures/demo), with the teacher of
/// fixtures/demo/make_teacher.py: 50,826 parameters, 97.78% test accuracy (440/450).
///
/// These acceptance tests train real students (about 16 s), so they run only with
/// `AICOMPRESS_SLOW=1` (scripts/test.sh, and so CI, sets it); the library's DistillationTests
/// cover the same workflow quickly.
final class DistillCLITests: CLITestCase {
    let teacherAccuracy = 0.9778

    override func setUpWithError() throws {
        try super.setUpWithError()
        guard ProcessInfo.processInfo.environment["AICOMPRESS_SLOW"] == "1" else {
            throw XCTSkip("slow acceptance test: set AICOMPRESS_SLOW=1 to run it (scripts/test.sh does)")
        }
    }

    func accuracy(_ model: String) throws -> Double {
        let r = try run(["evaluate", model, "--data", fixture("demo/digits-test.csv"), "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let j = try XCTUnwrap(JSONSerialization.jsonObject(with: r.stdout) as? [String: Any])
        return try XCTUnwrap((j["metrics"] as? [String: Any])?["accuracy"] as? Double)
    }

    func parameters(_ model: String) throws -> Int {
        let j = try XCTUnwrap(JSONSerialization.jsonObject(with: try run(["inspect", model, "--json"]).stdout) as? [String: Any])
        return try XCTUnwrap((j["totals"] as? [String: Any])?["parameters"] as? Int)
    }

    /// Acceptance: a student with at most a quarter of the teacher's parameters comes within
    /// 1.5 points of its accuracy; the same seed gives the same bytes.
    func testSmallStudentReachesTheAccuracyFloor() throws {
        let dir = try tempDir()
        let args = ["distill", "--teacher", fixture("demo/teacher-digits.ckpt"), "--data", fixture("demo/digits-train.csv"),
                    "--hidden", "64,32", "--epochs", "40", "--lr", "0.003", "--seed", "3", "-q"]
        let r = try run(args + [dir + "/student.ckpt"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertLessThanOrEqual(try parameters(dir + "/student.ckpt"), 50_826 / 4)
        XCTAssertGreaterThanOrEqual(try accuracy(dir + "/student.ckpt"), teacherAccuracy - 0.015)
        XCTAssertEqual(try run(args + [dir + "/again.ckpt"]).status, 0)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/student.ckpt")),
                       try Data(contentsOf: URL(fileURLWithPath: dir + "/again.ckpt")))
        let info = try run(["inspect", dir + "/student.ckpt"]).text
        XCTAssertTrue(info.contains("aicompress.teacher.sha256 = a1d875849f012493eda3f892049b1f0c4fde9bb55192942d740df102a8e11437"), info)
        XCTAssertTrue(info.contains("student=mlp hidden=64,32 temperature=4.0 alpha=0.9"), info)
    }

    /// Acceptance: pruning the teacher to 20% of its weights and distilling into the pruned
    /// model gets back within 1 point, and the student keeps its sparsity.
    func testPrunedTeacherRecoversByDistillation() throws {
        let dir = try tempDir()
        XCTAssertEqual(try run(["prune", "--keep", "0.2", "--scope", "global", "-q", fixture("demo/teacher-digits.ckpt"), dir + "/p.ckpt"]).status, 0)
        XCTAssertLessThan(try accuracy(dir + "/p.ckpt"), teacherAccuracy - 0.05)
        let r = try run(["distill", "--teacher", fixture("demo/teacher-digits.ckpt"), "--student", dir + "/p.ckpt", "--data",
                         fixture("demo/digits-train.csv"), "--epochs", "20", "--lr", "0.001", "-q", dir + "/d.ckpt"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertGreaterThanOrEqual(try accuracy(dir + "/d.ckpt"), teacherAccuracy - 0.01)
        let j = try XCTUnwrap(JSONSerialization.jsonObject(with: try run(["inspect", dir + "/d.ckpt", "--json"]).stdout) as? [String: Any])
        XCTAssertGreaterThan(try XCTUnwrap((j["totals"] as? [String: Any])?["sparsity"] as? Double), 0.79)
    }

    /// With T = 1 and α = 0 the loss is plain cross-entropy: distill equals train bit for bit.
    func testAlphaZeroIsPlainTraining() throws {
        let dir = try tempDir()
        let common = ["--data", fixture("demo/digits-train.csv"), "--epochs", "3", "--seed", "5", "-q"]
        XCTAssertEqual(try run(["distill", "--teacher", fixture("demo/teacher-digits.ckpt"), "--student", fixture("demo/mlp-digits.ckpt"),
                                "--alpha", "0", "--temperature", "1", dir + "/kd.ckpt"] + common).status, 0)
        XCTAssertEqual(try run(["train", fixture("demo/mlp-digits.ckpt"), dir + "/plain.ckpt"] + common).status, 0)
        let a = try run(["predict", dir + "/kd.ckpt", "--data", fixture("demo/digits-test.csv")])
        let b = try run(["predict", dir + "/plain.ckpt", "--data", fixture("demo/digits-test.csv")])
        XCTAssertEqual(a.status, 0, a.stderr)
        XCTAssertEqual(a.text, b.text)
        let c = try run(["predict", fixture("demo/mlp-digits.ckpt"), "--data", fixture("demo/digits-test.csv")])
        XCTAssertNotEqual(a.text, c.text) // it did train
    }

    func testShrinkFeaturesAndDataFree() throws {
        let dir = try tempDir()
        let base = ["distill", "--teacher", fixture("demo/teacher-digits.ckpt"), "--data", fixture("demo/digits-train.csv"), "-q"]
        XCTAssertEqual(try run(base + ["--shrink", "0.25", "--epochs", "15", "--lr", "0.002", dir + "/shrunk.onnx"]).status, 0)
        XCTAssertEqual(try parameters(dir + "/shrunk.onnx"), 64 * 64 + 64 + 64 * 32 + 32 + 32 * 10 + 10)
        XCTAssertGreaterThan(try accuracy(dir + "/shrunk.onnx"), 0.94)
        // feature distillation through a 64→256 projection, which is dropped from the output
        let f = try run(base + ["--hidden", "64,32", "--feature", "relu1=a1", "--epochs", "10", dir + "/feat.ckpt"])
        XCTAssertEqual(f.status, 0, f.stderr)
        XCTAssertFalse(try run(["inspect", dir + "/feat.ckpt"]).text.contains("distill.projection"))
        XCTAssertGreaterThan(try accuracy(dir + "/feat.ckpt"), 0.9)
        // data-free: uniform inputs within each feature's range, labelled by the teacher
        let d = try run(base + ["--hidden", "64,32", "--data-free", "4000", "--epochs", "10", "--lr", "0.003", dir + "/free.ckpt"])
        XCTAssertEqual(d.status, 0, d.stderr)
        XCTAssertGreaterThan(try accuracy(dir + "/free.ckpt"), 0.8)
        // usage errors
        for bad in [["--hidden", "64", "--shrink", "0.5"], ["--hidden", "0"], ["--alpha", "2", "--hidden", "8"], ["--feature", "x", "--hidden", "8"], []] {
            XCTAssertEqual(try run(base + bad + [dir + "/bad.ckpt"]).status, 64, "\(bad)")
        }
        let mismatch = try run(base + ["--student", fixture("onnx/mlp.onnx"), dir + "/bad.ckpt"])
        XCTAssertEqual(mismatch.status, 65, mismatch.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/bad.ckpt"))
    }
}

import Foundation
import XCTest

/// scikit-learn models as skl2onnx exports them (issue 15 item 10; fixtures/onnx/
/// make_skl_string_fixtures.py): string class labels, `[1, N]` biases, coefficients held as
/// node attributes.
final class SklearnModelsCLITests: CLITestCase {
    func testStringLabelsInspectAndConvert() throws {
        let mlp = fixture("onnx/skl-mlp-strings.onnx")
        let inspect = try run(["inspect", mlp])
        XCTAssertEqual(inspect.status, 0, inspect.stderr)
        XCTAssertTrue(inspect.text.contains("string tensor classes [3]: \"setosa\", \"versicolor\", \"virginica\""), inspect.text)
        let dir = try tempDir()
        XCTAssertEqual(try run(["convert", mlp, dir + "/m.ckpt"]).status, 0)
        let ckpt = try run(["inspect", dir + "/m.ckpt"])
        XCTAssertTrue(ckpt.text.contains("string tensor classes [3]"), ckpt.text)
        let back = try run(["convert", dir + "/m.ckpt", dir + "/m.onnx"])
        XCTAssertEqual(back.status, 0, back.stderr)
        let again = try run(["inspect", dir + "/m.onnx"])
        XCTAssertTrue(again.text.contains("string tensor classes [3]: \"setosa\", \"versicolor\", \"virginica\""), again.text)
        XCTAssertEqual(try run(["verify", dir + "/m.onnx", dir + "/m.ckpt"]).status, 0)
        XCTAssertEqual(try run(["inspect", fixture("onnx/skl-logreg-strings.onnx")]).status, 0)
    }

    /// `[1, N]` biases are vectors: left alone unless 1-D tensors are included.
    func testRowBiasesAreSkippedLikeOneDimensionalTensors() throws {
        let dir = try tempDir()
        for mlp in [fixture("onnx/skl-mlp.onnx"), fixture("onnx/skl-mlp-strings.onnx")] {
            for args in [["quantize", "--int8"], ["prune", "--keep", "0.5"]] {
                let r = try run(args + ["--report-json", dir + "/r.json", mlp, dir + "/out.onnx"])
                XCTAssertEqual(r.status, 0, r.stderr)
                let names = try XCTUnwrap(try jsonObject(atPath: dir + "/r.json")["tensors"] as? [[String: Any]]).compactMap { $0["name"] as? String }
                XCTAssertEqual(names, ["coefficient", "coefficient1"], "\(args[0]): the [1, N] intercepts are not weights")
                let all = try run(args + ["--include-1d", "--report-json", dir + "/r.json", mlp, dir + "/out.onnx"])
                XCTAssertEqual(all.status, 0, all.stderr)
                let included = try XCTUnwrap(try jsonObject(atPath: dir + "/r.json")["tensors"] as? [[String: Any]]).compactMap { $0["name"] as? String }
                XCTAssertTrue(included.contains("intercepts"), "\(args[0]) --include-1d: \(included)")
            }
        }
    }

    /// LinearClassifier keeps its coefficients in an attribute: nothing to quantize, and the
    /// message says why.
    func testQuantizeExplainsAttributeCoefficients() throws {
        let dir = try tempDir()
        for model in ["onnx/skl-logreg-strings.onnx", "onnx/skl-logreg.onnx"] {
            let r = try run(["quantize", "--int8", fixture(model), dir + "/q.onnx"])
            XCTAssertEqual(r.status, 64, r.stderr)
            XCTAssertTrue(r.stderr.contains("the model's weights are node attributes, not tensors: node 'LinearClassifier' holds"), r.stderr)
            XCTAssertTrue(r.stderr.contains("'coefficients' attribute"), r.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/q.onnx"))
        }
    }

    /// The predict examples of the help page and README run as written (`-f`, not `-o`).
    func testPredictHelpExampleRuns() throws {
        let help = try run(["predict", "--help"]).text
        XCTAssertTrue(help.contains("aicompress predict model.onnx --data x.npy --output label -f labels.csv"), help)
        let dir = try tempDir()
        let r = try run(["predict", fixture("onnx/skl-mlp.onnx"), "--data", fixture("demo/digits-test.csv"), "--output", "label",
                         "-f", dir + "/labels.csv"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = try String(contentsOfFile: dir + "/labels.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.first, "label")
        XCTAssertEqual(lines.count, 1 + 450)
    }
}

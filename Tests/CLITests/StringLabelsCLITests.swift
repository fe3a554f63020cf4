import Foundation
import XCTest

/// Classifiers with string class labels (skl2onnx, fixtures/onnx/make_skl_string_fixtures.py):
/// `evaluate` compares the names in the label column, `predict` prints the names; both against
/// onnxruntime's `output_label` on the same rows (fixtures/onnx/make_csv_fixtures.py).
final class StringLabelsCLITests: CLITestCase {
    func expected(_ model: String) throws -> (labels: [String], correct: Int) {
        let json = try jsonObject(atPath: fixture("onnx/skl-strings-expected.json"))
        let m = try XCTUnwrap(json[model] as? [String: Any])
        return (try XCTUnwrap(m["labels"] as? [String]), try XCTUnwrap(m["correct"] as? Int))
    }

    func testEvaluateComparesClassNames() throws {
        for (model, correct) in [("skl-logreg-strings", 146), ("skl-mlp-strings", 147)] {
            let ort = try expected(model)
            XCTAssertEqual(ort.correct, correct)
            let r = try run(["evaluate", fixture("onnx/\(model).onnx"), "--data", fixture("onnx/iris-strings.csv"), "--json"])
            XCTAssertEqual(r.status, 0, r.stderr)
            let json = try jsonObject(r.stdout)
            let metrics = try XCTUnwrap(json["metrics"] as? [String: Any])
            XCTAssertEqual(metrics["correct"] as? Int, ort.correct, model)
            XCTAssertEqual(metrics["samples"] as? Int, 150)
            XCTAssertEqual(try XCTUnwrap(metrics["accuracy"] as? Double), Double(ort.correct) / 150, accuracy: 1e-12)
            let classes = try XCTUnwrap(metrics["classes"] as? [[String: Any]])
            XCTAssertEqual(classes.compactMap { $0["label"] as? String }, ["setosa", "versicolor", "virginica"])
            XCTAssertEqual(classes.compactMap { $0["support"] as? Int }, [50, 50, 50])
            // the confusion matrix from onnxruntime's labels
            let truth = try String(contentsOfFile: fixture("onnx/iris-strings.csv"), encoding: .utf8)
                .split(separator: "\n").dropFirst().map { String($0.split(separator: ",").last!) }
            let names = ["setosa", "versicolor", "virginica"]
            var confusion = [[Int]](repeating: [0, 0, 0], count: 3)
            for (t, p) in zip(truth, ort.labels) { confusion[names.firstIndex(of: t)!][names.firstIndex(of: p)!] += 1 }
            XCTAssertEqual(metrics["confusion"] as? [[Int]], confusion, model)
        }
        let text = try run(["evaluate", fixture("onnx/skl-logreg-strings.onnx"), "--data", fixture("onnx/iris-strings.csv")])
        XCTAssertTrue(text.text.contains("accuracy  97.33% (146/150)"), text.text)
        // versicolor: 47 of 50 right, and one virginica predicted as versicolor
        XCTAssertEqual(tableRow("versicolor", in: text.text), ["versicolor", "0.9792", "0.9400", "0.9592", "50"])
    }

    func testCompareAgreesByName() throws {
        let r = try run(["evaluate", fixture("onnx/skl-logreg-strings.onnx"), "--data", fixture("onnx/iris-strings.csv"),
                         "--compare", fixture("onnx/skl-mlp-strings.onnx"), "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let a = try expected("skl-logreg-strings").labels, b = try expected("skl-mlp-strings").labels
        let agree = Double(zip(a, b).filter { $0 == $1 }.count) / 150
        let cmp = try XCTUnwrap(try jsonObject(r.stdout)["compare"] as? [String: Any])
        XCTAssertEqual(try XCTUnwrap(cmp["agreement"] as? Double), agree, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(cmp["accuracy_change"] as? Double), (146.0 - 147.0) / 150, accuracy: 1e-12)
    }

    /// A name only the data has is a class the model never predicts: its rows count wrong.
    func testANameTheModelLacksIsAClassOfItsOwn() throws {
        let dir = try tempDir()
        var iris = try String(contentsOfFile: fixture("onnx/iris-strings.csv"), encoding: .utf8)
        iris.replaceSubrange(try XCTUnwrap(iris.range(of: ",setosa\n")), with: ",lion\n")  // row 1, which the model gets right
        try iris.write(toFile: dir + "/lion.csv", atomically: true, encoding: .utf8)
        let r = try run(["evaluate", fixture("onnx/skl-logreg-strings.onnx"), "--data", dir + "/lion.csv", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let metrics = try XCTUnwrap(try jsonObject(r.stdout)["metrics"] as? [String: Any])
        XCTAssertEqual(metrics["correct"] as? Int, 145)
        let classes = try XCTUnwrap(metrics["classes"] as? [[String: Any]])
        XCTAssertEqual(classes.compactMap { $0["label"] as? String }, ["setosa", "versicolor", "virginica", "lion"])
        XCTAssertEqual(classes.compactMap { $0["support"] as? Int }, [49, 50, 50, 1])
    }

    func testPredictPrintsClassNames() throws {
        for model in ["skl-logreg-strings", "skl-mlp-strings"] {
            let r = try run(["predict", fixture("onnx/\(model).onnx"), "--data", fixture("onnx/iris-strings.csv"), "--output", "output_label"])
            XCTAssertEqual(r.status, 0, r.stderr)
            let lines = r.text.split(separator: "\n").map(String.init)
            XCTAssertEqual(lines.first, "output_label")
            XCTAssertEqual(Array(lines.dropFirst()), try expected(model).labels, model)
        }
    }

    func testLabelsOfTheWrongKindAreRefused() throws {
        let dir = try tempDir()
        // numbers for a model with text classes
        let iris = try String(contentsOfFile: fixture("onnx/iris-strings.csv"), encoding: .utf8)
        let numeric = iris.replacingOccurrences(of: "setosa", with: "0").replacingOccurrences(of: "versicolor", with: "1")
            .replacingOccurrences(of: "virginica", with: "2")
        try numeric.write(toFile: dir + "/n.csv", atomically: true, encoding: .utf8)
        let r = try run(["evaluate", fixture("onnx/skl-logreg-strings.onnx"), "--data", dir + "/n.csv"])
        XCTAssertEqual(r.status, 65)
        XCTAssertEqual(r.stderr, "aicompress: error: the label column 'species' of \(dir)/n.csv holds numbers; \(fixture("onnx/skl-logreg-strings.onnx"))'s classes are text (setosa, versicolor, virginica)\n")
        // text for a model with numeric classes
        let digits = try String(contentsOfFile: fixture("demo/digits-test.csv"), encoding: .utf8).split(separator: "\n")
        let named = ([String(digits[0])] + digits.dropFirst().map { line -> String in
            var f = line.split(separator: ",").map(String.init)
            f[f.count - 1] = "d" + f[f.count - 1]
            return f.joined(separator: ",")
        }).joined(separator: "\n") + "\n"
        try named.write(toFile: dir + "/d.csv", atomically: true, encoding: .utf8)
        let d = try run(["evaluate", fixture("onnx/skl-mlp.onnx"), "--data", dir + "/d.csv"])
        XCTAssertEqual(d.status, 65)
        XCTAssertTrue(d.stderr.hasPrefix("aicompress: error: the label column 'label' of \(dir)/d.csv holds text (d0, d1, d2, d3, …); "), d.stderr)
        XCTAssertTrue(d.stderr.hasSuffix("'s classes are numbers\n"), d.stderr)
        // training commands take numeric labels
        let t = try run(["train", fixture("onnx/skl-mlp.onnx"), "--data", dir + "/d.csv", dir + "/t.onnx", "--epochs", "1"])
        XCTAssertEqual(t.status, 65)
        XCTAssertTrue(t.stderr.hasSuffix("d.csv:2: label column 'label': 'd2' is not a number\n"), t.stderr)
    }
}

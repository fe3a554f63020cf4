import Foundation
import XCTest

/// CSV options of the data commands (issue 15 item 10): --delimiter and the message for a
/// file that looks otherwise separated, --columns / --drop, --missing-stats.
final class CSVDataCLITests: CLITestCase {
    let logreg = "onnx/skl-logreg-strings.onnx"

    /// iris-strings.csv with its commas replaced by `separator`.
    func iris(separatedBy separator: String, in dir: String) throws -> String {
        let text = try String(contentsOfFile: fixture("onnx/iris-strings.csv"), encoding: .utf8)
        let path = dir + "/iris.csv"
        try text.replacingOccurrences(of: ",", with: separator).write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func testDelimiterAndTheMessageForAnotherSeparator() throws {
        let dir = try tempDir()
        for (separator, flags, name) in [(";", [";"], "semicolon"), ("\t", ["\\t", "tab"], "tab")] {
            let path = try iris(separatedBy: separator, in: dir)
            let plain = try run(["evaluate", fixture(logreg), "--data", path])
            XCTAssertEqual(plain.status, 65, plain.stderr)
            let hint = separator == ";" ? "';'" : "tab"
            XCTAssertEqual(plain.stderr, "aicompress: error: \(path): looks \(name)-separated: read with the comma delimiter, every line is one field containing \(name)s (give --delimiter \(hint))\n")
            for flag in flags {
                let r = try run(["evaluate", fixture(logreg), "--data", path, "--delimiter", flag, "--json"])
                XCTAssertEqual(r.status, 0, r.stderr)
                let metrics = try XCTUnwrap(try jsonObject(r.stdout)["metrics"] as? [String: Any])
                XCTAssertEqual(metrics["correct"] as? Int, 146)
            }
        }
        let bad = try run(["evaluate", fixture(logreg), "--data", fixture("onnx/iris-strings.csv"), "--delimiter", ";;"])
        XCTAssertEqual(bad.status, 64)
        XCTAssertTrue(bad.stderr.contains("--delimiter ';;' must be one character"), bad.stderr)
    }

    /// A file with an id, a text column and the features in another order.
    func shuffledIris(in dir: String) throws -> String {
        let lines = try String(contentsOfFile: fixture("onnx/iris-strings.csv"), encoding: .utf8).split(separator: "\n")
        var out = "id,petal_width,note,sepal_length,sepal_width,petal_length,species\n"
        for (i, line) in lines.dropFirst().enumerated() {
            let f = line.split(separator: ",")
            out += "\(i),\(f[3]),\"a, b\",\(f[0]),\(f[1]),\(f[2]),\(f[4])\n"
        }
        try out.write(toFile: dir + "/extra.csv", atomically: true, encoding: .utf8)
        return dir + "/extra.csv"
    }

    func testColumnsChooseTheFeaturesByName() throws {
        let dir = try tempDir()
        let path = try shuffledIris(in: dir)
        let plain = try run(["evaluate", fixture(logreg), "--data", path])
        XCTAssertEqual(plain.status, 65)
        XCTAssertEqual(plain.stderr, "aicompress: error: \(path): has 6 feature columns, the model takes 4\n")
        let r = try run(["evaluate", fixture(logreg), "--data", path, "--columns", "sepal_length,sepal_width,petal_length,1", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try XCTUnwrap(try jsonObject(r.stdout)["metrics"] as? [String: Any])["correct"] as? Int, 146)
        // --drop keeps the file's order (petal_width first): not the model's order, and its
        // accuracy shows it (--columns is the flag that reorders)
        let dropped = try run(["evaluate", fixture(logreg), "--data", path, "--drop", "id,note", "--json"])
        XCTAssertEqual(dropped.status, 0, dropped.stderr)
        let data = try XCTUnwrap(try jsonObject(dropped.stdout)["data"] as? [String: Any])
        XCTAssertEqual(data["features"] as? Int, 4)
        XCTAssertEqual(try XCTUnwrap(try jsonObject(dropped.stdout)["metrics"] as? [String: Any])["correct"] as? Int, 82)
        let missing = try run(["evaluate", fixture(logreg), "--data", path, "--columns", "sepal_length,sepal_width,petal_length,petal_wdth"])
        XCTAssertEqual(missing.status, 65)
        XCTAssertEqual(missing.stderr, "aicompress: error: \(path): no column named 'petal_wdth' (a feature; columns: id, petal_width, note, sepal_length, sepal_width, petal_length, species)\n")
        let dropMissing = try run(["evaluate", fixture(logreg), "--data", path, "--drop", "id,notes"])
        XCTAssertEqual(dropMissing.status, 65)
        XCTAssertTrue(dropMissing.stderr.contains("no column named 'notes' (to drop;"), dropMissing.stderr)
        let both = try run(["evaluate", fixture(logreg), "--data", path, "--drop", "id", "--columns", "note"])
        XCTAssertEqual(both.status, 64)
        XCTAssertTrue(both.stderr.contains("give --columns (the features) or --drop (the columns that are not), not both"), both.stderr)
    }

    func testMissingStatsComeFromTheTrainingFile() throws {
        let dir = try tempDir()
        let model = fixture("onnx/identity-2.onnx")  // y = x: prints the filled values
        // train: a = {1, 3, 5} (mean 3, median 3), b = {10, 30, 80} (mean 40, median 30)
        try "a,b,label\n1,10,0\n3,,1\n5,30,0\n,80,1\n".write(toFile: dir + "/train.csv", atomically: true, encoding: .utf8)
        try "a,b,label\n,1,0\n2,,1\n".write(toFile: dir + "/test.csv", atomically: true, encoding: .utf8)
        let own = try run(["predict", model, "--data", dir + "/test.csv", "--missing", "mean"])
        XCTAssertEqual(own.text, "y_0,y_1\n2.0,1.0\n2.0,1.0\n")
        let mean = try run(["predict", model, "--data", dir + "/test.csv", "--missing", "mean", "--missing-stats", dir + "/train.csv"])
        XCTAssertEqual(mean.status, 0, mean.stderr)
        XCTAssertEqual(mean.text, "y_0,y_1\n3.0,1.0\n2.0,40.0\n")
        let median = try run(["predict", model, "--data", dir + "/test.csv", "--missing", "median", "--missing-stats", dir + "/train.csv"])
        XCTAssertEqual(median.text, "y_0,y_1\n3.0,1.0\n2.0,30.0\n")
        let zero = try run(["predict", model, "--data", dir + "/test.csv", "--missing", "zero", "--missing-stats", dir + "/train.csv"])
        XCTAssertEqual(zero.status, 64)
        XCTAssertTrue(zero.stderr.contains("--missing-stats goes with --missing mean or --missing median"), zero.stderr)
        try "a,c,label\n1,2,0\n".write(toFile: dir + "/other.csv", atomically: true, encoding: .utf8)
        let other = try run(["predict", model, "--data", dir + "/test.csv", "--missing", "mean", "--missing-stats", dir + "/other.csv"])
        XCTAssertEqual(other.status, 65)
        XCTAssertEqual(other.stderr, "aicompress: error: \(dir)/test.csv: column 'b' is not a feature of \(dir)/other.csv, the file the missing-value statistics come from (its features: a, c)\n")
    }
}

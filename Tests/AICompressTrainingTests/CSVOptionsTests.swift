@testable import AICompressTraining
import XCTest

/// The CSV reader's delimiter, column choice, text labels and missing-value statistics from
/// another file (issue 15 item 10).
final class CSVOptionsTests: XCTestCase {
    func read(_ text: String, _ configure: (inout CSVOptions) -> Void = { _ in }, expected: Int? = nil) throws -> Dataset {
        var o = CSVOptions()
        configure(&o)
        return try Dataset.readCSV(Array(text.utf8), file: "t.csv", options: o, expectedFeatures: expected)
    }

    func testDelimiters() throws {
        XCTAssertEqual(CSVOptions.delimiter(";"), 0x3B)
        XCTAssertEqual(CSVOptions.delimiter("\\t"), 0x09)
        XCTAssertEqual(CSVOptions.delimiter("tab"), 0x09)
        XCTAssertNil(CSVOptions.delimiter("\""))
        XCTAssertNil(CSVOptions.delimiter(";;"))
        let semi = try read("a;b;label\n1.5;\"2\";0\n3; 4 ;1\n") { $0.delimiter = 0x3B }
        XCTAssertEqual(semi.featureNames, ["a", "b"])
        XCTAssertEqual(semi.features, [1.5, 2, 3, 4])
        XCTAssertEqual(semi.targets, [0, 1])
        // a tab delimiter is not trimmed away as a blank; empty tab fields are missing values
        let tab = try read("a\tb\tlabel\n1\t\t0\n 3 \t4\t1\n") { $0.delimiter = 0x09; $0.missing = .zero }
        XCTAssertEqual(tab.features, [1, 0, 3, 4])
        XCTAssertEqual(tab.targets, [0, 1])
    }

    func testOneColumnFileThatLooksOtherwiseSeparatedIsNamed() {
        XCTAssertThrowsError(try read("a;b;label\n1;2;0\n3;4;1\n")) {
            XCTAssertEqual("\($0)", "t.csv: looks semicolon-separated: read with the comma delimiter, every line is one field containing semicolons (give --delimiter ';')")
        }
        XCTAssertThrowsError(try read("a\tb\n1\t2\n")) {
            XCTAssertEqual("\($0)", "t.csv: looks tab-separated: read with the comma delimiter, every line is one field containing tabs (give --delimiter tab)")
        }
        XCTAssertThrowsError(try read("a,b\n1,2\n") { $0.delimiter = 0x3B }) {
            XCTAssertEqual("\($0)", "t.csv: looks comma-separated: read with the semicolon delimiter, every line is one field containing commas (give --delimiter ',')")
        }
        // a real one-column file is read
        XCTAssertEqual(try read("x\n1\n2\n") { $0.label = .none }.features, [1, 2])
    }

    func testColumnsChooseAndOrderFeatures() throws {
        let text = "id,b,note,a,label\n7,2,\"x, y\",1,0\n8,4,z,3,1\n"
        let only = try read(text) { $0.features = .only([.name("a"), .index(1)]) }
        XCTAssertEqual(only.featureNames, ["a", "b"])
        XCTAssertEqual(only.features, [1, 2, 3, 4])
        XCTAssertEqual(only.labelName, "label")
        XCTAssertEqual(only.targets, [0, 1])
        let dropped = try read(text) { $0.features = .dropping([.name("id"), .index(-3)]) }
        XCTAssertEqual(dropped.featureNames, ["b", "a"])
        XCTAssertEqual(dropped.features, [2, 1, 4, 3])
        // the width the model takes, after the drop, tells that there is no label column
        let noLabel = try read("id,a,b\n7,1,2\n", { $0.features = .dropping([.name("id")]) }, expected: 2)
        XCTAssertNil(noLabel.labelName)
        XCTAssertEqual(noLabel.features, [1, 2])
    }

    func testColumnRefusalsNameTheColumn() {
        let text = "id,a,label\n7,1,0\n"
        XCTAssertThrowsError(try read(text) { $0.features = .only([.name("a"), .name("b")]) }) {
            XCTAssertEqual("\($0)", "t.csv: no column named 'b' (a feature; columns: id, a, label)")
        }
        XCTAssertThrowsError(try read(text) { $0.features = .dropping([.name("ID")]) }) {
            XCTAssertEqual("\($0)", "t.csv: no column named 'ID' (to drop; columns: id, a, label)")
        }
        XCTAssertThrowsError(try read(text) { $0.features = .only([.index(3)]) }) {
            XCTAssertEqual("\($0)", "t.csv: column 3 (a feature) is out of range (3 columns)")
        }
        XCTAssertThrowsError(try read(text) { $0.features = .only([.name("a"), .name("label")]); $0.label = .name("label") }) {
            XCTAssertEqual("\($0)", "t.csv: column 'label' is both the label and a feature")
        }
        XCTAssertThrowsError(try read(text) { $0.features = .only([.name("a"), .index(1)]) }) {
            XCTAssertEqual("\($0)", "t.csv: feature column 'a' is chosen twice")
        }
    }

    func testTextLabelsAreSortedClassNames() throws {
        let text = "a,species\n1,virginica\n2,setosa\n3,NA\n4,virginica\n5,versicolor\n"
        XCTAssertThrowsError(try read(text)) {
            XCTAssertEqual("\($0)", "t.csv:2: label column 'species': 'virginica' is not a number")
        }
        let d = try read(text) { $0.textLabels = true }
        XCTAssertEqual(d.targetNames, ["setosa", "versicolor", "virginica"])
        XCTAssertEqual(d.targets, [2, 0, 2, 1])  // the row without a label is dropped
        XCTAssertEqual(d.features, [1, 2, 4, 5])
        XCTAssertEqual(d.subset([3, 0]).targetNames, d.targetNames)
        // numbers stay numbers
        XCTAssertNil(try read("a,y\n1,0\n2,1\n") { $0.textLabels = true }.targetNames)
    }

    func testMissingStatisticsFromAnotherFile() throws {
        // train: a = {1, 3, 5}; b = {10, 30, 60} (the row without a label, b = 1000, is not used)
        let train = "a,b,label\n1,10,0\n3,,1\n5,30,0\n,60,1\n7,1000,\n"
        var o = CSVOptions(missing: .mean)
        let mean = try Array(train.utf8).withUnsafeBytes { try Dataset.missingStatistics(csv: $0, file: "train.csv", options: o) }
        XCTAssertEqual(mean.names, ["a", "b"])
        XCTAssertEqual(mean.values, [3, 100.0 / 3])
        o.missing = .median
        let median = try Array(train.utf8).withUnsafeBytes { try Dataset.missingStatistics(csv: $0, file: "train.csv", options: o) }
        XCTAssertEqual(median.values, [3, 30])
        let test = "b,a,label\n,2,0\n5,,1\n"
        let filled = try read(test) { $0.missing = .median; $0.statistics = median }
        XCTAssertEqual(filled.features, [30, 2, 5, 3])  // by name: b then a
        XCTAssertEqual(filled.missingSummary, "missing: 2 missing values in 2 columns (filled by median of train.csv); 2 of 2 rows used")
        // its own statistics would differ: b = 5, a = 2
        XCTAssertEqual(try read(test) { $0.missing = .median }.features, [5, 2, 5, 2])
        XCTAssertThrowsError(try read("a,c,label\n1,2,0\n") { $0.missing = .median; $0.statistics = median }) {
            XCTAssertEqual("\($0)", "t.csv: column 'c' is not a feature of train.csv, the file the missing-value statistics come from (its features: a, b)")
        }
        let empty = MissingStatistics(file: "train.csv", strategy: .mean, names: ["a"], values: [nil])
        XCTAssertThrowsError(try read("a,label\n,0\n") { $0.missing = .mean; $0.statistics = empty }) {
            XCTAssertEqual("\($0)", "train.csv: column 'a' has no values to compute a mean from")
        }
    }
}

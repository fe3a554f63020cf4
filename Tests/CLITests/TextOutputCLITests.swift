import Foundation
import XCTest

/// The text outputs (`report -o`, `--report-json`, `predict --file`) share one writer: `-` is
/// standard output, a file is written whole, an input is never overwritten.
final class TextOutputCLITests: CLITestCase {
    func testReportToStandardOutputEqualsTheFile() throws {
        let dir = try tempDir()
        let model = fixture("demo/mlp-digits.ckpt")
        let file = try run(["report", model, "-o", dir + "/r.html"])
        XCTAssertEqual(file.status, 0, file.stderr)
        XCTAssertTrue(file.stdout.isEmpty)
        let piped = try run(["report", model, "-o", "-"])
        XCTAssertEqual(piped.status, 0, piped.stderr)
        XCTAssertEqual(piped.stdout, try Data(contentsOf: URL(fileURLWithPath: dir + "/r.html")))
        XCTAssertTrue(piped.text.hasPrefix("<!DOCTYPE html>") && piped.text.hasSuffix("</html>\n"))
        XCTAssertTrue(piped.text.contains("<title>aicompress report: mlp-digits.ckpt</title>"), "the title names the file, not its folder")
    }

    func testTextOutputsRefuseTheirInput() throws {
        let dir = try tempDir()
        let model = dir + "/m.ckpt", original = dir + "/o.ckpt"
        try FileManager.default.copyItem(atPath: fixture("demo/mlp-digits.ckpt"), toPath: model)
        try FileManager.default.copyItem(atPath: fixture("demo/mlp-digits.ckpt"), toPath: original)
        let before = try Data(contentsOf: URL(fileURLWithPath: original))
        for args in [["report", model, "--compare", original, "-o", original],
                     ["prune", "-q", "--keep", "0.5", "--report-json", original, original, dir + "/p.ckpt"]] {
            let r = try run(args)
            XCTAssertEqual(r.status, 73, "\(args): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("output is the input file"), r.stderr)
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: original)), before, "\(args) changed its input")
        }
    }

    func testPredictWritesTheSameCSVToAFile() throws {
        let dir = try tempDir()
        let args = ["predict", fixture("demo/mlp-digits.ckpt"), "--data", fixture("demo/digits-test.csv")]
        let out = try run(args)
        XCTAssertEqual(out.status, 0, out.stderr)
        let file = try run(args + ["--file", dir + "/p.csv"])
        XCTAssertEqual(file.status, 0, file.stderr)
        XCTAssertTrue(file.stdout.isEmpty)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/p.csv")), out.stdout)
        XCTAssertFalse(out.stdout.isEmpty)
    }
}

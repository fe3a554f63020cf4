import Foundation
import XCTest

/// The help of every command, compared with Tests/CLITests/golden/help-*.txt. After changing a
/// command's help on purpose, regenerate with `AICOMPRESS_UPDATE_GOLDEN=1 swift test --filter HelpGolden`
/// and review the diff.
final class HelpGoldenTests: CLITestCase {
    static let commands = ["", "inspect", "verify", "diff", "convert", "prune", "quantize", "dequantize", "evaluate", "predict",
                           "train", "distill", "apply", "recipe", "report"]

    func testHelpMatchesTheGoldenFiles() throws {
        let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("golden")
        let update = ProcessInfo.processInfo.environment["AICOMPRESS_UPDATE_GOLDEN"] == "1"
        for c in Self.commands {
            let r = try run(c.isEmpty ? ["--help"] : [c, "--help"], environment: ["COLUMNS": "100"])
            XCTAssertEqual(r.status, 0, c)
            XCTAssertTrue(r.stderr.isEmpty, r.stderr)
            let file = golden.appendingPathComponent("help-\(c.isEmpty ? "aicompress" : c).txt")
            if update {
                try r.stdout.write(to: file)
                continue
            }
            let expected = try String(contentsOf: file, encoding: .utf8)
            XCTAssertEqual(r.text, expected, "help of '\(c)' differs from \(file.lastPathComponent); see the class comment")
            // every subcommand's help shows examples
            if !c.isEmpty { XCTAssertTrue(r.text.contains("Example"), "\(c) --help has no examples") }
        }
        // the top-level help lists every command
        let top = try String(contentsOf: golden.appendingPathComponent("help-aicompress.txt"), encoding: .utf8)
        for c in Self.commands where !c.isEmpty { XCTAssertTrue(top.contains("  \(c) "), "top-level help lacks \(c)") }
    }
}

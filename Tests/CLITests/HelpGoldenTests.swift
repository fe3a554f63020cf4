@testable import aicompress
import Foundation
import XCTest

/// The help of every command, compared with Tests/CLITests/golden/help-*.txt. After changing a
/// command's help on purpose, regenerate with `AICOMPRESS_UPDATE_GOLDEN=1 swift test --filter HelpGolden`
/// and review the diff.
final class HelpGoldenTests: CLITestCase {
    /// The root command's subcommands, as the binary declares them: a new command cannot go
    /// without a golden file.
    static let subcommands = AICompress.configuration.subcommands

    /// The width the golden files were rendered at (`COLUMNS=100` for the binary).
    static let columns = 100

    func testHelpMatchesTheGoldenFiles() throws {
        let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("golden")
        let update = ProcessInfo.processInfo.environment["AICOMPRESS_UPDATE_GOLDEN"] == "1"
        XCTAssertFalse(Self.subcommands.isEmpty)
        // (name, `aicompress [COMMAND] --help` output: the help screen and a closing newline),
        // rendered in the test process (a spawn of the binary per command took 1.6 s); the
        // binary's own --help path is compared with it at the end.
        let pages = [("aicompress", AICompress.helpMessage(includeHidden: false, columns: Self.columns) + "\n")]
            + Self.subcommands.map { ($0._commandName, AICompress.helpMessage(for: $0, includeHidden: false, columns: Self.columns) + "\n") }
        for (name, text) in pages {
            let file = golden.appendingPathComponent("help-\(name).txt")
            if update {
                try Data(text.utf8).write(to: file)
                continue
            }
            let expected = try String(contentsOf: file, encoding: .utf8)
            XCTAssertEqual(text, expected, "help of '\(name)' differs from \(file.lastPathComponent); see the class comment")
            // every subcommand's help shows examples
            if name != "aicompress" { XCTAssertTrue(text.contains("Example"), "\(name) --help has no examples") }
        }
        // the top-level help lists every command
        let top = pages[0].1
        for (name, _) in pages.dropFirst() { XCTAssertTrue(top.contains("  \(name) "), "top-level help lacks \(name)") }
        // no golden file is left over from a command that is gone
        let files = try FileManager.default.contentsOfDirectory(atPath: golden.path).filter { $0.hasPrefix("help-") }
        XCTAssertEqual(Set(files), Set(pages.map { "help-\($0.0).txt" }), "golden files and commands differ")
        // the binary prints the same help, for the root command and for a subcommand
        for (args, page) in [(["--help"], pages[0]), ([pages[1].0, "--help"], pages[1])] {
            let r = try run(args, environment: ["COLUMNS": "\(Self.columns)"])
            XCTAssertEqual(r.status, 0, "\(args)")
            XCTAssertTrue(r.stderr.isEmpty, r.stderr)
            XCTAssertEqual(r.text, page.1, "\(args): the binary's help differs from the in-process one")
        }
    }
}

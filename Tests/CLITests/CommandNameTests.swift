@testable import aicompress
import ArgumentParser
import XCTest

/// Every subcommand names itself in its configuration. Without a `commandName`, ArgumentParser
/// derives the name from the type with `String(describing:)`, whose failed protocol casts scan
/// the binary's whole conformance table once per command: about half of the start-up of every
/// run (`aicompress inspect` on a 10 KB file), for all 16 commands, before any of them runs.
final class CommandNameTests: XCTestCase {
    /// `MergeShards` -> `merge-shards`: the name ArgumentParser derives from the type name.
    private func derivedName(_ type: Any.Type) -> String {
        var out = ""
        for c in String(describing: type) {
            if c.isUppercase && !out.isEmpty { out += "-" }
            out += c.lowercased()
        }
        return out
    }

    func testEverySubcommandDeclaresTheNameItsTypeGives() {
        let commands = AICompress.configuration.subcommands
        XCTAssertGreaterThanOrEqual(commands.count, 16)
        for c in commands {
            let expected = derivedName(c)
            XCTAssertEqual(c.configuration.commandName, expected, "\(c): declare commandName: \"\(expected)\" in its configuration")
            XCTAssertEqual(c._commandName, expected)
        }
    }
}

@testable import aicompress
import Foundation
import XCTest

/// `Format.oneLine` returns a value without a newline, carriage return or tab as it is, without
/// Foundation's three searches (a start-up cost of `inspect`): the text must be what the
/// searches give, for every value.
final class FormatOneLineTests: XCTestCase {
    private func bySearches(_ s: String) -> String {
        s.replacingOccurrences(of: "\n", with: "\\n").replacingOccurrences(of: "\r", with: "\\r")
            .replacingOccurrences(of: "\t", with: "\\t")
    }

    func testEscapesExactlyAsTheSearchesDo() {
        let cases = ["", "a", "plain value", "a\nb", "a\r\nb", "\r\n", "\t", "a\tb\tc", "\n\u{301}", "e\u{301}\n",
                     "\u{2028}", "\u{85}", "a\u{0B}b", "\u{0C}", "日本\n語", "🙂\t🙂", "\\n", "x\u{0}y"]
        for s in cases {
            XCTAssertEqual(Format.oneLine(s), bySearches(s), s.debugDescription)
        }
        XCTAssertEqual(Format.oneLine("a\r\nb\tc"), "a\\r\\nb\\tc")
        XCTAssertEqual(Format.oneLine("as it is \u{85}"), "as it is \u{85}")
    }

    /// Every scalar of the Basic Multilingual Plane alone (the path that skips the searches) and
    /// before a newline.
    func testEveryScalarNextToTheEscapedOnes() {
        for v in UInt32(0)...0xFFFF {
            guard let u = Unicode.Scalar(v) else { continue }
            for s in [String(Character(u)), "\(u)\n"] {
                XCTAssertEqual(Format.oneLine(s), bySearches(s), "U+\(String(v, radix: 16))")
            }
        }
    }
}

@testable import aicompress
import Foundation
import XCTest

/// `Format.trimmingTrailingWhitespace` replaced the regular expression `\s+$` in table lines (a
/// start-up cost): it must strip exactly what the regex stripped.
final class FormatTrimTests: XCTestCase {
    private func byRegex(_ s: String) -> String {
        s.replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
    }

    /// ICU's `\s` and Swift's `isWhitespace` pick the same scalars out of all of Unicode.
    func testWhitespaceIsTheSameSetAsTheRegexOne() throws {
        let scalars = (UInt32(0)...0x10FFFF).compactMap(Unicode.Scalar.init)  // no surrogates
        var all = String.UnicodeScalarView()
        all.append(contentsOf: scalars)
        let text = String(all)
        let regex = try NSRegularExpression(pattern: "\\s")
        let ns = text as NSString
        let byICU = regex.matches(in: text, range: NSRange(location: 0, length: ns.length)).map {
            ns.substring(with: $0.range).unicodeScalars.first!.value
        }
        let bySwift = scalars.filter(\.properties.isWhitespace).map(\.value)
        XCTAssertEqual(byICU, bySwift)
        XCTAssertEqual(bySwift.count, 25)  // tab to carriage return, space, NEL, NBSP, U+2000…
    }

    /// Where `$` could differ (line terminators before the end, white space inside), it does not.
    func testEdgeCasesTrimLikeTheRegex() {
        let cases = ["", " ", "a", "a ", "a  \t", " a", "a b", "a \n", "a\r\n", "a \u{85}", "a\u{0B}",
                     "a \u{2028}", "a\u{A0}", "a \nb", "a \u{85}b", "\u{3000}a\u{3000}", "a\u{200B}"]
        for s in cases {
            XCTAssertEqual(Format.trimmingTrailingWhitespace(s), byRegex(s), s.debugDescription)
        }
    }

    func testTableLinesLoseOnlyTrailingPadding() {
        let table = Format.table(header: ["name", "n"], rows: [["a", "1"], ["long name", ""]], rightAligned: [1])
        XCTAssertEqual(table, "name       n\n---------  -\na          1\nlong name\n")
    }
}

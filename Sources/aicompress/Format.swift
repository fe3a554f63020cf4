import CFormat
import Foundation

/// Number and table formatting for terminal output.
enum Format {
    /// `1,234,567`
    static func count(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + out
    }

    /// `a, b or c` (help text). A loop, not `joined`: a command's abstract is built on every
    /// run while the command tree is, and the first use of the generic `joined` on a collection
    /// type costs a scan of the conformance table (about 2% of `inspect`'s start-up).
    static func orList(_ items: [String]) -> String {
        var out = ""
        for (i, item) in items.enumerated() {
            if i > 0 { out += i == items.count - 1 ? " or " : ", " }
            out += item
        }
        return out
    }

    /// `12.3 MiB (12,897,484 bytes)` for large sizes, `512 B` for small ones.
    static func bytes(_ n: Int) -> String {
        n >= 1024 ? shortBytes(n) + " (\(count(n)) bytes)" : shortBytes(n)
    }

    /// `12.3 MiB` (binary units, one decimal) for large sizes, `512 B` for small ones: for
    /// progress lines and chart labels.
    static func shortBytes(_ n: Int) -> String {
        let units = ["KiB", "MiB", "GiB", "TiB"]
        guard n >= 1024 else { return "\(n) B" }
        var v = Double(n) / 1024
        var u = 0
        while v >= 1024 && u < units.count - 1 {
            v /= 1024
            u += 1
        }
        return printf("%.1f", v) + " " + units[u]
    }

    static func percent(_ fraction: Double) -> String { printf("%.2f", fraction * 100) + "%" }

    /// Four significant digits; `-` when absent.
    static func number(_ v: Double?) -> String {
        guard let v else { return "-" }
        return printf("%.4g", v)
    }

    /// `value` as C's printf writes it with `spec`, one double conversion (`%.2f`, `%-11.4g`): the
    /// text `String(format:)` gave, without its `CVarArg` casts, which scan the conformance table of
    /// the whole binary the first time each type is formatted (a millisecond of every start-up).
    static func printf(_ spec: String, _ value: Double) -> String {
        var size = 64
        while true {
            var buffer = [CChar](repeating: 0, count: size)
            let length = Int(spec.withCString { aic_format_double(&buffer, size, $0, value) })
            guard length >= 0 else { return "?" }  // not a double conversion: a bug, caught by FormatPrintfTests
            if length < size { return String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self) }
            size = length + 1  // %f of a large value: hundreds of digits
        }
    }

    /// Control characters escaped so a value stays on one line.
    static func oneLine(_ s: String) -> String {
        // Most values hold none of the three: then Foundation's searches (an NSString bridge
        // each, 5% of `inspect`'s start-up) cannot match, and the value is returned as it is.
        guard s.utf8.contains(where: { $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) else { return s }
        return s.replacingOccurrences(of: "\n", with: "\\n").replacingOccurrences(of: "\r", with: "\\r")
            .replacingOccurrences(of: "\t", with: "\\t")
    }

    /// A plain-text table with a header rule; the given columns are right-aligned.
    static func table(header: [String], rows: [[String]], rightAligned: Set<Int>) -> String {
        var widths = header.map(\.count)
        for r in rows { for (i, c) in r.enumerated() { widths[i] = max(widths[i], c.count) } }
        func line(_ cells: [String]) -> String {
            let text = cells.enumerated().map { i, c in
                let pad = String(repeating: " ", count: widths[i] - c.count)
                return rightAligned.contains(i) ? pad + c : c + pad
            }.joined(separator: "  ")
            return trimmingTrailingWhitespace(text) + "\n"
        }
        return line(header) + line(widths.map { String(repeating: "-", count: $0) }) + rows.map(line).joined()
    }

    /// `s` without its trailing white space (the Unicode White_Space property, which is ICU's `\s`).
    /// Plain scalar code rather than the regular expression `\s+$` it replaces: compiling that
    /// pattern loaded ICU's regex tables and took about a tenth of `inspect`'s whole run.
    static func trimmingTrailingWhitespace(_ s: String) -> String {
        var scalars = s.unicodeScalars[...]
        while let last = scalars.last, last.properties.isWhitespace { scalars.removeLast() }
        return String(scalars)
    }

    /// Text histogram: one line per bin with its range, count and a bar.
    static func histogram(_ counts: [Int], low: Double, high: Double, indent: String) -> String {
        let peak = max(counts.max() ?? 0, 1)
        let width = (high - low) / Double(max(counts.count, 1))
        var out = ""
        for (i, c) in counts.enumerated() {
            let from = low + Double(i) * width
            let bar = String(repeating: "#", count: Int((Double(c) / Double(peak) * 40).rounded(.up)))
            // The count unpadded: the `%12@` this replaced printed it so (Foundation ignores a
            // width on %@), and the output stays as it was.
            out += indent + printf("%11.4g", from) + " .. " + printf("%-11.4g", from + width) + " " + count(c) + " " + bar + "\n"
        }
        return out
    }
}

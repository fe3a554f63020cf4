@testable import aicompress
import AICompressCore
import Foundation
import XCTest

/// `Format.printf` replaced `String(format:)` in the text tables (a start-up cost): it must give
/// the same text, digit for digit, for every conversion the CLI uses.
final class FormatPrintfTests: XCTestCase {
    static let specs = ["%.1f", "%.2f", "%.4g", "%11.4g", "%-11.4g"]

    /// Zeros, infinities, NaN, subnormals, the largest finite values, ties at every precision
    /// used, and 20,000 values spread over the whole exponent range.
    static var values: [Double] {
        var v: [Double] = [0, -0.0, .infinity, -.infinity, .nan, -.nan, .leastNonzeroMagnitude, .leastNormalMagnitude,
                           .greatestFiniteMagnitude, -.greatestFiniteMagnitude, 0.05, 0.125, 0.25, 0.35, 2.5, 1.0 / 3,
                           0.99995, 9.9995, 99.995, 999.95, 12_345.5, 1e15, 1e16, 123_456_789, -0.0004999]
        var rng = SplitMix64(seed: 20)
        for _ in 0..<20_000 {
            let bits = rng.next()
            let d = Double(bitPattern: bits)
            // half of them anywhere (most huge or tiny), half as sizes and percentages are
            v.append(d.isFinite && bits & 1 == 0 ? d : Double(bits >> 11) / Double(1 << 53) * 2e4 - 1e4)
        }
        return v
    }

    func testEveryConversionGivesWhatStringFormatGave() {
        var checked = 0
        for spec in Self.specs {
            for v in Self.values {
                let expected = String(format: spec, v)
                let got = Format.printf(spec, v)
                if got != expected { XCTFail("\(spec) of \(v.bitPattern): \(got) vs \(expected)"); return }
                checked += 1
            }
        }
        XCTAssertEqual(checked, 5 * Self.values.count)
    }

    /// The helpers built on it, against the `String(format:)` lines they replaced.
    func testHelpersKeepTheirOldText() {
        for n in [0, 1, 1023, 1024, 1536, 10_508, 1 << 20, 123_456_789, 1 << 40, Int.max] {
            let units = ["KiB", "MiB", "GiB", "TiB"]
            var v = Double(n) / 1024, u = 0
            while v >= 1024 && u < units.count - 1 { v /= 1024; u += 1 }
            XCTAssertEqual(Format.shortBytes(n), n < 1024 ? "\(n) B" : String(format: "%.1f %@", v, units[u]))
        }
        for f in [0, 0.5, 0.123456, 1, 0.000049999, 0.99999] {
            XCTAssertEqual(Format.percent(f), String(format: "%.2f%%", f * 100))
        }
        let counts = [0, 7, 1_234_567, 12, 999_999_999_999]
        let (low, high) = (-0.37, 0.255)
        let width = (high - low) / Double(counts.count)
        var old = ""
        for (i, c) in counts.enumerated() {
            let from = low + Double(i) * width
            let bar = String(repeating: "#", count: Int((Double(c) / Double(counts.max()!) * 40).rounded(.up)))
            old += "  " + String(format: "%11.4g .. %-11.4g %12@ ", from, from + width, Format.count(c)) + bar + "\n"
        }
        XCTAssertEqual(Format.histogram(counts, low: low, high: high, indent: "  "), old)
    }

    /// Anything but one double conversion is refused by the C side, never handed to snprintf.
    func testOtherSpecsAreRefused() {
        for spec in ["", "%", "%s", "%d", "%n", "%*g", "%.*f", "%1234g", "%.123f", "%.f", "%.4g%s", "x%.2f", "%%", "%lf", "%+g"] {
            XCTAssertEqual(Format.printf(spec, 1.5), "?", spec)
        }
    }
}

import AICompressFormats
import ArgumentParser
import Foundation

/// A `--format` value.
struct ModelFormatArgument: ExpressibleByArgument {
    let value: ModelFormat
    init?(argument: String) {
        guard let f = ModelFormat(rawValue: argument.lowercased()) else { return nil }
        value = f
    }
    static var allValueStrings: [String] { ModelFormat.allCases.map(\.rawValue) }
}

/// A size such as `2GB` (10^9), `500MiB` (2^20) or `4096` (bytes).
struct ByteSize: ExpressibleByArgument {
    let bytes: Int
    init?(argument: String) {
        let units: [(String, Double)] = [
            ("kib", 1024), ("mib", 1_048_576), ("gib", 1_073_741_824), ("tib", 1_099_511_627_776),
            ("kb", 1e3), ("mb", 1e6), ("gb", 1e9), ("tb", 1e12), ("k", 1e3), ("m", 1e6), ("g", 1e9), ("b", 1),
        ]
        var text = argument.lowercased().trimmingCharacters(in: .whitespaces)
        var scale = 1.0
        if let (suffix, factor) = units.first(where: { text.hasSuffix($0.0) }) {
            text = String(text.dropLast(suffix.count)).trimmingCharacters(in: .whitespaces)
            scale = factor
        }
        guard let value = Double(text), value.isFinite, value > 0, value * scale >= 1, value * scale < 9e18 else { return nil }
        bytes = Int(value * scale)
    }
}

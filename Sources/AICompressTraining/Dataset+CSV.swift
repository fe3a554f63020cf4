import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The CSV reader: RFC 4180 quoting, a chosen delimiter, a header row when any of the first
/// line's fields is not a number.
extension Dataset {
    static let missingTokens: Set<String> = ["", "na", "n/a", "nan", "null", "none", "?"]

    /// One field of a CSV line: its bytes (quotes removed, surrounding blanks trimmed when
    /// unquoted) and whether it was quoted (then `""` inside stands for one quote).
    struct Field {
        var start: Int, end: Int
        var quoted: Bool
    }

    /// Splits the line `b[start..<end]` into fields separated by `delimiter` (RFC 4180
    /// quoting; spaces and tabs around a field are trimmed unless the tab is the delimiter).
    static func fields(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, delimiter: UInt8 = 0x2C, file: String,
                       lineNumber: Int, into out: inout [Field]) throws(DataError) {
        out.removeAll(keepingCapacity: true)
        @inline(__always) func blank(_ c: UInt8) -> Bool { (c == 0x20 || c == 0x09) && c != delimiter }
        var i = start
        while true {
            while i < end && blank(b[i]) { i += 1 }
            if i < end && b[i] == 0x22 { // quoted
                let s = i + 1
                var j = s
                while true {
                    guard j < end else { throw DataError(file: file, line: lineNumber, "unterminated quoted field") }
                    if b[j] == 0x22 {
                        if j + 1 < end && b[j + 1] == 0x22 { j += 2; continue }
                        break
                    }
                    j += 1
                }
                out.append(Field(start: s, end: j, quoted: true))
                i = j + 1
                while i < end && blank(b[i]) { i += 1 }
                if i < end && b[i] != delimiter { throw DataError(file: file, line: lineNumber, "text after a closing quote") }
            } else {
                let s = i
                while i < end && b[i] != delimiter { i += 1 }
                var e = i
                while e > s && blank(b[e - 1]) { e -= 1 }
                out.append(Field(start: s, end: e, quoted: false))
            }
            if i >= end { return }
            i += 1 // the delimiter
            if i == end { out.append(Field(start: end, end: end, quoted: false)); return }
        }
    }

    static func string(_ b: UnsafeBufferPointer<UInt8>, _ f: Field) -> String {
        let s = String(decoding: UnsafeBufferPointer(rebasing: b[f.start..<f.end]), as: UTF8.self)
        return f.quoted ? s.replacingOccurrences(of: "\"\"", with: "\"") : s
    }

    /// The number in field `f`, nil when it is a missing-value token; throws for other text.
    /// `b` must be followed by a NUL byte (strtod stops at it at the latest).
    @inline(__always)
    static func number(_ b: UnsafeBufferPointer<UInt8>, _ f: Field) -> Double?? {
        if f.start == f.end { return .some(nil) }
        let c = b[f.start]
        let digitLike = (c >= 0x30 && c <= 0x39) || c == 0x2D || c == 0x2B || c == 0x2E
        if digitLike && !f.quoted {
            var endp: UnsafeMutablePointer<CChar>? = nil
            let base = UnsafeMutableRawPointer(mutating: b.baseAddress! + f.start).assumingMemoryBound(to: CChar.self)
            let v = strtod(base, &endp)
            if let endp, endp == base + (f.end - f.start), v.isFinite { return .some(v) }
            return nil
        }
        let s = string(b, f).trimmingCharacters(in: .whitespaces)
        if missingTokens.contains(s.lowercased()) { return .some(nil) }
        if let v = Double(s), v.isFinite { return .some(v) }
        return nil
    }

    /// Reads a CSV table. The first line is a header when any of its fields is not a number.
    public static func readCSV(_ bytes: [UInt8], file: String, label: LabelSpec, missing: MissingStrategy,
                               expectedFeatures: Int? = nil) throws(DataError) -> Dataset {
        try readCSV(bytes, file: file, options: CSVOptions(label: label, missing: missing), expectedFeatures: expectedFeatures)
    }

    /// Reads a CSV table with `options` (delimiter, label and feature columns, missing values).
    public static func readCSV(_ bytes: [UInt8], file: String, options: CSVOptions,
                               expectedFeatures: Int? = nil) throws(DataError) -> Dataset {
        try bytes.withUnsafeBytes { raw in
            Result { () throws(DataError) -> Dataset in
                try readCSV(raw, file: file, options: options, expectedFeatures: expectedFeatures)
            }
        }.get()
    }

    /// The same from bytes in place (a mapped file).
    public static func readCSV(_ bytes: UnsafeRawBufferPointer, file: String, label: LabelSpec, missing: MissingStrategy,
                               expectedFeatures: Int? = nil) throws(DataError) -> Dataset {
        try readCSV(bytes, file: file, options: CSVOptions(label: label, missing: missing), expectedFeatures: expectedFeatures)
    }

    /// The same from bytes in place (a mapped file): they are copied once, with the NUL that
    /// strtod needs after the last field.
    public static func readCSV(_ bytes: UnsafeRawBufferPointer, file: String, options: CSVOptions,
                               expectedFeatures: Int? = nil) throws(DataError) -> Dataset {
        let t = try table(bytes, file: file, options: options, expectedFeatures: expectedFeatures)
        var d = try fillMissing(values: t.values, rows: t.rows, names: t.names, targets: t.targets, strategy: options.missing,
                                statistics: options.statistics, file: file)
        d.labelName = t.labelName
        d.targetNames = t.targetNames
        return d
    }

    /// The fill values `options.missing` (mean or median) computes from a CSV file's features,
    /// over the rows that have a label, for use on another file.
    public static func missingStatistics(csv bytes: UnsafeRawBufferPointer, file: String, options: CSVOptions,
                                         expectedFeatures: Int? = nil) throws(DataError) -> MissingStatistics {
        var o = options
        o.textLabels = true  // only whether a label is missing matters here
        let t = try table(bytes, file: file, options: o, expectedFeatures: expectedFeatures)
        return try statistics(values: t.values, rows: t.rows, names: t.names, targets: t.targets, strategy: options.missing, file: file)
    }

    /// A parsed table before missing values are handled: features row-major, NaN where missing.
    struct Table {
        var values: [Double]
        var rows: Int
        var names: [String]
        var labelName: String?
        var targets: [Double]?
        var targetNames: [String]?
    }

    static func table(_ bytes: UnsafeRawBufferPointer, file: String, options: CSVOptions, expectedFeatures: Int?) throws(DataError) -> Table {
        guard String(validating: bytes.bindMemory(to: UInt8.self), as: UTF8.self) != nil else {
            throw DataError(file: file, "is not UTF-8 text")
        }
        var data = [UInt8]()
        data.reserveCapacity(bytes.count + 1)
        data.append(contentsOf: bytes)
        data.append(0)
        return try data.withUnsafeBufferPointer { (b: UnsafeBufferPointer<UInt8>) throws(DataError) -> Table in
            try table(b, count: bytes.count, file: file, options: options, expectedFeatures: expectedFeatures)
        }
    }

    static func table(_ b: UnsafeBufferPointer<UInt8>, count: Int, file: String, options: CSVOptions,
                      expectedFeatures: Int?) throws(DataError) -> Table {
        let delimiter = options.delimiter
        // non-blank lines: (line number, start, end without \r)
        var lines = [(Int, Int, Int)]()
        var lineNumber = 1, s = 0
        while s <= count {
            var e = s
            while e < count && b[e] != 0x0A { e += 1 }
            var t = e
            if t > s && b[t - 1] == 0x0D { t -= 1 }
            var blank = true
            for k in s..<t where b[k] != 0x20 && b[k] != 0x09 { blank = false; break }
            if !blank { lines.append((lineNumber, s, t)) }
            lineNumber += 1
            s = e + 1
        }
        guard let first = lines.first else { throw DataError(file: file, "has no rows") }
        var fieldBuf = [Field]()
        try fields(b, first.1, first.2, delimiter: delimiter, file: file, lineNumber: first.0, into: &fieldBuf)
        var header = fieldBuf.map { string(b, $0) }
        let isHeader = fieldBuf.contains { f in
            if case .none = number(b, f) { return true }
            return false
        }
        if header.count == 1 { try sniffDelimiter(b, lines: lines, delimiter: delimiter, file: file) }
        if isHeader { lines.removeFirst() } else { header = (0..<header.count).map { "c\($0)" } }
        guard !lines.isEmpty else { throw DataError(file: file, "has a header but no rows") }
        let layout = try ColumnLayout(header: header, options: options, expectedFeatures: expectedFeatures, file: file)
        let featureCount = layout.features.count, columns = header.count
        var values = [Double](repeating: .nan, count: lines.count * featureCount)
        var targets = [Double](repeating: .nan, count: lines.count)
        var labelFields = [Field]()
        var textLabel: (line: Int, field: Field)? = nil
        for (r, (number, start, end)) in lines.enumerated() {
            try fields(b, start, end, delimiter: delimiter, file: file, lineNumber: number, into: &fieldBuf)
            guard fieldBuf.count == columns else {
                throw DataError(file: file, line: number, "has \(fieldBuf.count) fields, the header has \(columns)")
            }
            if let l = layout.label {
                let f = fieldBuf[l]
                labelFields.append(f)
                switch Dataset.number(b, f) {
                case .some(let v): if let v { targets[r] = v }
                case .none: if textLabel == nil { textLabel = (number, f) }
                }
            }
            for (k, c) in layout.features.enumerated() {
                let f = fieldBuf[c]
                guard let v = Dataset.number(b, f) else {
                    throw DataError(file: file, line: number, "column '\(header[c])': '\(string(b, f).prefix(40))' is not a number")
                }
                if let v { values[r * featureCount + k] = v }
            }
        }
        var targetNames: [String]? = nil
        if let (line, f) = textLabel, let l = layout.label {
            guard options.textLabels else {
                throw DataError(file: file, line: line, "label column '\(header[l])': '\(string(b, f).prefix(40))' is not a number")
            }
            // text labels: every label is a class name (sorted, as scikit-learn orders classes_)
            let texts = labelFields.map { f -> String? in
                if case .some(.none) = Dataset.number(b, f) { return nil }
                return string(b, f).trimmingCharacters(in: .whitespaces)
            }
            let names = Array(Set(texts.compactMap { $0 })).sorted()
            var index: [String: Int] = [:]
            for (i, n) in names.enumerated() { index[n] = i }
            targets = texts.map { t in t.flatMap { index[$0] }.map(Double.init) ?? .nan }
            targetNames = names
        }
        return Table(values: values, rows: lines.count, names: layout.features.map { header[$0] },
                     labelName: layout.label.map { header[$0] }, targets: layout.label == nil ? nil : targets, targetNames: targetNames)
    }

    /// A file read as one column whose every line holds another usual delimiter was almost
    /// certainly written with that one: say so instead of failing on the first number.
    static func sniffDelimiter(_ b: UnsafeBufferPointer<UInt8>, lines: [(Int, Int, Int)], delimiter: UInt8, file: String) throws(DataError) {
        for other: UInt8 in [0x3B, 0x09, 0x2C] where other != delimiter {
            let everyLine = lines.allSatisfy { (_, start, end) in (start..<end).contains { b[$0] == other } }
            if everyLine {
                let given = other == 0x09 ? "tab" : "'\(String(UnicodeScalar(other)))'"
                throw DataError(file: file, "looks \(CSVOptions.name(other))-separated: read with the \(CSVOptions.name(delimiter)) delimiter, every line is one field containing \(CSVOptions.name(other))s (give --delimiter \(given))")
            }
        }
    }
}

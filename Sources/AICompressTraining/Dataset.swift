import AICompressCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Errors reading data, naming the file and, for text, the line.
public struct DataError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var message: String
    public init(file: String, line: Int? = nil, _ message: String) {
        self.file = file
        self.line = line
        self.message = message
    }
    public var description: String { line.map { "\(file):\($0): \(message)" } ?? "\(file): \(message)" }
}

/// What to do with missing feature values (the seed's delete, fill, interpolate).
public enum MissingStrategy: String, Sendable, CaseIterable {
    /// Refuse data with missing values.
    case error
    /// Drop every row with a missing value.
    case drop
    /// Fill with the column's mean, median or zero.
    case mean, median, zero
    /// Linear interpolation along the rows between the nearest known values of the column
    /// (the nearest value at the ends).
    case interpolate
}

/// Where the label column is.
public enum LabelSpec: Sendable, Equatable {
    /// A column called label, target, y or class (any case), else the last column.
    case auto
    case name(String)
    case index(Int)
    case none
}

/// A table of numbers read from CSV or .npy: features row-major plus optional targets.
public struct Dataset: Sendable {
    public var featureNames: [String]
    public var features: [Float]
    public var rows: Int
    public var labelName: String?
    /// Target values per row (class labels or regression targets), when a label column exists.
    public var targets: [Double]?
    /// One line saying what missing values were found and what was done.
    public var missingSummary: String?

    public var featureCount: Int { featureNames.count }

    public init(featureNames: [String], features: [Float], rows: Int, labelName: String? = nil, targets: [Double]? = nil) {
        self.featureNames = featureNames
        self.features = features
        self.rows = rows
        self.labelName = labelName
        self.targets = targets
    }

    /// Rows `indices` as a new data set.
    public func subset(_ indices: [Int]) -> Dataset {
        var f = [Float]()
        f.reserveCapacity(indices.count * featureCount)
        for r in indices { f.append(contentsOf: features[(r * featureCount)..<((r + 1) * featureCount)]) }
        var d = Dataset(featureNames: featureNames, features: f, rows: indices.count, labelName: labelName,
                        targets: targets.map { t in indices.map { t[$0] } })
        d.missingSummary = missingSummary
        return d
    }

    /// Per-column mean and standard deviation (population; 1 where the column is constant).
    public func columnStatistics() -> (mean: [Float], std: [Float]) {
        var mean = [Double](repeating: 0, count: featureCount), sq = [Double](repeating: 0, count: featureCount)
        for r in 0..<rows { for c in 0..<featureCount { mean[c] += Double(features[r * featureCount + c]) } }
        for c in 0..<featureCount { mean[c] /= Double(max(rows, 1)) }
        for r in 0..<rows { for c in 0..<featureCount {
            let d = Double(features[r * featureCount + c]) - mean[c]
            sq[c] += d * d
        } }
        let std = sq.map { s -> Float in
            let v = (s / Double(max(rows, 1))).squareRoot()
            return v > 1e-12 ? Float(v) : 1
        }
        return (mean.map { Float($0) }, std)
    }

    // MARK: CSV

    static let missingTokens: Set<String> = ["", "na", "n/a", "nan", "null", "none", "?"]

    /// One field of a CSV line: its bytes (quotes removed, surrounding blanks trimmed when
    /// unquoted) and whether it was quoted (then `""` inside stands for one quote).
    struct Field {
        var start: Int, end: Int
        var quoted: Bool
    }

    /// Splits the line `b[start..<end]` into fields (RFC 4180 quoting).
    static func fields(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, file: String,
                       lineNumber: Int, into out: inout [Field]) throws(DataError) {
        out.removeAll(keepingCapacity: true)
        var i = start
        while true {
            while i < end && (b[i] == 0x20 || b[i] == 0x09) { i += 1 }
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
                while i < end && (b[i] == 0x20 || b[i] == 0x09) { i += 1 }
                if i < end && b[i] != 0x2C { throw DataError(file: file, line: lineNumber, "text after a closing quote") }
            } else {
                let s = i
                while i < end && b[i] != 0x2C { i += 1 }
                var e = i
                while e > s && (b[e - 1] == 0x20 || b[e - 1] == 0x09) { e -= 1 }
                out.append(Field(start: s, end: e, quoted: false))
            }
            if i >= end { return }
            i += 1 // the comma
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
        try bytes.withUnsafeBytes { raw in
            Result { () throws(DataError) -> Dataset in
                try readCSV(raw, file: file, label: label, missing: missing, expectedFeatures: expectedFeatures)
            }
        }.get()
    }

    /// The same from bytes in place (a mapped file): they are copied once, with the NUL that
    /// strtod needs after the last field.
    public static func readCSV(_ bytes: UnsafeRawBufferPointer, file: String, label: LabelSpec, missing: MissingStrategy,
                               expectedFeatures: Int? = nil) throws(DataError) -> Dataset {
        guard String(validating: bytes.bindMemory(to: UInt8.self), as: UTF8.self) != nil else {
            throw DataError(file: file, "is not UTF-8 text")
        }
        var data = [UInt8]()
        data.reserveCapacity(bytes.count + 1)
        data.append(contentsOf: bytes)
        data.append(0)
        return try data.withUnsafeBufferPointer { (b: UnsafeBufferPointer<UInt8>) throws(DataError) -> Dataset in
            try readCSV(b, count: bytes.count, file: file, label: label, missing: missing, expectedFeatures: expectedFeatures)
        }
    }

    static func readCSV(_ b: UnsafeBufferPointer<UInt8>, count: Int, file: String, label: LabelSpec, missing: MissingStrategy,
                        expectedFeatures: Int?) throws(DataError) -> Dataset {
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
        try fields(b, first.1, first.2, file: file, lineNumber: first.0, into: &fieldBuf)
        var header = fieldBuf.map { string(b, $0) }
        let isHeader = fieldBuf.contains { f in
            if case .none = number(b, f) { return true }
            return false
        }
        if isHeader { lines.removeFirst() } else { header = (0..<header.count).map { "c\($0)" } }
        let columns = header.count
        guard !lines.isEmpty else { throw DataError(file: file, "has a header but no rows") }
        // label column
        var labelColumn: Int?
        switch label {
        case .none: labelColumn = nil
        case .index(let i):
            let j = i < 0 ? i + columns : i
            guard j >= 0, j < columns else { throw DataError(file: file, "label column \(i) is out of range (\(columns) columns)") }
            labelColumn = j
        case .name(let n):
            guard let j = header.firstIndex(of: n) else {
                throw DataError(file: file, "no column named '\(n)' (columns: \(header.prefix(8).joined(separator: ", "))\(columns > 8 ? ", …" : ""))")
            }
            labelColumn = j
        case .auto:
            if let e = expectedFeatures, e == columns { labelColumn = nil } else {
                labelColumn = header.firstIndex { ["label", "target", "y", "class"].contains($0.lowercased()) } ?? columns - 1
            }
        }
        if let e = expectedFeatures, columns - (labelColumn == nil ? 0 : 1) != e {
            throw DataError(file: file, "has \(columns - (labelColumn == nil ? 0 : 1)) feature columns, the model takes \(e)")
        }
        // parse
        let featureCount = columns - (labelColumn == nil ? 0 : 1)
        var values = [Double](repeating: .nan, count: lines.count * featureCount)
        var targets = [Double](repeating: .nan, count: lines.count)
        for (r, (number, start, end)) in lines.enumerated() {
            try fields(b, start, end, file: file, lineNumber: number, into: &fieldBuf)
            guard fieldBuf.count == columns else {
                throw DataError(file: file, line: number, "has \(fieldBuf.count) fields, the header has \(columns)")
            }
            var k = 0
            for c in 0..<columns {
                let f = fieldBuf[c]
                guard let v = Dataset.number(b, f) else {
                    let what = c == labelColumn ? "label column" : "column"
                    throw DataError(file: file, line: number, "\(what) '\(header[c])': '\(string(b, f).prefix(40))' is not a number")
                }
                if c == labelColumn {
                    if let v { targets[r] = v }
                } else {
                    if let v { values[r * featureCount + k] = v }
                    k += 1
                }
            }
        }
        let names = (0..<columns).filter { $0 != labelColumn }.map { header[$0] }
        var d = try fillMissing(values: values, rows: lines.count, names: names,
                                targets: labelColumn == nil ? nil : targets, strategy: missing, file: file)
        d.labelName = labelColumn.map { header[$0] }
        return d
    }

    /// Applies a missing-value strategy; rows whose label is missing are always dropped.
    static func fillMissing(values: [Double], rows: Int, names: [String], targets: [Double]?,
                            strategy: MissingStrategy, file: String) throws(DataError) -> Dataset {
        let cols = names.count
        var vals = values
        var missingCount = 0
        var missingCols = Set<Int>()
        for r in 0..<rows { for c in 0..<cols where vals[r * cols + c].isNaN { missingCount += 1; missingCols.insert(c) } }
        var keep = (0..<rows).filter { targets?[$0].isNaN != true }
        let labelDropped = rows - keep.count
        if missingCount > 0 {
            switch strategy {
            case .error:
                let c = missingCols.min()!
                throw DataError(file: file, "\(missingCount) missing values (first in column '\(names[c])'); choose --missing drop|mean|median|zero|interpolate")
            case .drop:
                keep = keep.filter { r in !(0..<cols).contains { vals[r * cols + $0].isNaN } }
            case .zero:
                for i in vals.indices where vals[i].isNaN { vals[i] = 0 }
            case .mean, .median:
                for c in missingCols {
                    let known = keep.map { vals[$0 * cols + c] }.filter { !$0.isNaN }
                    guard !known.isEmpty else { throw DataError(file: file, "column '\(names[c])' has no values to compute a \(strategy.rawValue) from") }
                    let fill: Double
                    if strategy == .mean { fill = known.reduce(0, +) / Double(known.count) } else {
                        let s = known.sorted()
                        fill = s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
                    }
                    for r in 0..<rows where vals[r * cols + c].isNaN { vals[r * cols + c] = fill }
                }
            case .interpolate:
                for c in missingCols {
                    let known = (0..<rows).filter { !vals[$0 * cols + c].isNaN }
                    guard let firstKnown = known.first, let lastKnown = known.last else {
                        throw DataError(file: file, "column '\(names[c])' has no values to interpolate from")
                    }
                    var k = 0 // known[k] is the last known row before r
                    for r in 0..<rows where vals[r * cols + c].isNaN {
                        if r < firstKnown { vals[r * cols + c] = vals[firstKnown * cols + c]; continue }
                        if r > lastKnown { vals[r * cols + c] = vals[lastKnown * cols + c]; continue }
                        while k + 1 < known.count && known[k + 1] < r { k += 1 }
                        let prev = known[k], next = known[k + 1]
                        let a = vals[prev * cols + c], b = vals[next * cols + c]
                        vals[r * cols + c] = a + (b - a) * Double(r - prev) / Double(next - prev)
                    }
                }
            }
        }
        var features = [Float]()
        features.reserveCapacity(keep.count * cols)
        for r in keep { for c in 0..<cols { features.append(Float(vals[r * cols + c])) } }
        var d = Dataset(featureNames: names, features: features, rows: keep.count, targets: targets.map { t in keep.map { t[$0] } })
        var parts = [String]()
        if missingCount > 0 {
            let action = strategy == .drop ? "rows dropped" : "filled by \(strategy.rawValue)"
            parts.append("\(missingCount) missing values in \(missingCols.count) column\(missingCols.count == 1 ? "" : "s") (\(action))")
        }
        if labelDropped > 0 { parts.append("\(labelDropped) rows without a label dropped") }
        if strategy == .drop && rows - labelDropped - keep.count > 0 { parts.append("\(rows - labelDropped - keep.count) rows dropped") }
        if !parts.isEmpty { d.missingSummary = "missing: " + parts.joined(separator: "; ") + "; \(keep.count) of \(rows) rows used" }
        return d
    }
}
extension DataError: DataFault {}

import Foundation

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

    /// Splits one CSV line into fields (RFC 4180 quoting).
    static func fields(_ line: Substring, file: String, lineNumber: Int) throws(DataError) -> [String] {
        var out = [String]()
        var cur = ""
        var quoted = false, wasQuoted = false
        var it = line.makeIterator()
        while let ch = it.next() {
            if quoted {
                if ch == "\"" {
                    // a doubled quote is a literal quote; otherwise the quoted part ends
                    var peek = it
                    if peek.next() == "\"" { cur.append("\""); it = peek } else { quoted = false }
                } else {
                    cur.append(ch)
                }
            } else if ch == "," {
                out.append(wasQuoted ? cur : cur.trimmingCharacters(in: .whitespaces))
                cur = ""
                wasQuoted = false
            } else if ch == "\"" && cur.trimmingCharacters(in: .whitespaces).isEmpty {
                quoted = true
                wasQuoted = true
                cur = ""
            } else {
                cur.append(ch)
            }
        }
        if quoted { throw DataError(file: file, line: lineNumber, "unterminated quoted field") }
        out.append(wasQuoted ? cur : cur.trimmingCharacters(in: .whitespaces))
        return out
    }

    /// Reads a CSV table. The first line is a header when any of its fields is not a number.
    public static func readCSV(_ bytes: [UInt8], file: String, label: LabelSpec, missing: MissingStrategy,
                               expectedFeatures: Int? = nil) throws(DataError) -> Dataset {
        guard let text = String(validating: bytes, as: UTF8.self) else { throw DataError(file: file, "is not UTF-8 text") }
        var lines = [(Int, Substring)]()
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let l = raw.hasSuffix("\r") ? raw.dropLast() : raw
            if l.allSatisfy({ $0 == " " || $0 == "\t" }) { continue }
            lines.append((i + 1, l))
        }
        guard let first = lines.first else { throw DataError(file: file, "has no rows") }
        var header = try fields(first.1, file: file, lineNumber: first.0)
        let isHeader = header.contains { h in Double(h) == nil && !missingTokens.contains(h.lowercased()) }
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
        // parse
        let featureCols = (0..<columns).filter { $0 != labelColumn }
        var values = [Double](repeating: .nan, count: lines.count * featureCols.count)
        var targets = [Double](repeating: .nan, count: lines.count)
        var lineOf = [Int](repeating: 0, count: lines.count)
        for (r, (number, line)) in lines.enumerated() {
            let f = try fields(line, file: file, lineNumber: number)
            guard f.count == columns else {
                throw DataError(file: file, line: number, "has \(f.count) fields, the header has \(columns)")
            }
            lineOf[r] = number
            for (k, c) in featureCols.enumerated() {
                let s = f[c]
                if missingTokens.contains(s.lowercased()) { continue }
                guard let v = Double(s), v.isFinite else {
                    throw DataError(file: file, line: number, "column '\(header[c])': '\(s.prefix(40))' is not a number")
                }
                values[r * featureCols.count + k] = v
            }
            if let lc = labelColumn {
                let s = f[lc]
                if !missingTokens.contains(s.lowercased()) {
                    guard let v = Double(s), v.isFinite else {
                        throw DataError(file: file, line: number, "label column '\(header[lc])': '\(s.prefix(40))' is not a number")
                    }
                    targets[r] = v
                }
            }
        }
        if let e = expectedFeatures, featureCols.count != e {
            throw DataError(file: file, "has \(featureCols.count) feature columns, the model takes \(e)")
        }
        var d = try fillMissing(values: values, rows: lines.count, names: featureCols.map { header[$0] },
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

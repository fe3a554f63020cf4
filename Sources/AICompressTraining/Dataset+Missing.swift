/// Missing feature values: refused, dropped with their rows, filled (from this file's columns
/// or from statistics of another file), or interpolated along the rows.
extension Dataset {
    /// The mean or median of `known` (not empty).
    static func fillValue(_ known: [Double], _ strategy: MissingStrategy) -> Double {
        if strategy == .mean { return known.reduce(0, +) / Double(known.count) }
        let s = known.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    /// The fill value of every column for `strategy` (mean or median), over the rows with a
    /// label: what `fillMissing` computes from the file itself.
    static func statistics(values: [Double], rows: Int, names: [String], targets: [Double]?,
                           strategy: MissingStrategy, file: String) throws(DataError) -> MissingStatistics {
        guard strategy == .mean || strategy == .median else {
            throw DataError(file: file, "missing-value statistics are a mean or a median, not '\(strategy.rawValue)'")
        }
        let cols = names.count
        let keep = (0..<rows).filter { targets?[$0].isNaN != true }
        let fills = (0..<cols).map { c -> Double? in
            let known = keep.map { values[$0 * cols + c] }.filter { !$0.isNaN }
            return known.isEmpty ? nil : fillValue(known, strategy)
        }
        return MissingStatistics(file: file, strategy: strategy, names: names, values: fills)
    }

    /// Applies a missing-value strategy; rows whose label is missing are always dropped. With
    /// `statistics`, mean and median fill from them (matched by feature name) instead of from
    /// this file.
    static func fillMissing(values: [Double], rows: Int, names: [String], targets: [Double]?,
                            strategy: MissingStrategy, statistics: MissingStatistics? = nil, file: String) throws(DataError) -> Dataset {
        let cols = names.count
        var vals = values
        var missingCount = 0
        var missingCols = Set<Int>()
        for r in 0..<rows { for c in 0..<cols where vals[r * cols + c].isNaN { missingCount += 1; missingCols.insert(c) } }
        var keep = (0..<rows).filter { targets?[$0].isNaN != true }
        let labelDropped = rows - keep.count
        if let st = statistics {
            guard st.strategy == strategy, strategy == .mean || strategy == .median else {
                throw DataError(file: file, "statistics from \(st.file) are a \(st.strategy.rawValue); missing values are to be handled by \(strategy.rawValue)")
            }
            // the columns must be the same ones, whether or not they have missing values here
            for n in names where st.value(of: n) == nil {
                throw DataError(file: file, "column '\(n)' is not a feature of \(st.file), the file the missing-value statistics come from (its features: \(st.names.prefix(8).joined(separator: ", "))\(st.names.count > 8 ? ", …" : ""))")
            }
        }
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
                for c in missingCols.sorted() {
                    let fill: Double
                    if let st = statistics {
                        guard case .some(.some(let v)) = st.value(of: names[c]) else {
                            throw DataError(file: st.file, "column '\(names[c])' has no values to compute a \(strategy.rawValue) from")
                        }
                        fill = v
                    } else {
                        let known = keep.map { vals[$0 * cols + c] }.filter { !$0.isNaN }
                        guard !known.isEmpty else { throw DataError(file: file, "column '\(names[c])' has no values to compute a \(strategy.rawValue) from") }
                        fill = fillValue(known, strategy)
                    }
                    for r in 0..<rows where vals[r * cols + c].isNaN { vals[r * cols + c] = fill }
                }
            case .interpolate:
                for c in missingCols.sorted() {
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
            var action = strategy == .drop ? "rows dropped" : "filled by \(strategy.rawValue)"
            if let st = statistics { action += " of \(st.file)" }
            parts.append("\(missingCount) missing values in \(missingCols.count) column\(missingCols.count == 1 ? "" : "s") (\(action))")
        }
        if labelDropped > 0 { parts.append("\(labelDropped) rows without a label dropped") }
        if strategy == .drop && rows - labelDropped - keep.count > 0 { parts.append("\(rows - labelDropped - keep.count) rows dropped") }
        if !parts.isEmpty { d.missingSummary = "missing: " + parts.joined(separator: "; ") + "; \(keep.count) of \(rows) rows used" }
        return d
    }
}

/// Which columns of a CSV header are the label and the features, from the label and feature
/// options and the width the model takes.
struct ColumnLayout {
    /// The label column, if any.
    var label: Int?
    /// The feature columns, in the order they are fed.
    var features: [Int]

    /// Names a column auto-detection takes as the label.
    static let labelNames: Set<String> = ["label", "target", "y", "class"]

    init(header: [String], options: CSVOptions, expectedFeatures: Int?, file: String) throws(DataError) {
        let columns = header.count
        func resolve(_ ref: ColumnRef, what: String) throws(DataError) -> Int {
            switch ref {
            case .index(let i):
                let j = i < 0 ? i + columns : i
                guard j >= 0, j < columns else { throw DataError(file: file, "column \(i) (\(what)) is out of range (\(columns) columns)") }
                return j
            case .name(let n):
                guard let j = header.firstIndex(of: n) else {
                    throw DataError(file: file, "no column named '\(n)' (\(what); columns: \(header.prefix(8).joined(separator: ", "))\(columns > 8 ? ", …" : ""))")
                }
                return j
            }
        }
        // columns that can be features, before the label is chosen
        var candidates: [Int]
        switch options.features {
        case .all: candidates = Array(0..<columns)
        case .only(let refs):
            candidates = []
            for r in refs {
                let c = try resolve(r, what: "a feature")
                guard !candidates.contains(c) else { throw DataError(file: file, "feature column '\(header[c])' is chosen twice") }
                candidates.append(c)
            }
        case .dropping(let refs):
            var dropped = Set<Int>()
            for r in refs { dropped.insert(try resolve(r, what: "to drop")) }
            candidates = (0..<columns).filter { !dropped.contains($0) }
        }
        let selected: Bool
        if case .only = options.features { selected = true } else { selected = false }
        switch options.label {
        case .none: label = nil
        case .index(let i): label = try resolve(.index(i), what: "the label")
        case .name(let n): label = try resolve(.name(n), what: "the label")
        case .auto:
            if selected {
                // chosen features: the label is a column called label/target/y/class, else the
                // last column, when it is not one of them
                let named = (0..<columns).first { !candidates.contains($0) && Self.labelNames.contains(header[$0].lowercased()) }
                label = named ?? (candidates.contains(columns - 1) ? nil : columns - 1)
            } else if let e = expectedFeatures, e == candidates.count {
                label = nil
            } else {
                label = candidates.first { Self.labelNames.contains(header[$0].lowercased()) } ?? candidates.last
            }
        }
        if let l = label, selected, candidates.contains(l) {
            throw DataError(file: file, "column '\(header[l])' is both the label and a feature")
        }
        let chosenLabel = label
        features = candidates.filter { $0 != chosenLabel }
        if let e = expectedFeatures, features.count != e {
            throw DataError(file: file, "has \(features.count) feature columns, the model takes \(e)")
        }
    }
}

/// A column of a table, by header name or 0-based index (negative counts from the end).
public enum ColumnRef: Sendable, Equatable, CustomStringConvertible {
    case name(String)
    case index(Int)

    /// `"3"` is an index, anything else a name (as `--label` reads it).
    public init(parsing text: String) {
        self = Int(text).map { .index($0) } ?? .name(text)
    }

    public var description: String {
        switch self {
        case .name(let n): return "'\(n)'"
        case .index(let i): return "\(i)"
        }
    }
}

/// Which columns of a table are features (the label column never is).
public enum FeatureSelection: Sendable, Equatable {
    /// Every column but the label.
    case all
    /// These columns, in this order (the model's input order).
    case only([ColumnRef])
    /// Every column but the label and these.
    case dropping([ColumnRef])
}

/// Fill values for missing features computed from another file (fit on the training data,
/// apply to the test data, as scikit-learn's SimpleImputer does), by feature name.
public struct MissingStatistics: Sendable, Equatable {
    /// The file the values were computed from (named in errors and summaries).
    public var file: String
    /// The strategy that computed them (mean or median).
    public var strategy: MissingStrategy
    /// Feature names of that file, in its order.
    public var names: [String]
    /// The fill value of each feature; nil where the column has no values at all.
    public var values: [Double?]

    /// Statistics for features `names` with fill `values`.
    public init(file: String, strategy: MissingStrategy, names: [String], values: [Double?]) {
        self.file = file
        self.strategy = strategy
        self.names = names
        self.values = values
    }

    /// The fill value of feature `name`, or nil when the file has no such column.
    func value(of name: String) -> Double?? {
        names.firstIndex(of: name).map { values[$0] }
    }
}

/// How to read a CSV table: the delimiter, the label and feature columns, and what to do with
/// missing values.
public struct CSVOptions: Sendable {
    /// The field separator byte (`,` by default; `;` and tab are common).
    public var delimiter: UInt8 = 0x2C
    public var label: LabelSpec = .auto
    public var features: FeatureSelection = .all
    public var missing: MissingStrategy = .error
    /// Fill values from another file, used instead of this file's own (mean and median only).
    public var statistics: MissingStatistics? = nil
    /// Whether a label column may hold text (class names); when false such a column is refused.
    public var textLabels = false

    /// Options with these label and missing-value rules, comma-separated, every column a feature.
    public init(label: LabelSpec = .auto, missing: MissingStrategy = .error) {
        self.label = label
        self.missing = missing
    }

    /// The delimiter named by `text`: one ASCII character other than a quote or a line break,
    /// or `\t` / `tab` for a tab; nil for anything else.
    public static func delimiter(_ text: String) -> UInt8? {
        if text == "\\t" || text.lowercased() == "tab" { return 0x09 }
        guard text.utf8.count == 1, let b = text.utf8.first, b < 0x80, ![0x22, 0x0A, 0x0D].contains(b) else { return nil }
        return b
    }

    /// How a delimiter is named in messages.
    static func name(_ d: UInt8) -> String {
        switch d {
        case 0x09: return "tab"
        case 0x2C: return "comma"
        case 0x3B: return "semicolon"
        default: return "'\(String(UnicodeScalar(d)))'"
        }
    }
}

import AICompressCore
import AICompressFormats
import AICompressTraining
import ArgumentParser
import Foundation

extension MissingStrategy: ExpressibleByArgument {}

/// Where the data comes from: CSV (with a header) or .npy, and how to treat missing values.
struct DataOptions: ParsableArguments {
    @Option(help: "Data: a CSV file with a header row, a .npy array of features (rows first), or an .npz of one array per model input plus the labels; - for standard input.")
    var data: String

    @OptionGroup var reading: DataReadingOptions

    /// Reads `path` (CSV or .npy by content) with the options' label and missing-value rules,
    /// from the mapped file (no copy of a .npy; one of a CSV), with the file's CRC-32.
    func load(_ path: String, expectedFeatures: Int?) throws -> (Dataset, crc32: UInt32) {
        let (d, crc, _) = try reading.load(path, expectedFeatures: expectedFeatures, sha256: false)
        return (d, crc)
    }

    /// `load`, also giving the SHA-256 of the file's bytes (for provenance).
    func loadHashed(_ path: String, expectedFeatures: Int?) throws -> (Dataset, crc32: UInt32, sha256: String) {
        let (d, crc, sha) = try reading.load(path, expectedFeatures: expectedFeatures, sha256: true)
        return (d, crc, sha ?? "")
    }
}

/// `DataOptions` with --data optional: `evaluate`, where --text replaces it.
struct OptionalDataOptions: ParsableArguments {
    @Option(name: .customLong("data"), help: "Data: a CSV file with a header row, a .npy array of features (rows first), or an .npz of one array per model input plus the labels; - for standard input.")
    var file: String?

    @OptionGroup var reading: DataReadingOptions

    /// The --data path (empty only with --text, where it is not used).
    var data: String { file ?? "" }
}

/// How a data file is read — everything but the file itself, so that commands whose --data
/// differs (optional, or also taking an .npz) share one declaration of these flags.
struct DataReadingOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Label column of the CSV, by name or 0-based index (default: a column called label, target, y or class, else the last); of an .npz, the array holding the labels (default: label)."))
    var label: String?

    @Option(help: ArgumentHelp(".npy file of labels, one per row of a .npy --data."))
    var labels: String?

    @Option(help: ArgumentHelp("Missing values (empty, NA, NaN, ?, null): error, drop (the rows), mean, median, zero, or interpolate (linearly along the rows)."))
    var missing: MissingStrategy = .error

    @OptionGroup var layout: CSVLayoutOptions

    @Option(help: ArgumentHelp("Compute the --missing mean or median from this file (the training data, read the same way) instead of from --data, as scikit-learn fits an imputer on the training set.", valueName: "file"))
    var missingStats: String?

    func validate() throws {
        if missingStats != nil && missing != .mean && missing != .median {
            throw ValidationError("--missing-stats goes with --missing mean or --missing median")
        }
    }

    /// The CSV reading options these flags give.
    func csvOptions(textLabels: Bool) -> CSVOptions {
        var o = CSVOptions(label: label.map { Int($0).map { .index($0) } ?? .name($0) } ?? .auto, missing: missing)
        layout.apply(to: &o)
        o.textLabels = textLabels
        return o
    }

    /// Reads `path` (CSV or .npy by content); `textLabels` lets a CSV label column hold class
    /// names (evaluate, predict), which training commands refuse.
    func load(_ path: String, expectedFeatures: Int?, sha256: Bool, textLabels: Bool = false) throws -> (Dataset, UInt32, String?) {
        var options = csvOptions(textLabels: textLabels)
        if let s = missingStats {
            options.statistics = try Self.statistics(s, options: options, expectedFeatures: expectedFeatures)
        }
        let input = try InputFile(path: path)
        return try input.buffer.withUnsafeBytes { bytes in
            let crc = CRC32.checksums([bytes])[0]
            let sha = sha256 ? SHA256.hex(bytes) : nil
            if NPZ.sniff(bytes) {  // arrays for the graph inputs by name, labels in one of them
                if let e = layout.npyRefusal(path, is: "an .npz archive") { throw e }
                if labels != nil { throw ValidationError("--labels goes with a .npy --data; an .npz holds its labels as the array --label names (default label)") }
                return (try Dataset.named(try NPZ.read(bytes, file: path), label: label, file: path), crc, sha)
            }
            if Self.isNPY(bytes) {
                if let e = layout.npyRefusal(path) { throw e }
                guard let l = labels else {
                    return (try NPY.dataset(features: bytes, file: path, labels: nil, labelsFile: "", missing: missing,
                                            statistics: options.statistics), crc, sha)
                }
                let labelFile = try InputFile(path: l)
                let d = try labelFile.buffer.withUnsafeBytes {
                    try NPY.dataset(features: bytes, file: path, labels: $0, labelsFile: l, missing: missing, statistics: options.statistics)
                }
                return (d, crc, sha)
            }
            if labels != nil { throw ValidationError("--labels goes with a .npy --data; a CSV names its label column with --label") }
            return (try Dataset.readCSV(bytes, file: path, options: options, expectedFeatures: expectedFeatures), crc, sha)
        }
    }

    /// Whether `bytes` start as a .npy file does.
    static func isNPY(_ bytes: UnsafeRawBufferPointer) -> Bool { bytes.starts(with: [0x93] + Array("NUMPY".utf8)) }

    /// The fill values of `path` (CSV or .npy), read with the same columns as the data.
    static func statistics(_ path: String, options: CSVOptions, expectedFeatures: Int?) throws -> MissingStatistics {
        let input = try InputFile(path: path)
        return try input.buffer.withUnsafeBytes { bytes in
            if isNPY(bytes) { return try NPY.missingStatistics(features: bytes, file: path, strategy: options.missing) }
            return try Dataset.missingStatistics(csv: bytes, file: path, options: options, expectedFeatures: expectedFeatures)
        }
    }
}

/// The layout of a CSV file: its delimiter and which columns are features. Shared by the data
/// options and the calibration data.
struct CSVLayoutOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Field separator of CSV data: one character, or \\t or tab for a tab (default: ,).", valueName: "char"))
    var delimiter: String?

    @Option(help: ArgumentHelp("Feature columns of CSV data, by header name or 0-based index, comma-separated, in the model's input order (default: every column but the label).", valueName: "a,b,..."))
    var columns: String?

    @Option(help: ArgumentHelp("CSV columns that are not features (names or 0-based indices, comma-separated): ids, text, leaked targets.", valueName: "a,b,..."))
    var drop: String?

    func validate() throws {
        if let d = delimiter, CSVOptions.delimiter(d) == nil {
            throw ValidationError("--delimiter '\(d)' must be one character other than a quote or a line break, or \\t / tab")
        }
        if columns != nil && drop != nil { throw ValidationError("give --columns (the features) or --drop (the columns that are not), not both") }
        for (flag, list) in [("--columns", columns), ("--drop", drop)] {
            if let l = list, l.split(separator: ",", omittingEmptySubsequences: false).contains(where: { $0.isEmpty }) {
                throw ValidationError("\(flag) '\(l)' has an empty column name")
            }
        }
    }

    /// Sets the delimiter and feature selection of `options` (`validate` has checked them).
    func apply(to options: inout CSVOptions) {
        if let d = delimiter, let b = CSVOptions.delimiter(d) { options.delimiter = b }
        let refs = { (l: String) in l.split(separator: ",").map { ColumnRef(parsing: String($0)) } }
        if let c = columns { options.features = .only(refs(c)) }
        if let d = drop { options.features = .dropping(refs(d)) }
    }

    /// These options describe CSV files: the refusal for a .npy `path`, if any was given.
    func npyRefusal(_ path: String, is kind: String = "a .npy array") -> ValidationError? {
        let given = [("--delimiter", delimiter), ("--columns", columns), ("--drop", drop)].first { $0.1 != nil }
        return given.map { ValidationError("\($0.0) is for CSV data; \(path) is \(kind)") }
    }

    /// The flags as recipe options (those given).
    var recipeOptions: [Recipe.Option] {
        [("delimiter", delimiter), ("columns", columns), ("drop", drop)].compactMap { k, v in
            v.map { Recipe.Option(key: k, values: [$0], isFlag: false) }
        }
    }
}

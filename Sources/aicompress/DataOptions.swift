import AICompressCore
import AICompressFormats
import AICompressTraining
import ArgumentParser
import Foundation

extension MissingStrategy: ExpressibleByArgument {}

/// Where the data comes from: CSV (with a header) or .npy, and how to treat missing values.
struct DataOptions: ParsableArguments {
    @Option(help: "Data: a CSV file with a header row, or a .npy array of features (rows first); - for standard input.")
    var data: String

    @Option(help: ArgumentHelp(DataOptions.labelHelp))
    var label: String?

    @Option(help: ArgumentHelp(DataOptions.labelsHelp))
    var labels: String?

    @Option(help: ArgumentHelp(DataOptions.missingHelp))
    var missing: MissingStrategy = .error

    static let labelHelp = "Label column of the CSV, by name or 0-based index (default: a column called label, target, y or class, else the last)."
    static let labelsHelp = ".npy file of labels, one per row of a .npy --data."
    static let missingHelp = "Missing values (empty, NA, NaN, ?, null): error, drop (the rows), mean, median, zero, or interpolate (linearly along the rows)."

    /// Reads `path` (CSV or .npy by content) with the options' label and missing-value rules,
    /// from the mapped file (no copy of a .npy; one of a CSV), with the file's CRC-32.
    func load(_ path: String, expectedFeatures: Int?) throws -> (Dataset, crc32: UInt32) {
        let (d, crc, _) = try load(path, expectedFeatures: expectedFeatures, sha256: false)
        return (d, crc)
    }

    /// `load`, also giving the SHA-256 of the file's bytes (for provenance).
    func loadHashed(_ path: String, expectedFeatures: Int?) throws -> (Dataset, crc32: UInt32, sha256: String) {
        let (d, crc, sha) = try load(path, expectedFeatures: expectedFeatures, sha256: true)
        return (d, crc, sha ?? "")
    }

    private func load(_ path: String, expectedFeatures: Int?, sha256: Bool) throws -> (Dataset, UInt32, String?) {
        try Self.load(path, label: label, labels: labels, missing: missing, expectedFeatures: expectedFeatures, sha256: sha256)
    }

    /// The loader behind the group, for commands that declare the same options themselves (predict).
    static func load(_ path: String, label: String?, labels: String?, missing: MissingStrategy, expectedFeatures: Int?,
                     sha256: Bool) throws -> (Dataset, UInt32, String?) {
        let input = try InputFile(path: path)
        return try input.buffer.withUnsafeBytes { bytes in
            let crc = CRC32.checksums([bytes])[0]
            let sha = sha256 ? SHA256.hex(bytes) : nil
            if bytes.starts(with: [0x93] + Array("NUMPY".utf8)) {
                guard let l = labels else {
                    return (try NPY.dataset(features: bytes, file: path, labels: nil, labelsFile: "", missing: missing), crc, sha)
                }
                let labelFile = try InputFile(path: l)
                let d = try labelFile.buffer.withUnsafeBytes {
                    try NPY.dataset(features: bytes, file: path, labels: $0, labelsFile: l, missing: missing)
                }
                return (d, crc, sha)
            }
            if labels != nil { throw ValidationError("--labels goes with a .npy --data; a CSV names its label column with --label") }
            let spec: LabelSpec
            if let l = label { spec = Int(l).map { .index($0) } ?? .name(l) } else { spec = .auto }
            return (try Dataset.readCSV(bytes, file: path, label: spec, missing: missing, expectedFeatures: expectedFeatures), crc, sha)
        }
    }
}

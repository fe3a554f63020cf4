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
    /// Class names when the label column holds text: `targets` are then indices into these
    /// (sorted, as scikit-learn's `classes_`).
    public var targetNames: [String]?
    /// One line saying what missing values were found and what was done.
    public var missingSummary: String?
    /// The rows as arrays for graph inputs by name (an .npz), when they are not a feature table.
    public var namedInputs: NamedArrays?

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
        d.targetNames = targetNames
        d.namedInputs = namedInputs?.rows(indices)
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
}
extension DataError: DataFault {}

import AICompressCore

/// Arrays fed to a model's graph inputs by name (an .npz of input_ids, attention_mask,
/// token_type_ids …), all sharing their first (row) axis: the rows of a data set for a model that
/// takes several inputs or integer tokens rather than one table of features.
public struct NamedArrays: Sendable {
    /// The arrays, in the order the file lists them.
    public let arrays: [(name: String, array: NDArray)]
    /// Where they came from (a file path), named in errors.
    public let source: String
    /// Length of the shared first axis.
    public let rows: Int

    /// Named arrays from `source`; each must have at least one axis, and all the same rows.
    /// - Throws: `DataError` naming `source` and the array.
    public init(_ arrays: [(name: String, array: NDArray)], source: String) throws(DataError) {
        guard let first = arrays.first else { throw DataError(file: source, "holds no arrays") }
        for (name, a) in arrays {
            guard a.rank >= 1 else { throw DataError(file: source, "array '\(name)' is a scalar; arrays hold rows first") }
            guard a.shape[0] == first.array.shape.first else {
                throw DataError(file: source, "array '\(name)' has \(a.shape[0]) rows, '\(first.name)' \(first.array.shape[0])")
            }
        }
        self.arrays = arrays
        self.source = source
        rows = first.array.shape[0]
    }

    /// Rows `indices` of every array, in that order.
    public func rows(_ indices: [Int]) -> NamedArrays {
        NamedArrays(unchecked: arrays.map { ($0.name, Self.rows(indices, of: $0.array)) }, source: source, rows: indices.count)
    }

    private init(unchecked arrays: [(name: String, array: NDArray)], source: String, rows: Int) {
        self.arrays = arrays
        self.source = source
        self.rows = rows
    }

    /// Rows `indices` of `a` (its first axis), keeping its element kind.
    static func rows(_ indices: [Int], of a: NDArray) -> NDArray {
        let per = a.shape[0] == 0 ? 0 : a.count / a.shape[0]
        var shape = a.shape
        shape[0] = indices.count
        if a.isFloat {
            var f = [Float]()
            f.reserveCapacity(indices.count * per)
            for r in indices { f.append(contentsOf: a.floats[(r * per)..<((r + 1) * per)]) }
            return NDArray(shape: shape, floats: f)
        }
        var v = [Int64]()
        v.reserveCapacity(indices.count * per)
        for r in indices { v.append(contentsOf: a.ints[(r * per)..<((r + 1) * per)]) }
        return NDArray(shape: shape, ints: v, kind: a.kind)
    }
}

extension Dataset {
    /// The member an .npz data set holds its labels in when none is named.
    public static let defaultLabelArray = "label"

    /// A data set of named arrays (an .npz): array `label` (default `label`, optional then)
    /// gives one target per row; every other array feeds the graph input of its name.
    /// - Throws: `DataError` naming `file`: a named label array that is missing, or one that is
    ///   not one value per row.
    public static func named(_ arrays: [(name: String, array: NDArray)], label: String?, file: String) throws(DataError) -> Dataset {
        let labelName = label ?? defaultLabelArray
        let found = arrays.first { $0.name == labelName }
        if label != nil && found == nil {
            throw DataError(file: file, "has no array '\(labelName)' for the labels (arrays: \(arrays.map(\.name).joined(separator: ", ")))")
        }
        let inputs = try NamedArrays(arrays.filter { $0.name != labelName }, source: file)
        var targets: [Double]? = nil
        if let l = found?.array {
            guard l.shape.first == inputs.rows, l.count == inputs.rows else {
                throw DataError(file: file, "labels '\(labelName)' have shape \(l.shape), expected one per row of \(inputs.rows)")
            }
            targets = l.isFloat ? l.floats.map { Double($0) } : l.ints.map { Double($0) }
        }
        var d = Dataset(featureNames: [], features: [], rows: inputs.rows, labelName: found == nil ? nil : labelName, targets: targets)
        d.namedInputs = inputs
        return d
    }
}

import AICompressCore

/// Arrays for a model's graph inputs by name (input_ids, attention_mask, token_type_ids …),
/// each converted to its input's element kind and all sharing the first (batch) axis, cut into
/// batches for `Network.predict`.
public struct GraphFeeds: Sendable {
    /// The arrays by graph input name.
    public let arrays: [String: NDArray]
    /// Length of the shared first axis.
    public let rows: Int

    /// Feeds for `network` from named arrays: every data input of the graph must get exactly one
    /// array, with its declared rank and fixed dimensions; integer inputs keep exact int64 values
    /// (float data for them must hold integers), float inputs take any numbers.
    /// - Throws: `ExecutionError.badInput` naming `source` and the input.
    public init(_ named: [(name: String, array: NDArray)], network: Network, source: String) throws(ExecutionError) {
        let inputs = network.feedInputs
        let known = Set(inputs.map(\.name))
        let extra = named.map(\.name).filter { !known.contains($0) }
        guard extra.isEmpty else {
            throw ExecutionError.badInput("\(source): the model has no input \(extra.map { "'\($0)'" }.joined(separator: ", ")) (inputs: \(inputs.map(\.name).joined(separator: ", ")))")
        }
        var out: [String: NDArray] = [:]
        var rows: Int? = nil
        for input in inputs {
            let given = named.filter { $0.name == input.name }
            guard given.count == 1, var a = given.first?.array else {
                throw ExecutionError.badInput("\(source): \(given.isEmpty ? "no" : "\(given.count)") arrays for input '\(input.name)' (the model's inputs: \(inputs.map(\.name).joined(separator: ", ")))")
            }
            guard a.rank >= 1 else { throw ExecutionError.badInput("\(source): input '\(input.name)' is a scalar; arrays are fed rows first") }
            if let dims = input.shape {
                guard dims.count == a.rank else {
                    throw ExecutionError.badInput("\(source): input '\(input.name)' has shape \(a.shape), the model takes \(input.type)")
                }
                for (i, d) in dims.enumerated() where i > 0 {
                    if case .fixed(let v) = d, Int(v) != a.shape[i] {
                        throw ExecutionError.badInput("\(source): input '\(input.name)' has shape \(a.shape), the model takes \(input.type)")
                    }
                }
            }
            a = try Self.converted(a, to: input.elemType, name: input.name, source: source)
            if let r = rows, r != a.shape[0] {
                throw ExecutionError.badInput("\(source): input '\(input.name)' has \(a.shape[0]) rows, the others \(r)")
            }
            rows = a.shape[0]
            out[input.name] = a
        }
        arrays = out
        self.rows = rows ?? 0
    }

    /// `a` as the element kind of ONNX type `code` (float for float types and unknown ones).
    static func converted(_ a: NDArray, to code: Int32, name: String, source: String) throws(ExecutionError) -> NDArray {
        switch code {
        case 2, 3, 4, 5, 6, 7, 12, 13, 9:  // integers and bool
            let kind: ElementKind = code == 9 ? .bool : .int64
            if !a.isFloat { return a.kind == kind ? a : NDArray(shape: a.shape, ints: a.ints.map { kind == .bool ? ($0 != 0 ? 1 : 0) : $0 }, kind: kind) }
            guard let bad = a.floats.firstIndex(where: { $0 != $0.rounded() || abs($0) > 9.0e15 }) else {
                return NDArray(shape: a.shape, ints: a.floats.map { kind == .bool ? ($0 != 0 ? 1 : 0) : Int64($0) }, kind: kind)
            }
            throw ExecutionError.badInput("\(source): input '\(name)' takes integers, value \(bad) is \(a.floats[bad])")
        default:
            return a.isFloat ? a : NDArray(shape: a.shape, floats: a.asFloats)
        }
    }

    /// Rows `range` of every array, for one forward pass.
    public func batch(_ range: Range<Int>) -> [String: NDArray] {
        arrays.mapValues { a in
            if range == 0..<rows { return a }
            let per = a.count / max(a.shape[0], 1)
            var shape = a.shape
            shape[0] = range.count
            let span = (range.lowerBound * per)..<(range.upperBound * per)
            return a.isFloat ? NDArray(shape: shape, floats: Array(a.floats[span])) : NDArray(shape: shape, ints: Array(a.ints[span]), kind: a.kind)
        }
    }
}

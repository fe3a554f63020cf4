/// String tensors in the executor. NDArray holds numbers only, so a string tensor (a Constant's
/// `value_strings`, the labels of a classifier with `classlabels_strings`) is computed as the
/// indices of its strings; this says which values are such indices and of which strings, so
/// that class labels can be printed and compared by name. Only ops that move elements without
/// combining them may carry string indices, so an index always means the same string.
extension Network {
    /// Ops whose first input's elements become their output's unchanged (possibly reshaped or
    /// picked), so string indices stay valid through them.
    static let stringPassThrough: Set<String> = ["Identity", "Reshape", "Squeeze", "Unsqueeze", "Flatten", "ArrayFeatureExtractor"]

    /// The strings behind each value computed as string indices, by value name.
    /// - Throws: `ExecutionError.unsupported` naming the node when an op other than a
    ///   pass-through takes a string value (it would compute on indices).
    public func stringLabels() throws(ExecutionError) -> [String: [String]] {
        var strings: [String: [String]] = [:]
        func text(_ v: [[UInt8]]) -> [String] { v.map { String(decoding: $0, as: UTF8.self) } }
        for n in graph.nodes {
            let ctx = context(n)
            if n.opType == "Constant", case .strings(let v)? = n.attribute("value_strings"), let out = n.outputs.first {
                strings[out] = text(v)
                continue
            }
            if n.opType == "LinearClassifier", case .strings(let v)? = n.attribute("classlabels_strings"), let out = n.outputs.first {
                strings[out] = text(v)
            }
            for (i, input) in n.inputs.enumerated() where strings[input] != nil {
                guard i == 0, Self.stringPassThrough.contains(n.opType), let out = n.outputs.first else {
                    throw ExecutionError.unsupported(node: ctx.name, op: n.opType,
                        "input '\(input)' is a string tensor; strings are computed only as labels moved by \(Self.stringPassThrough.sorted().joined(separator: ", "))")
                }
                strings[out] = strings[input]
            }
        }
        return strings
    }
}

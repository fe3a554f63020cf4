import AICompressCore

/// A node being executed: its attributes, the opset it was written against, and error helpers.
struct OpContext {
    let node: Node
    /// Version of the operator set the node's domain imports.
    let opset: Int64
    /// The largest output this run allows (`Network.elementLimit`).
    var elementLimit = OpContext.maxElements

    var name: String { node.name.isEmpty ? (node.outputs.first ?? node.opType) : node.name }
    var op: String { node.opType }

    func int(_ key: String, _ def: Int) -> Int {
        if case .int(let v)? = node.attribute(key) { return Int(clamping: v) }
        return def
    }
    func float(_ key: String, _ def: Float) -> Float {
        if case .float(let v)? = node.attribute(key) { return v }
        return def
    }
    func ints(_ key: String) -> [Int]? {
        if case .ints(let v)? = node.attribute(key) { return v.map { Int(clamping: $0) } }
        return nil
    }
    func floats(_ key: String) -> [Float]? {
        if case .floats(let v)? = node.attribute(key) { return v }
        if case .float(let v)? = node.attribute(key) { return [v] }
        return nil
    }
    func string(_ key: String, _ def: String) -> String {
        if case .string(let v)? = node.attribute(key) { return String(decoding: v, as: UTF8.self) }
        return def
    }

    /// Largest value an op may produce (2^28 elements, 1 GiB of float32): a hostile graph
    /// (huge pads, an outer product of long vectors) is refused before allocating.
    static let maxElements = 1 << 28

    /// Refuses an output of `shape` beyond `elementLimit`.
    func checkSize(_ shape: [Int]) throws(ExecutionError) {
        var n = 1
        for d in shape {
            let (m, o) = n.multipliedReportingOverflow(by: max(d, 0))
            // Each dimension too: an empty tensor ([0, 2^40]) still has ops that walk an axis.
            guard !o, m <= elementLimit, d <= elementLimit else {
                throw ExecutionError.unsupported(node: name, op: op, "output shape \(shape) exceeds the executor's limit of \(elementLimit) elements")
            }
            n = m
        }
    }

    func mismatch(_ why: String) -> ExecutionError { .shapeMismatch(node: name, op: op, why) }
    func unsupported(_ why: String) -> ExecutionError { .unsupported(node: name, op: op, why) }

    /// Input `i`, which must be present.
    func input(_ inputs: [NDArray?], _ i: Int) throws(ExecutionError) -> NDArray {
        guard i < inputs.count, let v = inputs[i] else { throw mismatch("input \(i) is missing") }
        return v
    }
    /// Input `i` as float values.
    func floatInput(_ inputs: [NDArray?], _ i: Int) throws(ExecutionError) -> NDArray {
        let v = try input(inputs, i)
        guard v.isFloat else { throw mismatch("input \(i) ('\(node.inputs[i])') must be a float tensor") }
        return v
    }

    /// A possibly negative axis normalized against `rank`.
    func axis(_ a: Int, rank: Int) throws(ExecutionError) -> Int {
        let r = a < 0 ? a + rank : a
        guard rank >= 1, r >= 0, r < rank else { throw mismatch("axis \(a) is out of range for rank \(rank)") }
        return r
    }
}

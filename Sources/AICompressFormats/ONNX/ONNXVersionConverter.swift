import AICompressCore

/// Converts a model's ai.onnx nodes from the opset it was written for to a newer one, so that
/// quantized weights (whose DequantizeLinear or bfloat16 Cast needs the newer opset) can be
/// written without changing what any node computes. Every node's operator must be in
/// `ONNXOpsetHistory`; each schema change between the two opsets is either rewritten
/// (`ONNXVersionAdapters`) or known to keep the old behaviour. Anything else is refused with
/// `ONNXError.opsetConversion`, naming the node: a wrong result is worse than no result.
struct ONNXVersionConverter {
    let from: Int64
    let to: Int64
    /// Why the model needs opset `to` (for the refusal message).
    let needs: String
    /// Initializers the rewrites add (attribute values that became inputs).
    var added: [Tensor] = []
    var names: ONNXNames
    /// Ranks of values the graph records (inputs, outputs, value_info, initializers).
    let ranks: [String: Int]
    /// How many nodes read each value (a Dropout mask nobody reads can be dropped).
    let uses: [String: Int]

    /// `model` with its default-domain opset raised from `from` to `to` and every node converted.
    /// - Parameter needs: what requires opset `to`, e.g. "per-channel DequantizeLinear of 'fc.weight'".
    /// - Throws: `ONNXError.opsetConversion` for a node the converter cannot carry over.
    static func convert(_ model: Model, from: Int64, to: Int64, needs: String) throws -> Model {
        guard var graph = model.graph, from < to else { return model }
        for n in graph.nodes where n.attributes.contains(where: { $0.value.kind == .graph || $0.value.kind == .graphs }) {
            throw ONNXError.opsetConversion(node: name(of: n), op: n.opType, from: from, to: to, needs: needs,
                                            why: "nodes with subgraphs are not converted")
        }
        var ranks: [String: Int] = [:]
        for v in graph.inputs + graph.outputs + graph.valueInfo { if let s = v.shape { ranks[v.name] = s.count } }
        for t in model.tensors { ranks[t.name] = t.shape.rank }
        var uses: [String: Int] = [:]
        for n in graph.nodes { for i in n.inputs where !i.isEmpty { uses[i, default: 0] += 1 } }
        for o in graph.outputs { uses[o.name, default: 0] += 1 }
        var taken = Set(model.tensors.map(\.name))
        for n in graph.nodes { taken.formUnion(n.outputs); taken.insert(n.name) }
        for v in graph.inputs { taken.insert(v.name) }
        var c = ONNXVersionConverter(from: from, to: to, needs: needs, names: ONNXNames(taken: taken),
                                     ranks: ranks, uses: uses)
        var nodes: [Node] = []
        for n in graph.nodes { nodes += try c.convert(n) }
        graph.nodes = nodes
        for i in graph.opsets.indices where graph.opsets[i].domain.isEmpty || graph.opsets[i].domain == "ai.onnx" {
            graph.opsets[i].version = to
        }
        var out = model
        for t in c.added { try out.append(t) }
        out.graph = graph
        return out
    }

    /// The node's name, or its first output when it has none.
    static func name(of n: Node) -> String { n.name.isEmpty ? (n.outputs.first ?? "?") : n.name }

    /// One node at the new opset, with the nodes its rewrites put before and after it.
    mutating func convert(_ node: Node) throws -> [Node] {
        guard node.domain.isEmpty || node.domain == "ai.onnx" else { return [node] }
        let op = node.opType
        guard let steps = ONNXOpsetHistory.changes(of: op, from: from, to: to) else {
            throw refusal(node, "the converter does not know this operator, whose meaning may differ between the two opsets")
        }
        var n = node
        var before: [Node] = [], after: [Node] = []
        for step in steps where n.opType == op {
            let (b, a) = try adapt(&n, step: step)
            before += b
            after = a + after
        }
        return before + [n] + after
    }

    /// The error for a node this converter cannot carry over.
    func refusal(_ n: Node, _ why: String) -> ONNXError {
        .opsetConversion(node: ONNXVersionConverter.name(of: n), op: n.opType, from: from, to: to, needs: needs, why: why)
    }

    /// A fresh value name starting with `base`.
    mutating func fresh(_ base: String) -> String { names.fresh(base) }

    /// A new 1-D int64 initializer holding `values`; returns its name.
    mutating func constant(_ base: String, ints values: [Int64]) throws -> String {
        let name = fresh(base)
        added.append(try Tensor(name: name, dtype: .i64, shape: try Shape([values.count]),
                                data: TensorData(values: values.map(\.littleEndian))))
        return name
    }

    /// A new scalar float initializer; returns its name.
    mutating func constant(_ base: String, float value: Float) throws -> String {
        let name = fresh(base)
        added.append(try Tensor(name: name, shape: try Shape([]), floats: [value]))
        return name
    }

    /// An Unsqueeze of `input` along `axes`, in the form opset `to` expects.
    mutating func unsqueeze(_ input: String, axes: [Int64]) throws -> (Node, String) {
        let out = fresh(input + "_unsqueezed")
        if to >= 13 {
            let a = try constant(input + "_unsqueeze_axes", ints: axes)
            return (Node(name: out, opType: "Unsqueeze", inputs: [input, a], outputs: [out]), out)
        }
        return (Node(name: out, opType: "Unsqueeze", inputs: [input], outputs: [out],
                     attributes: [Attribute(name: "axes", value: .ints(axes))]), out)
    }
}

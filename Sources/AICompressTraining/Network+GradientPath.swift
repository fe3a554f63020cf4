import AICompressCore

/// Why the gradient of a loss at some graph value cannot reach the trainable tensors.
public enum GradientBlock: Sendable, Equatable {
    /// The value does not depend on any trainable tensor at all.
    case noTrainableInput
    /// The value depends on trainable tensors only through this node, whose op passes no gradient
    /// to that input (ArgMax, a comparison, an integer Cast, an ai.onnx.ml op).
    case node(name: String, op: String)
}

extension Network {
    /// Values computed (through any input slot, differentiable or not) from a trainable tensor.
    func valuesDependingOnParameters(differentiableOnly: Bool) -> Set<String> {
        var reached = Set(parameters.keys)
        for (n, op) in zip(graph.nodes, ops) where n.inputs.enumerated().contains(where: {
            (!differentiableOnly || op.differentiates($0.offset)) && reached.contains($0.element)
        }) {
            n.outputs.forEach { reached.insert($0) }
        }
        return reached
    }

    /// Why a gradient seeded at `value` would give every trainable tensor a zero gradient, by the
    /// graph's dependencies alone, or nil when some trainable tensor is reached.
    ///
    /// A loss is trainable only if a chain of differentiable input slots leads from the value
    /// back to a parameter; when none does, training would run and change nothing, so callers
    /// refuse before the first epoch and name the node that cuts the chain.
    public func gradientBlock(for value: String) -> GradientBlock? {
        let live = valuesDependingOnParameters(differentiableOnly: true)
        if live.contains(value) { return nil }
        let any = valuesDependingOnParameters(differentiableOnly: false)
        guard any.contains(value) else { return .noTrainableInput }
        var producer: [String: Int] = [:]
        for (i, n) in graph.nodes.enumerated() { for o in n.outputs where !o.isEmpty { producer[o] = i } }
        // walk back along dependent inputs: the first slot without a gradient is the cut
        var pending = [value], seen = Set<String>()
        while let v = pending.popLast() {
            guard seen.insert(v).inserted, let i = producer[v] else { continue }
            let n = graph.nodes[i], op = ops[i]
            for (slot, input) in n.inputs.enumerated() where any.contains(input) {
                if !op.differentiates(slot) {
                    return .node(name: n.name.isEmpty ? (n.outputs.first ?? n.opType) : n.name, op: op.key)
                }
                pending.append(input)
            }
        }
        return .noTrainableInput
    }
}

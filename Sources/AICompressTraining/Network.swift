import AICompressCore

/// A model's graph ready to execute on the CPU in float32, with its float initializers split
/// into trainable parameters and constants, and reverse-mode differentiation over the same ops.
public struct Network: Sendable {
    public let graph: Graph
    /// Trainable float tensors by name, in the model's order.
    public var parameters: [String: NDArray]
    public let parameterNames: [String]
    /// Initializers that are not trained (integer tensors, shapes, frozen tensors, statistics).
    public var constants: [String: NDArray]
    /// Graph inputs the caller feeds (inputs that are not initializers).
    public let feedInputs: [ValueInfo]
    /// The largest value (in elements) a node may produce, at most 2^28 (1 GiB of float32): a
    /// caller that runs untrusted graphs under a time budget (the fuzz target) lowers it.
    public var elementLimit = 1 << 28
    let opsets: [String: Int64]

    /// Each node's op record, in graph order.
    let ops: [OpDefinition]

    /// Opset assumed for the default ONNX domain when the graph imports none: the semantics the
    /// opset-dependent ops (Softmax's axis, Squeeze's axes input, Clip's bounds) take as current.
    static let defaultOpset: Int64 = 13
    /// Opset assumed for any other domain the graph does not import.
    static let defaultDomainOpset: Int64 = 1

    /// Ops the executor runs, by key (domain-qualified name): the op table's executable records.
    public static let supportedOps: Set<String> = OpTable.executableKeys

    /// Builds the network of `model`. Float initializers are trainable unless `frozen` says so;
    /// names starting with `aicompress.` (preprocessing the tool inserted) are always frozen, and
    /// so are scalars (rank 0): exporters write an architecture's constants that way (a layer
    /// norm's epsilon, attention's 1/√d, GELU's 0.5, the mask's −10000), and training them would
    /// change the architecture rather than fit its weights.
    public init(model: Model, frozen: (String) -> Bool = { _ in false }) throws(ExecutionError) {
        guard let graph = model.graph else { throw ExecutionError.noGraph }
        var nodeOps = [OpDefinition]()
        // every missing op at once, in first-use order: one refusal lists the whole gap
        var missing = [ExecutionError.MissingOp]()
        for n in graph.nodes {
            guard let op = OpTable.executable(n) else {
                let key = OpDefinition.key(domain: n.domain, name: n.opType)
                if let i = missing.firstIndex(where: { $0.op == key }) { missing[i].nodes += 1 } else {
                    missing.append(.init(op: key, nodes: 1, firstNode: n.name.isEmpty ? (n.outputs.first ?? "?") : n.name))
                }
                continue
            }
            nodeOps.append(op)
        }
        if missing.count == 1, missing[0].nodes == 1 { throw ExecutionError.unsupportedOp(node: missing[0].firstNode, op: missing[0].op) }
        if !missing.isEmpty { throw ExecutionError.unsupportedOps(missing) }
        self.graph = graph
        self.ops = nodeOps
        var imported: [String: Int64] = [:]
        for o in graph.opsets { imported[o.domain == "ai.onnx" ? "" : o.domain] = o.version }
        opsets = imported
        // initializers reaching a differentiable slot
        var diffUse = Set<String>()
        for (n, op) in zip(graph.nodes, nodeOps) {
            for (i, name) in n.inputs.enumerated() where op.differentiates(i) { diffUse.insert(name) }
        }
        var params: [String: NDArray] = [:], names: [String] = [], consts: [String: NDArray] = [:]
        for t in model.tensors {
            let a = try NDArray(tensor: t)
            if a.isFloat && a.rank > 0 && diffUse.contains(t.name) && !frozen(t.name) && !t.name.hasPrefix("aicompress.") && t.quantizedLayout == nil && t.ggmlType == nil
                && t.sparseQuantizedLayout == nil {
                params[t.name] = a
                names.append(t.name)
            } else {
                consts[t.name] = a
            }
        }
        parameters = params
        parameterNames = names
        constants = consts
        feedInputs = graph.inputs.filter { params[$0.name] == nil && consts[$0.name] == nil }
    }

    func context(_ n: Node) -> OpContext {
        let domain = n.domain == "ai.onnx" ? "" : n.domain
        return OpContext(node: n, opset: opsets[domain] ?? (domain.isEmpty ? Network.defaultOpset : Network.defaultDomainOpset),
                         elementLimit: min(elementLimit, OpContext.maxElements))
    }

    /// Number of trainable values.
    public var parameterCount: Int { parameters.values.reduce(0) { $0 + $1.count } }

    // MARK: Forward

    /// Every value computed for `feeds` (graph inputs by name), keyed by name.
    public func forward(_ feeds: [String: NDArray]) throws(ExecutionError) -> [String: NDArray] {
        try run(feeds, keeping: nil)
    }

    /// Runs the graph; with `keeping`, each computed value is dropped after its last use unless
    /// it is kept, so memory holds the live values only (an encoder's dozens of activations per
    /// layer are not all alive at once).
    func run(_ feeds: [String: NDArray], keeping: Set<String>?) throws(ExecutionError) -> [String: NDArray] {
        var env = constants
        for (k, v) in parameters { env[k] = v }
        for (k, v) in feeds { env[k] = v }
        var lastUse: [String: Int] = [:]
        if keeping != nil {
            for (i, n) in graph.nodes.enumerated() { for name in n.inputs where !name.isEmpty { lastUse[name] = i } }
        }
        for (index, (n, op)) in zip(graph.nodes, ops).enumerated() {
            let ctx = context(n)
            var ins = [NDArray?]()
            for name in n.inputs {
                if name.isEmpty { ins.append(nil); continue }
                guard let v = env[name] else { throw ExecutionError.missingValue(name) }
                ins.append(v)
            }
            guard let run = op.forward else { throw ExecutionError.unsupportedOp(node: ctx.name, op: op.key) }
            let outs = try run(ctx, ins)
            for (i, name) in n.outputs.enumerated() where !name.isEmpty && i < outs.count { env[name] = outs[i] }
            if let keep = keeping {
                for name in Set(n.inputs + n.outputs) where !keep.contains(name) && (lastUse[name] ?? -1) <= index
                    && parameters[name] == nil && constants[name] == nil {
                    env[name] = nil
                }
            }
        }
        return env
    }

    /// The graph outputs (or `names`) for `feeds`.
    public func predict(_ feeds: [String: NDArray], outputs names: [String]? = nil) throws(ExecutionError) -> [String: NDArray] {
        let wanted = names ?? graph.outputs.map(\.name)
        let env = try run(feeds, keeping: Set(wanted))
        var out: [String: NDArray] = [:]
        for name in wanted {
            guard let v = env[name] else { throw ExecutionError.missingValue(name) }
            out[name] = v
        }
        return out
    }

    // MARK: Backward

    /// Gradients of the parameters given the forward values `env` and gradients seeded at
    /// some values (typically the loss gradient at one output).
    public func backward(_ env: [String: NDArray], seeds: [String: NDArray]) throws(ExecutionError) -> [String: NDArray] {
        // values that depend on a parameter
        var live = Set(parameters.keys)
        for (n, op) in zip(graph.nodes, ops) {
            if n.inputs.enumerated().contains(where: { op.differentiates($0.offset) && live.contains($0.element) }) {
                n.outputs.forEach { live.insert($0) }
            }
        }
        var grads = seeds
        // adds in place: the stored gradient's storage is copied only when it is shared
        func accumulate(_ name: String, _ g: NDArray) {
            guard var sum = grads.removeValue(forKey: name) else { grads[name] = g; return }
            for i in 0..<sum.floats.count { sum.floats[i] += g.floats[i] }
            grads[name] = sum
        }
        for (n, op) in zip(graph.nodes, ops).reversed() {
            guard let gy = n.outputs.first.flatMap({ grads[$0] }) else { continue }
            let need = n.inputs.enumerated().map { op.differentiates($0.offset) && live.contains($0.element) }
            guard need.contains(true) else { continue }
            let ctx = context(n)
            var ins = [NDArray?]()
            for name in n.inputs { ins.append(name.isEmpty ? nil : env[name]) }
            guard let y = env[n.outputs[0]] else { throw ExecutionError.missingValue(n.outputs[0]) }
            let gin = try Network.gradient(op, ctx, ins, y: y, g: gy, need: need)
            for (i, name) in n.inputs.enumerated() where i < gin.count && need[i] {
                if let g = gin[i] { accumulate(name, g) }
            }
        }
        var out: [String: NDArray] = [:]
        for name in parameterNames { out[name] = grads[name] ?? NDArray.zeros(parameters[name]!.shape) }
        return out
    }

    /// The input gradients of one node through its op's backward; none for non-float values.
    static func gradient(_ op: OpDefinition, _ ctx: OpContext, _ ins: [NDArray?], y: NDArray, g: NDArray,
                         need: [Bool]) throws(ExecutionError) -> [NDArray?] {
        guard g.isFloat, y.isFloat else { return [] }
        guard let gradient = op.gradient else { throw ctx.unsupported("no gradient") }
        return try gradient.backward(ctx, ins, y, g, need)
    }
}

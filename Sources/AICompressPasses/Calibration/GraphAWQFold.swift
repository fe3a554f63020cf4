import AICompressCore

/// Where AWQ's per-input-channel scales s of one graph value can be folded exactly: the value x
/// that one or more calibrated linear layers read is replaced by x/s (their weight columns
/// multiplied by s), which is exact only when whatever produces x can divide its output channel
/// j by s_j without changing anything else. `GraphAWQGroup.find` walks back from x:
///
/// - through `Relu`, `LeakyRelu` and `Identity` (positively homogeneous: relu(x/s) = relu(x)/s
///   for s > 0), each value on the way read by that node only;
/// - an `Add` of a per-channel constant (a MatMul's bias): the constant divided by s too, then
///   the linear producer below it;
/// - through the nodes `ChannelLayout` follows (Reshape, Transpose, attention's softmax(QKᵀ)·V
///   MatMul, pooling, Flatten), which move a channel's values without mixing channels; a `Shape`
///   node reading a value on the way is no other use (it reads the dims only);
/// - to a `Gemm` (its B's output rows and its C) or `MatMul` with an initializer weight, a
///   `LayerNormalization` over the last axis (scale and bias), a `BatchNormalization` of a 2-D
///   value (scale and B), or a `Conv` whose output is flattened into the columns (its kernel's
///   output channels and bias; one scale per channel, tied over the channel's `tie` columns).
///
/// Anything else (the graph input itself, Tanh/Sigmoid/GELU, a reshape that moves a channel's
/// columns apart, a value that also feeds another node or is a graph output, a shared tensor)
/// has no exact fold: the group is left unscaled and `unscaled` says why. Every tensor a fold
/// touches must be a dense f32 initializer used by that node alone.
public struct GraphAWQGroup: Sendable, Equatable {
    /// A tensor the fold divides by s.
    public enum Target: Sendable, Equatable {
        /// A 2-D weight whose output channel j (along `outputAxis`) is divided by s_j.
        case rows(tensor: String, outputAxis: Int)
        /// A per-channel vector (bias, norm scale) whose element j is divided by s_j.
        case vector(tensor: String)
        /// A convolution kernel whose output channel c (axis 0) is divided by s_c.
        case kernel(tensor: String)

        /// The tensor's name.
        public var tensor: String {
            switch self {
            case .rows(let t, _), .vector(let t), .kernel(let t): return t
            }
        }
    }

    /// The value the members read.
    public let input: String
    /// The calibrated layers reading it (searched jointly: one s for all).
    public let members: [CalibratedLayer]
    /// The tensors the fold divides by s (empty when unscaled).
    public let targets: [Target]
    /// The node folded into (for the report).
    public let producer: String
    /// The rank the value must have on the calibration data (BatchNormalization's channel axis
    /// is 1; a LayerNormalization with a non-negative axis normalises from it on), nil: any.
    public let requiredRank: Int?
    /// Why no fold exists; nil when `targets` is the fold.
    public let unscaled: String?
    /// Consecutive columns sharing one channel's scale (1 unless a Flatten made each channel a
    /// block of columns).
    public var tie: Int = 1
    /// Values whose rank the fold's proof assumes at least this (the graph does not fix it),
    /// checked on the calibration data.
    public var ranks: [String: Int] = [:]

    /// The members' fan-in (the value's last dimension).
    public var columns: Int { members[0].inputs }

    /// The producer's channels (`columns` / `tie`).
    public var channels: Int { columns / tie }

    /// The groups of `layers` (by the value they read, in graph order of first use) with their
    /// folds or the reason they have none.
    public static func find(in model: Model, layers: [CalibratedLayer]) -> [GraphAWQGroup] {
        guard let graph = model.graph else { return [] }
        let walk = FoldWalk(model: model, graph: graph)
        var order: [String] = [], byInput: [String: [CalibratedLayer]] = [:]
        for l in layers {
            if byInput[l.input] == nil { order.append(l.input) }
            byInput[l.input, default: []].append(l)
        }
        return order.map { x in walk.group(x, members: byInput[x]!) }
    }
}

/// The backward walk of `GraphAWQGroup.find` over one graph.
struct FoldWalk {
    let nodes: [Node]
    let tensors: [String: Tensor]
    /// value → (node index, input index) of every use.
    let uses: [String: [(Int, Int)]]
    let producer: [String: Int]
    let outputs: Set<String>, inputs: Set<String>

    init(model: Model, graph: Graph) {
        nodes = graph.nodes
        tensors = Dictionary(model.tensors.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var uses: [String: [(Int, Int)]] = [:], producer: [String: Int] = [:]
        for (k, n) in graph.nodes.enumerated() {
            for (i, v) in n.inputs.enumerated() where !v.isEmpty { uses[v, default: []].append((k, i)) }
            for v in n.outputs where !v.isEmpty { producer[v] = k }
        }
        self.uses = uses
        self.producer = producer
        outputs = Set(graph.outputs.map(\.name))
        inputs = Set(graph.inputs.map(\.name))
    }

    func label(_ k: Int) -> String {
        let n = nodes[k]
        return "\(n.opType) node '\(n.name.isEmpty ? (n.outputs.first ?? n.opType) : n.name)'"
    }

    /// Why `t` cannot be divided per channel of `n` (nil: it can); `vector`: a [n] or [1, n] vector.
    func unfit(_ t: String, columns n: Int, vector: Bool) -> String? {
        guard let w = tensors[t] else { return "'\(t)' is not an initializer" }
        guard w.dtype == .f32, w.encoding == .dense else { return "'\(t)' is not a dense f32 tensor" }
        guard uses[t]?.count == 1, !outputs.contains(t), !inputs.contains(t) else { return "'\(t)' is also used elsewhere" }
        if vector {
            let d = w.shape.dims
            guard w.elementCount == n, d.count == 1 || (d.count == 2 && d[0] == 1) else { return "'\(t)' is not a per-channel vector of \(n)" }
        }
        return nil
    }

    func group(_ x: String, members: [CalibratedLayer]) -> GraphAWQGroup {
        let n = members[0].inputs
        func unscaled(_ why: String) -> GraphAWQGroup {
            GraphAWQGroup(input: x, members: members, targets: [], producer: "", requiredRank: nil, unscaled: why)
        }
        if outputs.contains(x) { return unscaled("its input '\(x)' is also a graph output") }
        let weights = Set(members.map(\.weight))
        for (k, i) in uses[x] ?? [] {
            let node = nodes[k]
            guard i == 0, node.opType == "Gemm" || node.opType == "MatMul", node.inputs.count >= 2, weights.contains(node.inputs[1]) else {
                return unscaled("its input '\(x)' also feeds \(label(k))")
            }
        }
        if let w = members.first(where: { tensors[$0.weight]?.dtype != .f32 || tensors[$0.weight]?.encoding != .dense }) {
            return unscaled("'\(w.weight)' is not a dense f32 tensor")
        }
        // A weight's columns are scaled by s: no other node nor the graph's outputs may see it.
        if let w = members.first(where: { uses[$0.weight]?.count != 1 || outputs.contains($0.weight) }) {
            return unscaled("'\(w.weight)' is also used elsewhere")
        }
        var v = x, targets: [GraphAWQGroup.Target] = [], linearOnly = false
        // The nodes that move channels (members' side first) and the value each reads on the way.
        var chain: [Int] = [], values: [String] = []
        while true {
            guard let k = producer[v] else {
                return unscaled(inputs.contains(v) || tensors[v] == nil ? "its input comes from the graph input '\(v)': nothing to fold 1/s into"
                                                                        : "its input '\(v)' is a constant")
            }
            let node = nodes[k], op = node.domain.isEmpty || node.domain == "ai.onnx" ? node.opType : node.domain + "." + node.opType
            if node.outputs.dropFirst().contains(where: { !$0.isEmpty && !(uses[$0] ?? []).isEmpty }) {
                return unscaled("\(label(k)) has a second output in use")
            }
            /// The fold into this node, whose output has the channels at `start` (default: the last axis).
            func fold(_ more: [GraphAWQGroup.Target], rank: Int? = nil, start: ChannelLayout? = nil) -> GraphAWQGroup {
                var g = GraphAWQGroup(input: x, members: members, targets: targets + more, producer: label(k), requiredRank: rank, unscaled: nil)
                guard !chain.isEmpty || start != nil else { return g }
                switch follow(chain.reversed(), values: values.reversed(), from: start ?? .last(n, rank: rank), columns: n) {
                case .failure(let f): return unscaled(f.reason)
                case .success(let r):
                    g.tie = r.tie
                    g.ranks = r.ranks
                }
                return g
            }
            /// Steps below this node to its input `next`, which it must be the only reader of
            /// (a `Shape` node reads its dims only, which no fold changes).
            func step(_ next: String, moves: Bool = false) -> String? {
                let readers = (uses[next] ?? []).filter { nodes[$0.0].opType != "Shape" }
                guard readers.count == 1, !outputs.contains(next) else { return "'\(next)' (the input of \(label(k))) also feeds another node" }
                if moves {
                    chain.append(k)
                    values.append(next)
                }
                v = next
                return nil
            }
            switch op {
            case "Reshape" where !linearOnly, "Transpose" where !linearOnly, "Flatten" where !linearOnly,
                 "MaxPool" where !linearOnly, "AveragePool" where !linearOnly, "GlobalMaxPool" where !linearOnly,
                 "GlobalAveragePool" where !linearOnly:
                if let why = step(node.inputs[0], moves: true) { return unscaled(why) }
            case "MatMul" where !linearOnly && node.inputs.count == 2 && tensors[node.inputs[1]] == nil:
                // softmax(QKᵀ)·V: the channels come from V (B); `follow` checks they are not contracted.
                if let why = step(node.inputs[1], moves: true) { return unscaled(why) }
            case "Conv" where !linearOnly:
                guard node.inputs.count >= 2, tensors[node.inputs[0]] == nil else { return unscaled("\(label(k)) has no value input") }
                let w = node.inputs[1]
                if let why = unfit(w, columns: n, vector: false) { return unscaled("\(label(k)): \(why)") }
                guard let kernel = tensors[w], kernel.shape.rank >= 3 else { return unscaled("\(label(k)): its weight '\(w)' is not a kernel") }
                let c = kernel.shape.dims[0]
                var more: [GraphAWQGroup.Target] = [.kernel(tensor: w)]
                if node.inputs.count > 2, !node.inputs[2].isEmpty {
                    if let why = unfit(node.inputs[2], columns: c, vector: true) { return unscaled("\(label(k)): its bias: \(why)") }
                    more.append(.vector(tensor: node.inputs[2]))
                }
                return fold(more, start: .channelAxis(c, rank: kernel.shape.rank))
            case "Relu", "LeakyRelu":
                // Positively homogeneous (f(x/s) = f(x)/s for s > 0): exact at any point of the walk.
                if let why = step(node.inputs[0]) { return unscaled(why) }
            case "Identity" where !linearOnly:
                if let why = step(node.inputs[0]) { return unscaled(why) }
            case "Add" where !linearOnly && node.inputs.count == 2:
                guard let c = node.inputs.firstIndex(where: { tensors[$0] != nil }), tensors[node.inputs[1 - c]] == nil else {
                    return unscaled("\(label(k)) does not add one constant to a value")
                }
                if let why = unfit(node.inputs[c], columns: n, vector: true) { return unscaled("\(label(k)): \(why)") }
                targets.append(.vector(tensor: node.inputs[c]))
                linearOnly = true
                if let why = step(node.inputs[1 - c]) { return unscaled(why) }
            case "Gemm", "MatMul":
                guard node.inputs.count >= 2, tensors[node.inputs[0]] == nil else { return unscaled("\(label(k)) has no value input") }
                let b = node.inputs[1]
                if case .int(let a) = node.attribute("transA"), a != 0 { return unscaled("\(label(k)) has transA") }
                var axis = 1
                if op == "Gemm", case .int(let t) = node.attribute("transB"), t != 0 { axis = 0 }
                if let why = unfit(b, columns: n, vector: false) { return unscaled("\(label(k)): \(why)") }
                guard let w = tensors[b], w.shape.rank == 2, w.shape.dims[axis] == n else {
                    return unscaled("\(label(k)): its weight '\(b)' does not have \(n) outputs")
                }
                var more: [GraphAWQGroup.Target] = [.rows(tensor: b, outputAxis: axis)]
                if op == "Gemm", node.inputs.count > 2, !node.inputs[2].isEmpty {
                    if let why = unfit(node.inputs[2], columns: n, vector: true) { return unscaled("\(label(k)): its bias: \(why)") }
                    more.append(.vector(tensor: node.inputs[2]))
                }
                return fold(more, start: op == "Gemm" ? .last(n, rank: 2) : nil)
            case "LayerNormalization" where !linearOnly, "BatchNormalization" where !linearOnly:
                var rank: Int? = op == "BatchNormalization" ? 2 : nil
                if op == "LayerNormalization", case .int(let a) = node.attribute("axis"), a != -1 {
                    guard a >= 0 else { return unscaled("\(label(k)) normalises over more than the last axis") }
                    rank = Int(a) + 1
                }
                if op == "BatchNormalization", case .int(let t) = node.attribute("training_mode"), t != 0 {
                    return unscaled("\(label(k)) is in training mode")
                }
                var more: [GraphAWQGroup.Target] = []
                for i in [1, 2] where node.inputs.count > i && !node.inputs[i].isEmpty {
                    if let why = unfit(node.inputs[i], columns: n, vector: true) { return unscaled("\(label(k)): \(why)") }
                    more.append(.vector(tensor: node.inputs[i]))
                }
                guard node.inputs.count > 1, !node.inputs[1].isEmpty else { return unscaled("\(label(k)) has no scale") }
                return fold(more, rank: rank)
            default:
                return unscaled("its input comes from \(label(k)), through which no exact fold exists")
            }
        }
    }
}

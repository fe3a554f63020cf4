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
    let opsets: [String: Int64]

    /// Ops the executor runs, by domain-qualified name.
    public static let supportedOps: Set<String> = [
        "Gemm", "MatMul", "Add", "Sub", "Mul", "Div", "Pow", "Relu", "LeakyRelu", "Elu", "Sigmoid", "Tanh", "Erf",
        "Gelu", "Softplus", "Neg", "Exp", "Log", "Sqrt", "Abs", "Clip", "Softmax", "LogSoftmax", "Flatten", "Reshape",
        "Transpose", "Squeeze", "Unsqueeze", "Identity", "Dropout", "Conv", "MaxPool", "AveragePool",
        "GlobalAveragePool", "BatchNormalization", "Concat", "ArgMax", "Cast", "Constant", "Shape", "Gather",
        "DequantizeLinear", "ai.onnx.ml.ArrayFeatureExtractor", "ai.onnx.ml.LinearClassifier", "ai.onnx.ml.LinearRegressor",
        "ai.onnx.ml.Normalizer", "ai.onnx.ml.Scaler", "ai.onnx.ml.ZipMap",
    ]

    /// Input slots through which gradients flow, per op (all slots for Concat).
    static func differentiableSlots(_ op: String, arity: Int) -> Set<Int> {
        switch op {
        case "Gemm", "Conv", "BatchNormalization": return [0, 1, 2]
        case "MatMul", "Add", "Sub", "Mul", "Div", "Pow": return [0, 1]
        case "Concat": return Set(0..<arity)
        case "ArgMax", "Shape", "Constant", "DequantizeLinear", "ArrayFeatureExtractor", "LinearClassifier", "LinearRegressor",
             "Normalizer", "Scaler", "ZipMap": return []
        default: return [0]
        }
    }

    static func qualifiedName(_ n: Node) -> String {
        n.domain.isEmpty || n.domain == "ai.onnx" ? n.opType : "\(n.domain).\(n.opType)"
    }

    /// Builds the network of `model`. Float initializers are trainable unless `frozen` says so;
    /// names starting with `aicompress.` (preprocessing the tool inserted) are always frozen.
    public init(model: Model, frozen: (String) -> Bool = { _ in false }) throws(ExecutionError) {
        guard let graph = model.graph else { throw ExecutionError.noGraph }
        for n in graph.nodes where !Network.supportedOps.contains(Network.qualifiedName(n)) {
            throw ExecutionError.unsupportedOp(node: n.name.isEmpty ? (n.outputs.first ?? "?") : n.name,
                                               op: Network.qualifiedName(n))
        }
        self.graph = graph
        var ops: [String: Int64] = [:]
        for o in graph.opsets { ops[o.domain == "ai.onnx" ? "" : o.domain] = o.version }
        opsets = ops
        // initializers reaching a differentiable slot
        var diffUse = Set<String>()
        for n in graph.nodes {
            let slots = Network.differentiableSlots(n.opType, arity: n.inputs.count)
            for (i, name) in n.inputs.enumerated() where slots.contains(i) { diffUse.insert(name) }
        }
        var params: [String: NDArray] = [:], names: [String] = [], consts: [String: NDArray] = [:]
        for t in model.tensors {
            let a = try NDArray(tensor: t)
            if a.isFloat && diffUse.contains(t.name) && !frozen(t.name) && !t.name.hasPrefix("aicompress.") && t.quantizedLayout == nil {
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
        return OpContext(node: n, opset: opsets[domain] ?? (domain.isEmpty ? 13 : 1))
    }

    /// Number of trainable values.
    public var parameterCount: Int { parameters.values.reduce(0) { $0 + $1.count } }

    // MARK: Forward

    /// Every value computed for `feeds` (graph inputs by name), keyed by name.
    public func forward(_ feeds: [String: NDArray]) throws(ExecutionError) -> [String: NDArray] {
        var env = constants
        for (k, v) in parameters { env[k] = v }
        for (k, v) in feeds { env[k] = v }
        for n in graph.nodes {
            let ctx = context(n)
            var ins = [NDArray?]()
            for name in n.inputs {
                if name.isEmpty { ins.append(nil); continue }
                guard let v = env[name] else { throw ExecutionError.missingValue(name) }
                ins.append(v)
            }
            let outs = try Network.run(ctx, ins)
            for (i, name) in n.outputs.enumerated() where !name.isEmpty && i < outs.count { env[name] = outs[i] }
        }
        return env
    }

    /// The graph outputs (or `names`) for `feeds`.
    public func predict(_ feeds: [String: NDArray], outputs names: [String]? = nil) throws(ExecutionError) -> [String: NDArray] {
        let env = try forward(feeds)
        var out: [String: NDArray] = [:]
        for name in names ?? graph.outputs.map(\.name) {
            guard let v = env[name] else { throw ExecutionError.missingValue(name) }
            out[name] = v
        }
        return out
    }

    static func run(_ ctx: OpContext, _ ins: [NDArray?]) throws(ExecutionError) -> [NDArray] {
        let op = ctx.op
        if Elementwise.unary.contains(op) { return try Elementwise.forwardUnary(ctx, ins) }
        if Elementwise.binary.contains(op) { return [try Elementwise.forwardBinary(ctx, ins)] }
        switch op {
        case "Gemm": return [try Linear.gemm(ctx, ins)]
        case "MatMul": return [try Linear.matmul(ctx, ins)]
        case "Softmax": return [try Structural.softmax(ctx, try ctx.floatInput(ins, 0), log: false)]
        case "LogSoftmax": return [try Structural.softmax(ctx, try ctx.floatInput(ins, 0), log: true)]
        case "Flatten":
            let x = try ctx.input(ins, 0)
            return [x.reshaped(try Structural.flattenShape(ctx, x))]
        case "Reshape":
            let x = try ctx.input(ins, 0)
            let spec: NDArray
            if ctx.opset < 5, let s = ctx.ints("shape") { spec = NDArray(shape: [s.count], ints: s.map { Int64($0) }) } else {
                spec = try ctx.input(ins, 1)
            }
            return [x.reshaped(try Structural.reshapeShape(ctx, x, spec))]
        case "Transpose":
            let x = try ctx.input(ins, 0)
            return [Structural.transpose(x, perm: try Structural.transposePerm(ctx, rank: x.rank))]
        case "Squeeze": return [try Structural.squeeze(ctx, try ctx.input(ins, 0), ins)]
        case "Unsqueeze": return [try Structural.unsqueeze(ctx, try ctx.input(ins, 0), ins)]
        case "Concat":
            var parts = [NDArray]()
            for i in ins.indices { parts.append(try ctx.input(ins, i)) }
            return [try Structural.concat(ctx, parts)]
        case "Conv": return [try Spatial.conv(ctx, ins)]
        case "MaxPool": return [try Spatial.maxPool(ctx, try ctx.floatInput(ins, 0)).0]
        case "AveragePool": return [try Spatial.avgPool(ctx, try ctx.floatInput(ins, 0))]
        case "GlobalAveragePool": return [try Spatial.globalAvgPool(ctx, try ctx.floatInput(ins, 0))]
        case "BatchNormalization":
            if ctx.int("training_mode", 0) != 0 { throw ctx.unsupported("training_mode=1 (batch statistics)") }
            return [try Structural.batchNorm(ctx, ins)]
        case "ArgMax": return [try Structural.argmax(ctx, try ctx.input(ins, 0))]
        case "Cast": return [try Structural.cast(ctx, try ctx.input(ins, 0))]
        case "Shape":
            let x = try ctx.input(ins, 0)
            let r = x.rank
            var start = ctx.int("start", 0), end = ctx.int("end", r)
            if start < 0 { start += r }
            if end < 0 { end += r }
            start = min(max(start, 0), r)
            end = min(max(end, start), r)
            let dims = x.shape[start..<end].map { Int64($0) }
            return [NDArray(shape: [dims.count], ints: dims)]
        case "Gather":
            let x = try ctx.input(ins, 0), ind = try ctx.input(ins, 1)
            let (src, shape) = try Structural.gatherIndices(ctx, x, ind)
            return [x.gathered(src, shape: shape)]
        case "Constant":
            switch ctx.node.attribute("value") {
            case .tensor(let t)?: return [try NDArray(tensor: t)]
            default: break
            }
            if case .float(let v)? = ctx.node.attribute("value_float") { return [NDArray(shape: [], floats: [v])] }
            if case .floats(let v)? = ctx.node.attribute("value_floats") { return [NDArray(shape: [v.count], floats: v)] }
            if case .int(let v)? = ctx.node.attribute("value_int") { return [NDArray(shape: [], ints: [v])] }
            if case .ints(let v)? = ctx.node.attribute("value_ints") { return [NDArray(shape: [v.count], ints: v)] }
            throw ctx.unsupported("Constant without a tensor, float(s) or int(s) value")
        case "DequantizeLinear": return [try Structural.dequantizeLinear(ctx, ins)]
        case "ArrayFeatureExtractor":
            return [try Structural.arrayFeatureExtractor(ctx, try ctx.input(ins, 0), try ctx.input(ins, 1))]
        case "LinearClassifier": return try MLOps.linearClassifier(ctx, try ctx.input(ins, 0))
        case "LinearRegressor": return try MLOps.linearRegressor(ctx, try ctx.input(ins, 0))
        case "Normalizer": return [try MLOps.normalizer(ctx, try ctx.input(ins, 0))]
        case "Scaler": return [try MLOps.scaler(ctx, try ctx.input(ins, 0))]
        case "ZipMap":
            // A sequence of {class: probability} maps in ONNX; here its probability tensor,
            // which is what evaluate and predict use.
            return [try ctx.floatInput(ins, 0)]
        default:
            throw ExecutionError.unsupportedOp(node: ctx.name, op: op)
        }
    }

    // MARK: Backward

    /// Gradients of the parameters given the forward values `env` and gradients seeded at
    /// some values (typically the loss gradient at one output).
    public func backward(_ env: [String: NDArray], seeds: [String: NDArray]) throws(ExecutionError) -> [String: NDArray] {
        // values that depend on a parameter
        var live = Set(parameters.keys)
        for n in graph.nodes {
            let slots = Network.differentiableSlots(n.opType, arity: n.inputs.count)
            if n.inputs.enumerated().contains(where: { slots.contains($0.offset) && live.contains($0.element) }) {
                n.outputs.forEach { live.insert($0) }
            }
        }
        var grads = seeds
        func accumulate(_ name: String, _ g: NDArray) {
            if let old = grads[name] {
                var s = old.floats
                for i in 0..<s.count { s[i] += g.floats[i] }
                grads[name] = NDArray(shape: old.shape, floats: s)
            } else {
                grads[name] = g
            }
        }
        for n in graph.nodes.reversed() {
            guard let gy = n.outputs.first.flatMap({ grads[$0] }) else { continue }
            let slots = Network.differentiableSlots(n.opType, arity: n.inputs.count)
            let need = n.inputs.enumerated().map { slots.contains($0.offset) && live.contains($0.element) }
            guard need.contains(true) else { continue }
            let ctx = context(n)
            var ins = [NDArray?]()
            for name in n.inputs { ins.append(name.isEmpty ? nil : env[name]) }
            guard let y = env[n.outputs[0]] else { throw ExecutionError.missingValue(n.outputs[0]) }
            let gin = try Network.gradient(ctx, ins, y: y, g: gy, need: need)
            for (i, name) in n.inputs.enumerated() where i < gin.count && need[i] {
                if let g = gin[i] { accumulate(name, g) }
            }
        }
        var out: [String: NDArray] = [:]
        for name in parameterNames { out[name] = grads[name] ?? NDArray.zeros(parameters[name]!.shape) }
        return out
    }

    static func gradient(_ ctx: OpContext, _ ins: [NDArray?], y: NDArray, g: NDArray,
                         need: [Bool]) throws(ExecutionError) -> [NDArray?] {
        let op = ctx.op
        guard g.isFloat, y.isFloat else { return [] }
        if Elementwise.unary.contains(op) {
            return [Elementwise.backwardUnary(ctx, x: try ctx.input(ins, 0), y: y, g: g)]
        }
        if Elementwise.binary.contains(op) {
            let (ga, gb) = try Elementwise.backwardBinary(ctx, a: try ctx.input(ins, 0), b: try ctx.input(ins, 1),
                                                          y: y, g: g, need: (need[0], need[1]))
            return [ga, gb]
        }
        switch op {
        case "Gemm": return try Linear.gemmBackward(ctx, ins, g: g, need: need)
        case "MatMul": return try Linear.matmulBackward(ctx, ins, g: g, need: need)
        case "Softmax": return [try Structural.softmaxBackward(ctx, y: y, g: g, log: false)]
        case "LogSoftmax": return [try Structural.softmaxBackward(ctx, y: y, g: g, log: true)]
        case "Flatten", "Reshape", "Squeeze", "Unsqueeze":
            return [g.reshaped(try ctx.input(ins, 0).shape)]
        case "Cast":
            return [ins[0]?.isFloat == true ? g : nil]
        case "Transpose":
            let perm = try Structural.transposePerm(ctx, rank: g.rank)
            var inv = [Int](repeating: 0, count: perm.count)
            for (i, p) in perm.enumerated() { inv[p] = i }
            return [Structural.transpose(g, perm: inv)]
        case "Concat":
            var parts = [NDArray]()
            for i in ins.indices { parts.append(try ctx.input(ins, i)) }
            return try Structural.concatBackward(ctx, parts, g: g)
        case "Gather":
            let x = try ctx.input(ins, 0), ind = try ctx.input(ins, 1)
            let (src, _) = try Structural.gatherIndices(ctx, x, ind)
            var dx = [Float](repeating: 0, count: x.count)
            for (o, s) in src.enumerated() { dx[s] += g.floats[o] }
            return [NDArray(shape: x.shape, floats: dx)]
        case "Conv": return try Spatial.convBackward(ctx, ins, g: g, need: need)
        case "MaxPool":
            let x = try ctx.floatInput(ins, 0)
            return [Spatial.maxPoolBackward(x, argmax: try Spatial.maxPool(ctx, x).1, g: g)]
        case "AveragePool": return [try Spatial.avgPoolBackward(ctx, try ctx.floatInput(ins, 0), g: g)]
        case "GlobalAveragePool": return [Spatial.globalAvgPoolBackward(try ctx.floatInput(ins, 0), g: g)]
        case "BatchNormalization": return try Structural.batchNormBackward(ctx, ins, g: g, need: need)
        default:
            throw ctx.unsupported("no gradient")
        }
    }
}

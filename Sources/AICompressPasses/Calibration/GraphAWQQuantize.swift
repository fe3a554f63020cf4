import AICompressCore
import AICompressTraining

/// `quantize --method awq` on an executor (graph) model: AWQ's activation-aware per-input-channel
/// scales (arXiv 2306.00978, llm-awq's `auto_scale`) for the `Gemm`/`MatMul` layers whose input
/// can be folded into its producer exactly (`GraphAWQGroup`), then the scheme's own rounding.
///
/// For each group of layers reading one value x, on the calibration data of the float model:
/// m_j = mean |x_j|, s = m^α normalised as llm-awq does (`AWQMath.scales`), α = k / `grid`,
/// k = 0 … grid−1 (α = 0 is plain rounding). Each member W (outputs × inputs) is stored as
/// M = W·diag(s), rounded by the scheme (`Quantize.quantize`, the same code `rtn` runs), and
/// computes E = Q(M)·diag(1/s) in W's basis; the loss is the output error over the calibration
/// rows, ‖(W − E)Xᵀ‖² = Σ_rows ΔGΔᵀ from the Gram matrix G = XᵀX, summed over the members; the α
/// of the smallest loss wins (ties: the smaller). The fold then divides the producer's output
/// channel j by s_j (a previous layer's weight rows and bias, a norm's scale and bias), so the
/// float model computes the same function; the folded model is rounded by the scheme as `rtn`
/// would round it. Groups without an exact fold are rounded unscaled, and their reports say why.
/// Through a Flatten each convolution channel is a block of columns: m is averaged over the
/// block (`AWQMath.tied`), so the block shares the one scale the channel is divided by.
///
/// Folding a layer's output rows by 1/s before rounding it leaves its codes unchanged for the
/// row-wise scales of the integer schemes (per channel, or groups along the input axis), up to
/// float rounding, so each group's search ignores the rows a later group divides.
public struct GraphAWQQuantize: CompressionPass {
    /// The scheme and its settings (an integer scheme, no importance matrix).
    public var base: Quantize
    /// The calibration data.
    public var calibration: CalibrationData
    /// Grid points of α (k / grid, k = 0 ..< grid).
    public var grid: Int

    /// AWQ onto `base`'s grid with `grid` α values (at least 1).
    public init(base: Quantize, calibration: CalibrationData, grid: Int = 20) {
        self.base = base
        self.calibration = calibration
        self.grid = max(1, grid)
    }

    public var name: String { "quantize" }

    public var parameters: [(String, String)] {
        var p = base.parameters
        p.insert(("method", "awq"), at: 1)
        let selectionKeys = Set(base.selection.parameters.map(\.0))
        let at = p.firstIndex { selectionKeys.contains($0.0) } ?? p.count
        p.insert(contentsOf: [("awq-grid", "\(grid)"), ("calibration-rows", "\(calibration.maxRows)")], at: at)
        return p
    }

    /// One group's outcome.
    public struct Search: Sendable {
        /// The group and its fold (or why it has none).
        public let group: GraphAWQGroup
        /// The chosen α; nil when unscaled.
        public let alpha: Double?
        /// The chosen scales s (one per input column); empty when unscaled.
        public let scales: [Float]
        /// The loss of every grid point, in grid order; empty when unscaled.
        public let losses: [Double]
        /// Why the group is unscaled (no fold, or a value of another rank on the data); nil: scaled.
        public let unscaled: String?
    }

    /// The selected calibrated layers and, for each group, the searched scales.
    /// - Throws: `PassError` for a non-integer scheme, an importance matrix, nothing selected,
    ///   calibration data that does not feed the model, or a graph the executor cannot run.
    public func search(_ model: Model) throws -> [Search] {
        guard base.scheme.storage != nil else {
            throw PassError.invalidParameter(name: "method", value: "awq", reason: "`method` awq quantizes onto an integer scheme (int8, uint8, int4, uint4), not \(base.scheme.id)")
        }
        if let m = base.importance {
            throw PassError.invalidParameter(name: "imatrix", value: m.source, reason: "`imatrix` goes with `method` rtn; AWQ weighs columns by its own calibration statistics")
        }
        let embeddings = TensorSelection.embeddingNames(in: model.graph)
        let layers = CalibratedLayer.find(in: model) { base.selection.selects($0, embeddings: embeddings) }
        guard !layers.isEmpty else {
            throw PassError.nothingSelected("`method` awq quantizes the weights of Gemm and MatMul nodes; no selected tensor is one")
        }
        let groups = GraphAWQGroup.find(in: model, layers: layers)
        let batches = try calibration.batches(for: model)
        var network: Network
        do { network = try Network(model: model) } catch {
            throw PassError.unsupported(tensor: layers[0].weight, reason: "calibration runs the model, which failed: \(error)")
        }
        let tensors = Dictionary(model.tensors.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let roles = WeightRole.roles(in: model.graph)
        var out: [Search] = []
        for g in groups {
            guard g.unscaled == nil else {
                out.append(Search(group: g, alpha: nil, scales: [], losses: [], unscaled: g.unscaled))
                continue
            }
            let n = g.columns
            var stats = LayerStatistics(columns: n, gram: true), absolute = [Double](repeating: 0, count: n)
            var wrongRank: Int?, lowRank: (String, Int)?
            for feeds in batches {
                let env: [String: NDArray]
                do { env = try network.forward(feeds) } catch {
                    throw PassError.unsupported(tensor: g.members[0].weight, reason: "calibration could not run the model: \(error)")
                }
                guard let x = env[g.input], x.isFloat, x.shape.last == n else {
                    throw PassError.unsupported(tensor: g.members[0].weight, reason: "the input '\(g.input)' of node '\(g.members[0].node)' is not a float [.., \(n)] value on the calibration data")
                }
                if let r = g.requiredRank, x.shape.count != r { wrongRank = x.shape.count; break }
                if let (value, r) = g.ranks.sorted(by: { $0.key < $1.key }).first(where: { (env[$0.key]?.shape.count ?? 0) < $0.value }) {
                    lowRank = (value, r)
                    break
                }
                stats.add(x.floats, rows: x.count / n)
                x.floats.withUnsafeBufferPointer { p in
                    for r in 0..<(x.count / n) { for j in 0..<n { absolute[j] += Double(abs(p[r * n + j])) } }
                }
            }
            if let r = wrongRank {
                out.append(Search(group: g, alpha: nil, scales: [], losses: [],
                                  unscaled: "its input '\(g.input)' has rank \(r) on the calibration data; the fold into \(g.producer) needs rank \(g.requiredRank ?? 0)"))
                continue
            }
            if let (value, r) = lowRank {
                out.append(Search(group: g, alpha: nil, scales: [], losses: [],
                                  unscaled: "'\(value)' has rank under \(r) on the calibration data; the fold into \(g.producer) needs at least \(r)"))
                continue
            }
            let rows = max(stats.rows, 1)
            let mean = AWQMath.tied(absolute.map { $0 / Double(rows) }, block: g.tie)
            let gram = stats.symmetricGram.map { Float($0) }
            let weights = g.members.map { $0.rowsByOutput(tensors[$0.weight]!.floatValues()) }
            let alphas = (0..<grid).map { Double($0) / Double(grid) }
            let losses: [Result<Double, Error>] = Parallel.map(alphas.count) { k in
                Result<Double, any Error> {
                    let s = AWQMath.scales(meanAbsolute: mean, alpha: alphas[k])
                    var total = 0.0
                    for (m, w) in zip(g.members, weights) {
                        let e = try effective(m, weights: w, scales: s, role: roles[m.weight] ?? .outputFirst)
                        total += AWQMath.gramLoss(w, e, rows: m.outputs, columns: n, gram: gram)
                    }
                    return total
                }
            }
            let values = try losses.map { try $0.get() }
            var best = 0
            for k in values.indices where values[k] < values[best] { best = k }
            out.append(Search(group: g, alpha: alphas[best], scales: AWQMath.scales(meanAbsolute: mean, alpha: alphas[best]),
                              losses: values, unscaled: nil))
        }
        return out
    }

    /// E = Q(W·diag(s))·diag(1/s) (`outputs × inputs`): what `layer` computes with scales `s`
    /// folded in, in W's basis, Q being the scheme's rounding.
    public func effective(_ layer: CalibratedLayer, weights w: [Float], scales s: [Float], role: WeightRole) throws -> [Float] {
        let n = layer.inputs
        var m = w
        for o in 0..<layer.outputs { for j in 0..<n { m[o * n + j] *= s[j] } }
        let shape = try Shape(layer.inputMajor ? [n, layer.outputs] : [layer.outputs, n])
        let (q, _) = try base.quantize(try Tensor(name: layer.weight, shape: shape, floats: layer.storedOrder(m)), role: role)
        var e = layer.rowsByOutput(try q.densified().floatValues())
        for o in 0..<layer.outputs { for j in 0..<n { e[o * n + j] /= s[j] } }
        return e
    }

    public func prepare(_ model: Model) throws -> any TensorTransform {
        let searches = try search(model)
        let rtn = try base.prepare(model)
        let embeddings = TensorSelection.embeddingNames(in: model.graph)
        let selected = Set(model.tensors.filter { base.selection.selects($0, embeddings: embeddings) }.map(\.name))
        let (factors, labels) = Self.folds(searches, model: model)
        return GraphAWQTransform(rtn: rtn, selected: selected, factors: factors, labels: labels)
    }

    /// `model` with the folds of `searches` applied and nothing rounded: the float model AWQ
    /// rounds, which computes what `model` computes (up to float rounding).
    public static func folded(_ model: Model, searches: [Search]) throws -> Model {
        let (factors, _) = folds(searches, model: model)
        let tensors = try model.tensors.map { t in
            guard let f = factors[t.name] else { return t }
            return try Tensor(name: t.name, shape: t.shape, floats: zip(t.floatValues(), f).map { $0 * $1 })
        }
        return try Model(tensors: tensors, metadata: model.metadata, graph: model.graph)
    }

    /// Per folded tensor, the factor each stored element is multiplied by (members' columns by
    /// s, the producers' channels by 1/s), and the report labels around the scheme's.
    static func folds(_ searches: [Search], model: Model) -> (factors: [String: [Float]], labels: [String: (prefix: String, suffix: String)]) {
        let tensors = Dictionary(model.tensors.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var factors: [String: [Float]] = [:], labels: [String: (prefix: String, suffix: String)] = [:]
        func factor(_ name: String) -> [Float] { factors[name] ?? [Float](repeating: 1, count: tensors[name]!.elementCount) }
        for r in searches {
            guard r.unscaled == nil else {
                for m in r.group.members { labels[m.weight] = ("", " (awq unscaled: \(r.unscaled!))") }
                continue
            }
            let s = r.scales, n = s.count
            for m in r.group.members {
                var f = factor(m.weight)
                for o in 0..<m.outputs { for j in 0..<n { f[m.inputMajor ? j * m.outputs + o : o * n + j] *= s[j] } }
                factors[m.weight] = f
                labels[m.weight] = (String(format: "awq α=%.2f ", r.alpha!), "")
            }
            // The producer's channel c: the scale of its block of columns.
            let channel = stride(from: 0, to: n, by: r.group.tie).map { s[$0] }
            for t in r.group.targets {
                var f = factor(t.tensor)
                switch t {
                case .vector: for c in channel.indices { f[c] /= channel[c] }
                case .rows(let name, let axis):
                    let d = tensors[name]!.shape.dims
                    for a in 0..<d[0] { for b in 0..<d[1] { f[a * d[1] + b] /= channel[axis == 0 ? a : b] } }
                case .kernel:
                    let per = f.count / channel.count
                    for c in channel.indices { for e in 0..<per { f[c * per + e] /= channel[c] } }
                }
                factors[t.tensor] = f
                let fold = " (folded: ÷s of \(r.group.input))"
                labels[t.tensor] = labels[t.tensor].map { ($0.prefix, $0.suffix + fold) } ?? ("", fold)
            }
        }
        return (factors, labels)
    }
}

/// The folded tensors, rounded by the scheme where selected; the other tensors as `rtn` gives them.
struct GraphAWQTransform: TensorTransform {
    let rtn: any TensorTransform
    let selected: Set<String>
    /// The factor each stored element of a folded tensor is multiplied by.
    let factors: [String: [Float]]
    /// Report labels around the scheme's (α, the fold, or why a layer is unscaled).
    let labels: [String: (prefix: String, suffix: String)]

    func transform(_ tensor: Tensor) throws -> (Tensor, TensorReport?) {
        guard let f = factors[tensor.name] else {
            let (t, r) = try rtn.transform(tensor)
            return (t, r.map { relabel($0) })
        }
        let original = tensor.floatValues()
        let folded = try Tensor(name: tensor.name, shape: tensor.shape, floats: zip(original, f).map { $0 * $1 })
        var (out, report) = selected.contains(tensor.name) ? try rtn.transform(folded) : (folded, nil)
        // Errors in the original basis: the stored value divided by its factor against the original.
        let stored = try out.densified().floatValues()
        var figures = ErrorFigures()
        for k in original.indices { figures.add(original: Double(original[k]), changed: Double(stored[k] / f[k])) }
        report = TensorReport(name: tensor.name, scheme: report?.scheme ?? "", bytesBefore: tensor.storedBytes,
                              bytesAfter: out.storedBytes, figures: figures)
        return (out, report.map { relabel($0) })
    }

    func relabel(_ r: TensorReport) -> TensorReport {
        guard let l = labels[r.name] else { return r }
        var r = r
        r.scheme = l.prefix + (r.scheme.isEmpty ? "awq" : r.scheme) + l.suffix
        return r
    }

    func outputGraph(_ graph: Graph?) throws -> Graph? { try rtn.outputGraph(graph) }
    func outputMetadata(_ metadata: inout [String: String]) { rtn.outputMetadata(&metadata) }
}

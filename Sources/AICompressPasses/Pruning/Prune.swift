import AICompressCore

/// The pruning pass: unstructured magnitude pruning (per tensor or with one global threshold,
/// `MagnitudePruning.swift`), N:M semi-structured sparsity along the reduction axis
/// (`NMSparsity.swift`), and structured removal of output channels (`ChannelPruning`). Pruned
/// tensors are stored sparse when that is smaller (`SparseMaskWriter.swift`). Its parameters
/// are declared in `Prune+Parameters.swift`.
///
/// ```swift
/// let (pruned, report) = try Prune(method: .magnitude(keep: 0.3, scope: .global)).apply(model)
/// ```
public struct Prune: ConfigurablePass {
    /// Where a magnitude threshold applies.
    public enum Scope: String, Sendable, CaseIterable { case tensor, global }
    /// How a channel is scored.
    public enum Norm: String, Sendable, CaseIterable { case l1, l2 }

    /// The pruning algorithm and its settings.
    public enum Method: Sendable, Equatable {
        /// Keep the `keep` fraction of weights with the largest magnitude.
        case magnitude(keep: Double, scope: Scope)
        /// In every group of `m` consecutive weights along the reduction axis keep `n`.
        case nm(n: Int, m: Int)
        /// Keep the `keep` fraction of output channels with the largest norm; remove the rest
        /// (and the matching inputs of the next layer) when the graph allows.
        case channels(keep: Double, norm: Norm)
    }

    /// The algorithm.
    public let method: Method
    /// Which tensors it touches.
    public let selection: TensorSelection
    /// The f32 threshold and N:M writers; every kernel gives the same bytes, so this only picks
    /// speed.
    public var kernel: PruneKernel = .fastest
    /// What a recipe records for this pass (as given, e.g. `sparsity` rather than `keep`).
    let values: PassParameters

    /// A pass with these settings (checked when it runs, or by `validate()`).
    public init(method: Method, selection: TensorSelection = TensorSelection()) {
        self.init(method: method, selection: selection, values: Prune.values(of: method, selection))
    }

    init(method: Method, selection: TensorSelection, values: PassParameters) {
        self.method = method
        self.selection = selection
        self.values = values
    }

    /// Provenance words: the settings in effect (`method=magnitude keep=0.3 scope=tensor`), under
    /// the words files already carry, then the selection's.
    public var parameters: [(String, String)] {
        var p: [(String, String)]
        switch method {
        case .magnitude(let keep, let scope):
            p = [("method", "magnitude"), (Parameter.keep.name, "\(keep)"), (Parameter.scope.name, scope.rawValue)]
        case .nm(let n, let m): p = [("method", "\(n):\(m)")]
        case .channels(let keep, let norm):
            p = [("method", "channels"), (Parameter.keep.name, "\(keep)"), (Parameter.norm.name, norm.rawValue)]
        }
        return p + selection.parameters
    }

    /// Checks the parameters (the same checks as `init(parameters:)`).
    /// - Throws: `PassError.invalidParameter`.
    public func validate() throws {
        _ = try Prune(parameters: values)
    }

    /// Checks the parameters and the selection, and finds what the method needs from the whole
    /// model (the global threshold, the channel plan).
    public func prepare(_ model: Model) throws -> any TensorTransform {
        try validate()
        let selected = selectedTensors(model)
        guard !selected.isEmpty else { throw PassError.nothingSelected(TensorSelection.nothingSelectedReason(model)) }
        let roles = WeightRole.roles(in: model.graph)
        switch method {
        case .magnitude(let keep, .global):
            // One threshold over every selected tensor: two read passes (the first also finds
            // NaN/Inf), no copies.
            var views: [FloatView] = []
            defer { views.forEach { $0.release() } }
            for t in selected { views.append(try FloatView(t)) }
            let total = selected.reduce(0) { $0 + $1.elementCount }
            let k = Prune.keepCount(keep, of: total)
            let (threshold, counts) = MagnitudeThreshold.selectCounting(views.map(\.values), keep: k, chunkSize: Prune.chunkSize,
                                                                         release: Prune.pageRelease(selected, views))
            if threshold.nonFinite > 0 {
                for (t, v) in zip(selected, views) { try Prune.checkFinite(t, v.values) }
            }
            // Ties at the threshold are kept in model order, then index order; when all of
            // them are kept (the usual case) no tensor needs its ties counted.
            let quota = Prune.tieQuotas(selected, threshold: threshold, budget: threshold.tiesToKeep) { i in
                // per-tensor ties: from the selection's chunk counts, else counted
                let v = views[i].values
                return threshold.keepNone || v.isEmpty ? 0
                    : counts.map { $0.runs[i].reduce(0) { $0 + $1.ties } } ?? Prune.countAbove(v, 0..<v.count, threshold.bits).1
            }
            var chunkCounts: [String: [(sure: Int, ties: Int)]] = [:]
            if let counts { for (t, c) in zip(selected, counts.runs) { chunkCounts[t.name] = c } }
            return MagnitudeTransform(selected: Set(selected.map(\.name)), global: threshold, tieQuota: quota, keep: keep,
                                      chunkCounts: chunkCounts, kernel: kernel)
        case .magnitude(let keep, .tensor):
            return MagnitudeTransform(selected: Set(selected.map(\.name)), global: nil, tieQuota: [:], keep: keep, chunkCounts: [:],
                                      kernel: kernel)
        case .nm(let n, let m):
            return NMTransform(selected: Set(selected.map(\.name)), roles: roles, n: n, m: m, kernel: kernel)
        case .channels(let keep, let norm):
            return try ChannelPruning.plan(model: model, selected: selected, keep: keep, norm: norm, roles: roles)
        }
    }

    /// round(keep × n).
    static func keepCount(_ keep: Double, of n: Int) -> Int {
        min(n, max(0, Int((keep * Double(n)).rounded(.toNearestOrEven))))
    }

    static func checkFinite(_ t: Tensor, _ v: UnsafeBufferPointer<Float>) throws {
        let bad = FloatView.countNonFinite(v)
        guard bad == 0 else { throw PassError.nonFinite(tensor: t.name, count: bad, pass: "prune") }
    }
}

import Foundation
import AICompressCore
import AICompressTraining

/// Pruning that looks at calibration data: Wanda (|W|·‖X‖, no update) or SparseGPT (mask by
/// saliency, remaining weights updated), applied to the `Gemm`/`MatMul` weights of a graph one
/// layer at a time (`LayerwiseCalibration`). Other tensors are left alone. Pruned tensors are
/// stored sparse when that is smaller, as magnitude pruning stores them. With `scope` global an
/// unstructured budget is shared among the layers by their error curves (`SparsityAllocation`).
public struct CalibratedPrune: CompressionPass {
    /// The calibrated methods.
    public enum Method: String, Sendable, CaseIterable {
        case wanda, sparsegpt
    }

    /// Which method.
    public var method: Method
    /// What to remove.
    public var pattern: SparsityPattern
    /// Which weights (of linear layers) to prune.
    public var selection: TensorSelection
    /// The calibration data.
    public var calibration: CalibrationData
    /// SparseGPT's dampening fraction.
    public var dampFraction: Double
    /// `tensor`: every layer removes the fraction; `global`: the layers together remove it,
    /// each its share from `SparsityAllocation` (unstructured patterns only).
    public var scope: Prune.Scope
    /// How `scope` global splits the budget: by the layers' error curves alone, or from there by
    /// a search that measures the model's output error (`Allocation`).
    public var allocation: Allocation

    /// How `scope` global shares the budget among the layers.
    public enum Allocation: String, Sendable, CaseIterable {
        /// Each layer's share from its own error curve, measured on the unpruned model
        /// (`SparsityAllocation.allocate`): one calibration run per layer.
        case curves
        /// The curves' split, then `SparsityAllocation.search`: each split tried is the whole
        /// model pruned layer by layer, judged by its output error against the dense model's on
        /// the calibration data (at most `SparsityAllocation.searchLimit` prunes of the model).
        case output
    }

    /// Where `allocation` output tells what it measures, one line per split (the CLI's standard
    /// error); nil: silent.
    public var log: (@Sendable (String) -> Void)?

    /// A calibrated pruning pass.
    public init(method: Method, pattern: SparsityPattern, selection: TensorSelection = TensorSelection(),
                calibration: CalibrationData, dampFraction: Double = 0.01, scope: Prune.Scope = .tensor,
                allocation: Allocation = .curves) {
        self.method = method
        self.pattern = pattern
        self.selection = selection
        self.calibration = calibration
        self.dampFraction = dampFraction
        self.scope = scope
        self.allocation = allocation
    }

    public var name: String { "prune" }

    public var parameters: [(String, String)] {
        var p: [(String, String)] = [("method", method.rawValue)]
        switch pattern {
        case .unstructured(let f): p.append(("sparsity", "\(f)"))
        case .nOfM(let k, let m): p.append(("pattern", "\(k):\(m)"))
        }
        if scope == .global { p.append(("scope", scope.rawValue)) }
        if scope == .global && allocation != .curves { p.append(("allocation", allocation.rawValue)) }
        p.append(("calibration-rows", "\(calibration.maxRows)"))
        return p + selection.parameters
    }

    /// The scheme word in reports: `wanda 2:4`, `sparsegpt sparsity 0.5`.
    var scheme: String {
        switch pattern {
        case .unstructured(let f): "\(method.rawValue) sparsity \(f)"
        case .nOfM(let k, let m): "\(method.rawValue) \(k):\(m)"
        }
    }

    public func prepare(_ model: Model) throws -> any TensorTransform {
        let embeddings = TensorSelection.embeddingNames(in: model.graph)
        let layers = CalibratedLayer.find(in: model) { selection.selects($0, embeddings: embeddings) }
        guard !layers.isEmpty else {
            throw PassError.nothingSelected("calibrated pruning (`method` \(method.rawValue)) prunes the weights of Gemm and MatMul nodes; no selected tensor is one")
        }
        for layer in layers {
            guard model.tensors.first(where: { $0.name == layer.weight })?.dtype == .f32 else {
                throw PassError.unsupported(tensor: layer.weight, reason: "calibrated pruning works on f32 weights")
            }
        }
        let run = LayerwiseCalibration(batches: try calibration.batches(for: model), needsGram: method == .sparsegpt,
                                       denseTargets: method == .sparsegpt)
        let scheme = self.scheme
        let tensors = Dictionary(model.tensors.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        guard scope == .global else {
            let results = try run.run(model, layers: layers) { try compress($0, $1, $2, removing: nil, tensors: tensors) }
            return Replacement(tensors: try DenseTargetLayer.tensors(results, model: tensors, scheme: scheme))
        }
        let plan = try removals(model, layers: layers, run: run)
        guard allocation == .output else {
            let results = try run.run(model, layers: layers) { try compress($0, $1, $2, removing: plan[$0.weight], tensors: tensors) }
            return Replacement(tensors: try DenseTargetLayer.tensors(results, model: tensors, scheme: scheme))
        }
        // The search: each split tried is the whole model pruned; only the best one's tensors are held.
        let sizes = layers.map { $0.outputs * $0.inputs }
        var best: (kept: [Int], error: Double, results: [String: LayerwiseCalibration.Compressed])?
        let found = try SparsityAllocation.search(from: zip(sizes, layers).map { $0 - (plan[$1.weight] ?? 0) }, sizes: sizes,
                                                  limit: SparsityAllocation.searchLimit(layers: layers.count)) { kept in
            let removing = Dictionary(uniqueKeysWithValues: zip(layers.map(\.weight), zip(sizes, kept).map { $0 - $1 }))
            let r = try run.runMeasuringOutput(model, layers: layers) { try compress($0, $1, $2, removing: removing[$0.weight], tensors: tensors) }
            let better = best == nil || r.outputError < best!.error
            if better { best = (kept, r.outputError, r.results) }
            log?("allocation: split \(zip(layers, kept).map { "\($0.weight) \($1)" }.joined(separator: ", ")): output error \(Self.figure(r.outputError))\(better ? " (best)" : "")")
            return r.outputError
        }
        log?("allocation: \(found.evaluations) splits measured; output error \(Self.figure(found.startError)) (curves) -> \(Self.figure(found.error))")
        guard let results = best?.results, best?.kept == found.kept else {
            preconditionFailure("CalibratedPrune: the search's split is not the least error measured")
        }
        return Replacement(tensors: try DenseTargetLayer.tensors(results, model: tensors, scheme: scheme))
    }

    static func figure(_ x: Double) -> String { String(format: "%.6g", x) }

    /// One layer pruned: by its share `removing` (`scope` global) or by `pattern`.
    private func compress(_ layer: CalibratedLayer, _ stats: LayerStatistics, _ weights: [Float], removing budget: Int?,
                          tensors: [String: Tensor]) throws -> LayerwiseCalibration.Compressed {
        let rows = layer.outputs
        // SparseGPT fits the dense model's outputs and refits the bias (`DenseTargets`).
        let fit = method == .sparsegpt
            ? try DenseTargetLayer(weights: weights, rows: rows, statistics: stats, bias: layer.bias.flatMap { tensors[$0] },
                                   dampFraction: dampFraction, layer: layer.weight) : nil
        let s = fit?.statistics ?? stats, target = fit?.target ?? weights
        let values: [Float], keep: [Bool]
        if let removing = budget {
            let r = try prune(target, rows: rows, statistics: s, removing: removing, layer: layer.weight)
            (values, keep) = (r.values, r.keep)
        } else {
            switch method {
            case .wanda:
                keep = Wanda.mask(weights, rows: rows, norms: stats.columnNorms, pattern: pattern)
                values = zip(weights, keep).map { $1 ? $0 : 0 }
            case .sparsegpt:
                let r = try SparseGPT(dampFraction: dampFraction).prune(target, rows: rows, statistics: s, pattern: pattern, layer: layer.weight)
                (values, keep) = (r.weights, r.mask)
            }
        }
        var result = try Self.stored(layer, original: weights, values: values, keep: keep, scheme: scheme)
        result.bias = try fit?.refittedBias(values)
        return result
    }

    /// The statistics SparseGPT's global curves use for `layer`: centred when the layer has a
    /// bias that is refitted with it (`LayerStatistics.centered`).
    func sweepStatistics(_ stats: LayerStatistics, _ layer: CalibratedLayer) -> LayerStatistics {
        method == .sparsegpt && layer.bias != nil ? stats.centered : stats
    }

    /// The pruned tensor in stored order (sparse when smaller) and its report against `original`.
    static func stored(_ layer: CalibratedLayer, original: [Float], values: [Float], keep: [Bool], scheme: String) throws -> LayerwiseCalibration.Compressed {
        let storedValues = layer.storedOrder(values)
        let storedMask = layer.storedOrder(keep.map { $0 ? 1 : 0 }).map { $0 != 0 }
        let shape = try Shape(layer.inputMajor ? [layer.inputs, layer.outputs] : [layer.outputs, layer.inputs])
        let dense = try Tensor(name: layer.weight, shape: shape, floats: storedValues)
        let (tensor, initialReport) = try storedValues.withUnsafeBufferPointer {
            try Prune.masked(dense, $0, scheme: scheme, decision: .mask(storedMask))
        }
        var figures = ErrorFigures()
        for (x, y) in zip(original, values) { figures.add(original: Double(x), changed: Double(y)) }
        var report = initialReport
        report.figures = figures
        report.bytesBefore = original.count * 4
        return LayerwiseCalibration.Compressed(tensor: tensor, report: report, effective: values)
    }
}

/// A transform that swaps in tensors computed by `prepare` and leaves the rest alone.
struct Replacement: TensorTransform {
    let tensors: [String: (Tensor, TensorReport)]

    func transform(_ tensor: Tensor) throws -> (Tensor, TensorReport?) {
        guard let (t, r) = tensors[tensor.name] else { return (tensor, nil) }
        var report = r
        report.bytesBefore = tensor.storedBytes
        return (t, report)
    }
}

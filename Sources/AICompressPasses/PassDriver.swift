import AICompressCore

/// Runs a pass over a model into a sink: the one transform loop behind `CompressionPass.apply`
/// and every pass command. The pass is prepared once on the whole model; then tensors are
/// transformed a few at a time in parallel (each transform may also be parallel inside) and
/// handed to the sink in model order (or the order the transform asks for,
/// `TensorTransform.outputOrder`), so a streaming sink holds at most a batch of results.
/// The output's provenance (version, input facts, one step per pass) is written here and
/// nowhere else.
///
/// ```swift
/// let sink = ModelBuilder()
/// let report = try PassDriver(pass: Prune(method: .magnitude(keep: 0.3, scope: .tensor)))
///     .run(model, into: sink)
/// let pruned = sink.model
/// ```
public struct PassDriver: Sendable {
    /// The pass to run (a `Pipeline` records one provenance step per pass).
    public var pass: any CompressionPass
    /// Facts about the input file, when the model came from one.
    public var input: InputFacts?
    /// Extra metadata entries for the output (e.g. the recipe that made it).
    public var metadata: [(String, String)]
    /// Tensors transformed at once at most (the cores, by default).
    public var batch: Int
    /// What the run may hold itself, if bounded: fewer tensors are transformed at once when
    /// their working sets would not fit (`MemoryBudget`).
    public var memory: MemoryBudget?

    /// A driver for `pass`; `input` and `metadata` go into the output's provenance.
    public init(pass: any CompressionPass, input: InputFacts? = nil, metadata: [(String, String)] = [],
                batch: Int = Parallel.defaultWorkers, memory: MemoryBudget? = nil) {
        self.pass = pass
        self.input = input
        self.metadata = metadata
        self.batch = max(1, batch)
        self.memory = memory
    }

    /// The provenance steps this pass records, in order.
    public var steps: [String] {
        (pass as? Pipeline)?.passes.map(\.stepDescription) ?? [pass.stepDescription]
    }

    /// Runs the pass over `model` into `sink`; `onTensor` is called after each tensor with the
    /// stored bytes of the input tensor (for progress). The report's sizes after the pass are
    /// what the sink stores (`ModelSink.storedBytes(of:)`), not the in-memory encoding.
    /// - Throws: the pass's `PassError`, `MemoryBudgetError` (before any work) when a tensor
    ///   cannot fit `memory`, or the sink's error.
    public func run(_ model: Model, into sink: any ModelSink, onTensor: (Int) -> Void = { _ in }) throws -> PassReport {
        var tensors = model.tensors
        func cut(_ tensors: [Tensor]) throws -> [Range<Int>] {
            try memory?.batches(tensors, maxBatch: batch)
                ?? stride(from: 0, to: tensors.count, by: batch).map { $0..<min(tensors.count, $0 + batch) }
        }
        var batches = try cut(tensors)
        let transform = try pass.prepare(model)
        let ordered = transform.outputOrder(tensors)
        if ordered.map(\.name) != tensors.map(\.name) {
            tensors = ordered
            batches = try cut(tensors)
        }
        if transform.parallelInside { batches = batches.flatMap { $0.map { $0..<($0 + 1) } } }
        var metadata = model.metadata
        transform.outputMetadata(&metadata)
        Provenance.stamp(&metadata, input: input, steps: steps, extra: self.metadata)
        var report = PassReport(pass: pass.stepDescription)
        for range in batches {
            let slice = Array(tensors[range])
            let results = Parallel.map(slice.count) { i in Result { try transform.transform(slice[i]) } }
            for (t, result) in zip(slice, results) {
                let (new, r) = try result.get()
                try sink.append(new, releasing: t.data)
                report.add(before: t, after: new, r, stored: sink.storedBytes(of: new))
                onTensor(t.storedBytes)
            }
        }
        try sink.finish(metadata: metadata, graph: try transform.outputGraph(model.graph))
        return report
    }
}

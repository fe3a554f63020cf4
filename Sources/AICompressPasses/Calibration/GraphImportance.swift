import AICompressCore
import AICompressTraining

/// llama.cpp's importance matrix for a graph model: for each selected `Gemm`/`MatMul` weight
/// (`CalibratedLayer`), the sum over the calibration rows of each input column's squared
/// activation (Σx², as llama-imatrix sums it over tokens) and the rows counted, gathered on the
/// float model in one forward pass per batch. `tensors` gives the file's `NAME.in_sum2` /
/// `NAME.counts` pairs, which `ImportanceMatrix` reads (importance = sum / count) and
/// `Quantize.withImportance` weighs the least-squares scale search by.
public enum GraphImportance {
    /// One weight's statistics: its name, Σx² per input column (summed in Double, stored as
    /// f32 as llama.cpp does) and the rows counted.
    public typealias Entry = (name: String, sums: [Float], count: Int)

    /// The statistics of the layers of `model` whose weight `selection` selects, over
    /// `calibration`; also the number of batches (llama.cpp's chunk count).
    /// - Throws: `PassError.nothingSelected` without such a layer, `.unsupported` when the data
    ///   does not feed the model or the executor cannot run it.
    public static func collect(_ model: Model, selection: TensorSelection,
                               calibration: CalibrationData) throws -> (entries: [Entry], batches: Int) {
        let embeddings = TensorSelection.embeddingNames(in: model.graph)
        let layers = CalibratedLayer.find(in: model) { selection.selects($0, embeddings: embeddings) }
        guard !layers.isEmpty else {
            throw PassError.nothingSelected("the importance matrix covers the weights of Gemm and MatMul nodes; no selected tensor is one")
        }
        let batches = try calibration.batches(for: model)
        let network: Network
        do { network = try Network(model: model) } catch {
            throw PassError.unsupported(tensor: layers[0].weight, reason: "calibration runs the model, which failed: \(error)")
        }
        var stats = layers.map { LayerStatistics(columns: $0.inputs, gram: false) }
        for feeds in batches {
            let env: [String: NDArray]
            do { env = try network.forward(feeds) } catch {
                throw PassError.unsupported(tensor: layers[0].weight, reason: "calibration could not run the model: \(error)")
            }
            for (k, l) in layers.enumerated() {
                guard let x = env[l.input], x.isFloat, x.shape.last == l.inputs else {
                    throw PassError.unsupported(tensor: l.weight, reason: "the input '\(l.input)' of node '\(l.node)' is not a float [.., \(l.inputs)] value on the calibration data")
                }
                stats[k].add(x.floats, rows: x.count / l.inputs)
            }
        }
        let entries = zip(layers, stats).map { l, s in (name: l.weight, sums: s.sumOfSquares.map { Float($0) }, count: s.rows) }
        return (entries, batches.count)
    }

    /// The entries (a graph's, or a language model's `ImportanceCollector`'s) as the imatrix file's tensors: `NAME.in_sum2` (f32 [columns]) and
    /// `NAME.counts` (f32 [1]).
    public static func tensors(_ entries: [Entry]) throws -> [Tensor] {
        try entries.flatMap { e in
            [try Tensor(name: e.name + ".in_sum2", shape: Shape([e.sums.count]), floats: e.sums),
             try Tensor(name: e.name + ".counts", shape: Shape([1]), floats: [Float(e.count)])]
        }
    }
}

import AICompressCore

/// One run of `LayerwiseDecoderCalibration`, a block at a time: the hidden states of every
/// calibration sequence at the next block, and the step that observes that block, compresses
/// it and moves the hidden states past it (`next`). `LayerwiseDecoderCalibration.run` steps it to
/// the end at once; `LayerwiseDecoderStream` steps it as the writer asks for each block's
/// tensors, so a finished block goes to the output before the next one is calibrated.
struct LayerwiseDecoderSweep {
    let calibration: LayerwiseDecoderCalibration
    /// Blocks done (compressed, and the hidden states moved past them).
    private(set) var done = 0
    /// Tokens per sequence (0: no sequences, nothing to run).
    private let t: Int
    /// `sequences × t × embedding` hidden states at block `done`.
    private(set) var hidden: [Float]
    /// The same for the unchanged model (dense targets only).
    private(set) var dense: [Float]?
    private var scratch: Decoder.Scratch

    /// The sweep before block 0: the sequences checked and embedded.
    /// - Throws: `LLMError.invalidParameter` (sequences of different lengths),
    ///   `.unsupportedConfig` past an attention window, `.tokenOutOfRange`.
    init(_ calibration: LayerwiseDecoderCalibration) throws(LLMError) {
        self.calibration = calibration
        let c = calibration.decoder.config, sequences = calibration.sequences
        let t = sequences.first?.count ?? 0
        guard sequences.allSatisfy({ $0.count == t }) else {
            throw .invalidParameter(name: "sequences", reason: "differ in length; every calibration sequence has \(t) tokens")
        }
        if let w = c.attentionWindow, t > w {
            throw .unsupportedConfig(file: "config.json", key: "sliding_window",
                                     reason: "is \(w): sliding-window attention is not run; calibration sequences have \(t) tokens")
        }
        self.t = t
        hidden = t > 0 ? try calibration.embed(t) : []
        dense = calibration.denseTargets ? hidden : nil
        scratch = Decoder.Scratch(c, tokens: max(t, 1))
    }

    /// Blocks in the model.
    var blocks: Int { calibration.decoder.weights.layers.count }

    /// Whether every block is done (at once when there are no sequences: nothing is compressed).
    var isFinished: Bool { t == 0 || done == blocks }

    /// Observes block `done`, hands it to `compress`, runs it again with the replacement weights
    /// to make the next block's inputs, and releases the mapped pages of the block's original
    /// projections (the sweep never reads them again).
    /// - Throws: what `compress` throws; `LLMError.tensorShape` when a replacement has the wrong
    ///   number of values, `.unsupportedTensor` for one keyed by a row view of a fused weight.
    mutating func next(_ compress: (DecoderBlockCalibration) throws -> [ActivationSite.Kind: [Float]]) throws {
        guard !isFinished else { return }
        let decoder = calibration.decoder, e = decoder.config.embedding, i = done
        let layer = decoder.weights.layers[i], count = calibration.sequences.count
        let replacement: [ActivationSite.Kind: [Float]]
        do {
            // The observer, and with it the block's statistics, lives for this scope only.
            let observer = BlockStatisticsObserver(layer: i, gram: calibration.gram)
            var observed = decoder
            observed.observer = observer
            for s in 0..<count {
                let rows = (s * t * e)..<((s + 1) * t * e)
                if dense != nil {
                    // The unchanged model's block on its own hidden states: its inputs for the
                    // observer to pair with, and its outputs for the next block.
                    let recorder = BlockInputRecorder(layer: i)
                    var unchanged = decoder
                    unchanged.observer = recorder
                    var y = Array(dense![rows])
                    unchanged.block(layer, &y, &scratch, t, i)
                    dense!.replaceSubrange(rows, with: y)
                    observer.reference = recorder.inputs
                }
                var x = Array(hidden[rows])
                observed.block(layer, &x, &scratch, t, i)
            }
            replacement = try compress(DecoderBlockCalibration(index: i, blocks: blocks, layer: layer, statistics: observer.takeStatistics()))
        }
        var tensors: [ActivationSite.Kind: Tensor] = [:]
        let stored = Dictionary(layer.projections(block: i).map { ($0.kind, $0) }, uniquingKeysWith: { a, _ in a })
        for (kind, values) in replacement {
            let site = stored[kind] ?? ActivationSite(layer: i, kind: kind, fused: true)
            let m = layer.matrix(site), name = site.tensorName
            guard values.count == m.rows * m.columns else {
                throw LLMError.tensorShape(tensor: name, expected: [m.rows, m.columns], actual: [values.count])
            }
            tensors[kind] = try Tensor(name: name, shape: Shape([m.rows, m.columns]), floats: values)
        }
        let compressed = try layer.replacing(tensors, block: i)
        for s in 0..<count {
            var x = Array(hidden[(s * t * e)..<((s + 1) * t * e)])
            decoder.block(compressed, &x, &scratch, t, i)
            hidden.replaceSubrange((s * t * e)..<((s + 1) * t * e), with: x)
        }
        for kind in ActivationSite.Kind.allCases { layer.matrix(kind).data.dropPages() }
        done += 1
    }
}

import AICompressCore

/// Layer-by-layer calibration of a LLaMA-family decoder (GPTQ, SparseGPT, Wanda: issue 18):
/// the calibration text is tokenized with the model's tokenizer and cut into sequences; the
/// hidden states of all sequences at the current block are kept (one block's activations);
/// for block i the engine
///
/// 1. runs block i on every sequence with an observer that sums, per input group, Σx² per
///    column and (if `Options.gram`) XᵀX, in Double (`BlockInputStatistics`);
/// 2. calls the compress closure with the block's weights and those statistics
///    (`DecoderBlockCalibration`); the closure returns the block's replacement weights;
/// 3. runs block i again **with the replacement weights** to make block i+1's inputs.
///
/// Only one block's statistics and replacement weights are alive at a time; the model's own
/// weights stay views of the mapped file (a block's pages are released once it is done).
/// `run` goes through every block at once; `LayerwiseDecoderStream` runs block i when the
/// writer first asks for one of block i's tensors, so each block's results go to the output as
/// the block completes.
///
/// The compress closure returns `[ActivationSite.Kind: [Float]]`: for each stored weight it
/// replaces (`DecoderBlockCalibration.projections`, keyed by the site's kind), the new weights
/// as f32, row-major `rows × columns` (outputs × inputs, the layout of `WeightMatrix` and of a
/// GGUF tensor's rows), exactly the values the compressed file will decode to (a quantizer
/// returns its grid points, a pruner its masked and updated weights). Weights it leaves out
/// keep their values. phi3's fused attn_qkv (keyed `.query`) and ffn_up (keyed `.up`) are one
/// weight each with one input, the one q/k/v (gate/up) share: its statistics are that group's,
/// and its replacement holds every fused row (q, k, v; gate, up). It may keep whatever else it makes (encoded
/// bytes for the writer, reports); it is called on the calling thread, block after block.
///
/// ```swift
/// let calibration = try LayerwiseDecoderCalibration(model: lm, text: bytes)   // 32 × 512 tokens
/// try calibration.run { block in
///     var replaced: [ActivationSite.Kind: [Float]] = [:]
///     for site in block.projections {                       // phi3: attn_qkv, attn_output, ffn_up, ffn_down
///         let stats = block.statistics(for: site.kind)!     // .sumSquares, .gram, .rows
///         let w = block.weights(site)                       // WeightMatrix: rows × columns
///         replaced[site.kind] = compress(w, stats)          // f32, rows × columns
///     }
///     return replaced
/// } progress: { done, total in … }
/// ```
///
/// The statistics are those of the block as a whole before any of its projections is
/// replaced (q/k/v, attn_output, gate/up and ffn_down all see inputs computed with the block's
/// original weights; GPTQ's reference without `--true-sequential`).
public struct LayerwiseDecoderCalibration: Sendable {
    /// How the calibration text is cut and what is gathered.
    public struct Options: Sendable, Equatable {
        /// Tokens per sequence (llama-imatrix's -c; 512).
        public var sequenceTokens: Int
        /// At most this many sequences (the first ones); nil: every whole sequence of the text.
        public var maxSequences: Int?
        /// Gather XᵀX per input group (GPTQ, SparseGPT); Σx² per column is always gathered.
        public var gram: Bool
        /// Also run the *unchanged* model beside the compressed one and gather each group's ΔᵀX
        /// (`BlockInputStatistics.cross`): GPTQ and SparseGPT then fit the dense model's outputs
        /// (`DenseTargetGain`). Costs a second copy of the hidden states, one more block run per
        /// block and one more product per input group; needs `gram`.
        public var denseTargets: Bool

        /// Options; the defaults are 32 sequences of 512 tokens with XᵀX, without dense targets.
        public init(sequenceTokens: Int = 512, maxSequences: Int? = 32, gram: Bool = true, denseTargets: Bool = false) {
            self.sequenceTokens = sequenceTokens
            self.maxSequences = maxSequences
            self.gram = gram
            self.denseTargets = denseTargets
        }
    }

    /// The decoder calibrated.
    public let decoder: Decoder
    /// The calibration sequences (token ids, each `sequenceTokens` long, BOS first when the
    /// vocabulary adds one).
    public let sequences: [[Int32]]
    /// Whether XᵀX is gathered.
    public let gram: Bool
    /// Whether ΔᵀX is gathered (`Options.denseTargets`).
    public let denseTargets: Bool

    /// The calibration of `model` on `text`: tokenized once (BOS as the vocabulary asks), cut
    /// into sequences of `options.sequenceTokens` tokens, each with its first token replaced by
    /// BOS, as llama-imatrix cuts its chunks.
    /// - Throws: `LLMError.invalidParameter` (`sequenceTokens` below 16, `maxSequences` below 1),
    ///   `.textTooShort` (fewer than 2 × sequenceTokens tokens, llama-imatrix's rule),
    ///   `.tokenizer`.
    public init(model: LanguageModel, text: [UInt8], options: Options = Options()) throws(LLMError) {
        let t = options.sequenceTokens
        guard t >= 16 else { throw .invalidParameter(name: "sequenceTokens", reason: "is \(t); it must be at least 16") }
        if let m = options.maxSequences, m < 1 { throw .invalidParameter(name: "maxSequences", reason: "is \(m); it must be at least 1") }
        let tokens = try model.tokenizer.tokenize(text, addSpecial: true)
        guard tokens.count >= 2 * t else { throw .textTooShort(tokens: tokens.count, needed: 2 * t, context: t) }
        let count = min(options.maxSequences ?? Int.max, tokens.count / t)
        let bos = model.tokenizer.vocabulary.addBOS ? model.tokenizer.vocabulary.bos : nil
        var sequences: [[Int32]] = []
        for c in 0..<count {
            var s = Array(tokens[(c * t)..<((c + 1) * t)])
            if let b = bos { s[0] = b }
            sequences.append(s)
        }
        self.init(decoder: model.decoder, sequences: sequences, gram: options.gram, denseTargets: options.denseTargets)
    }

    /// The calibration of `decoder` on given token sequences (all of one length).
    public init(decoder: Decoder, sequences: [[Int32]], gram: Bool = true, denseTargets: Bool = false) {
        var d = decoder
        d.observer = nil
        self.decoder = d
        self.sequences = sequences
        self.gram = gram
        self.denseTargets = denseTargets && gram
    }

    /// Calibration tokens in all (rows each statistic sums).
    public var tokens: Int { sequences.reduce(0) { $0 + $1.count } }

    /// Runs the calibration block by block (see the type's summary); `progress(done, total)`
    /// follows every block.
    /// - Throws: what `compress` throws; `LLMError.tokenOutOfRange`, `.unsupportedConfig` past
    ///   an attention window; `.tensorShape` when a replacement has the wrong number of values.
    public func run(compress: (DecoderBlockCalibration) throws -> [ActivationSite.Kind: [Float]],
                    progress: (Int, Int) -> Void = { _, _ in }) throws {
        var sweep = try LayerwiseDecoderSweep(self)
        while !sweep.isFinished {
            try sweep.next(compress)
            progress(sweep.done, sweep.blocks)
        }
    }

    /// The token embeddings of every sequence, one after another (`sequences.count × t × e`).
    func embed(_ t: Int) throws(LLMError) -> [Float] {
        let c = decoder.config, e = c.embedding
        var x = [Float](repeating: 0, count: sequences.count * t * e)
        for (s, tokens) in sequences.enumerated() {
            for id in tokens where id < 0 || Int(id) >= c.vocabulary { throw .tokenOutOfRange(id: id, vocabulary: c.vocabulary) }
            x.withUnsafeMutableBufferPointer { xp in
                let base = xp.baseAddress! + s * t * e
                for i in 0..<t { decoder.weights.embedding.decodeRows(Int(tokens[i])..<(Int(tokens[i]) + 1), into: base + i * e) }
            }
        }
        return x
    }
}

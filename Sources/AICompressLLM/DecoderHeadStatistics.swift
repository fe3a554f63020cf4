/// The calibration statistics of a decoder's output head (output.weight, or token_embd when the
/// embedding is tied to it): the final RMSNorm of the hidden states past the last block, summed
/// over every token of every calibration sequence, in Double. The layer-by-layer calibration
/// gathers them after its last block, so the head is calibrated on the output of the compressed
/// blocks, as each block is on the one before (`LayerwiseDecoderStream`'s `head`).
public struct DecoderHeadStatistics: Sendable {
    /// Values per activation row (the embedding width).
    public let columns: Int
    /// Activation rows summed (calibration tokens).
    public let rows: Int
    /// Σ x_j² over the rows, per column j.
    public let sumSquares: [Double]
    /// XᵀX (`columns × columns`, row-major), when the calibration gathers it.
    public let gram: [Double]?
    /// ΔᵀX (row-major [i][j] = Σ Δ_i x_j, Δ = X_dense − X) with dense targets: X_dense is the
    /// final norm of the unchanged model's hidden states; nil without dense targets or when the
    /// two are equal (nothing before the head was changed).
    public let cross: [Double]?

    /// Statistics given directly (tests, other front ends).
    public init(columns: Int, rows: Int, sumSquares: [Double], gram: [Double]?, cross: [Double]? = nil) {
        self.columns = columns
        self.rows = rows
        self.sumSquares = sumSquares
        self.gram = gram
        self.cross = cross
    }

    /// Each column's importance, Σx² / rows in float (the GGUF block scale searches' weights).
    public var meanSquares: [Float] {
        let n = Double(max(rows, 1))
        return sumSquares.map { Float($0 / n) }
    }
}

extension LayerwiseDecoderSweep {
    /// The head's statistics once every block is done: the final norm of each sequence's hidden
    /// states, summed as a block's inputs are (`BlockStatisticsObserver`, one group: the head
    /// has one input), with ΔᵀX against the unchanged model's under dense targets. Rows 0 when
    /// there are no sequences.
    func headStatistics() -> DecoderHeadStatistics {
        let decoder = calibration.decoder, e = decoder.config.embedding
        let count = calibration.sequences.count, t = calibration.sequences.first?.count ?? 0
        guard isFinished, t > 0, count > 0 else { return DecoderHeadStatistics(columns: e, rows: 0, sumSquares: [], gram: nil) }
        // The observer files what it is shown under the group of the site's kind; the site is
        // one past the last block, which no block reports.
        let site = ActivationSite(layer: blocks, kind: .query)
        let observer = BlockStatisticsObserver(layer: blocks, gram: calibration.gram)
        var normed = [Float](repeating: 0, count: t * e)
        for s in 0..<count {
            let rows = (s * t * e)..<((s + 1) * t * e)
            if let dense {
                // Dense targets: the unchanged model's head input, for the observer to pair with.
                DecoderMath.rmsNorm(Array(dense[rows]), decoder.weights.outputNorm, decoder.config.rmsEpsilon, rows: t, into: &normed)
                observer.reference = [BlockInputRecorder.Input(group: BlockInputStatistics.Group(site.kind), values: normed)]
            }
            DecoderMath.rmsNorm(Array(hidden[rows]), decoder.weights.outputNorm, decoder.config.rmsEpsilon, rows: t, into: &normed)
            normed.withUnsafeBufferPointer { observer.observe(site, input: $0.baseAddress!, rows: t, columns: e) }
        }
        guard let g = observer.statistics()[BlockInputStatistics.Group(site.kind)] else {
            return DecoderHeadStatistics(columns: e, rows: 0, sumSquares: [], gram: nil)
        }
        return DecoderHeadStatistics(columns: g.columns, rows: g.rows, sumSquares: g.sumSquares, gram: g.gram, cross: g.cross)
    }
}

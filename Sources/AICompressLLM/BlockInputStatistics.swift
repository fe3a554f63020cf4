/// The calibration statistics of one input of a transformer block: the activations that one
/// group of projections multiplies (q/k/v share the attention norm's output, gate/up the FFN
/// norm's), summed over every token of every calibration sequence, in Double.
public struct BlockInputStatistics: Sendable {
    /// The inputs of a LLaMA block, each named by the projections that read it.
    public enum Group: String, Sendable, CaseIterable {
        /// The attention norm's output, read by attn_q, attn_k and attn_v.
        case attention
        /// The attention heads' concatenated output, read by attn_output.
        case attentionOutput
        /// The FFN norm's output, read by ffn_gate and ffn_up.
        case feedForward
        /// silu(gate) · up, read by ffn_down.
        case down

        /// The projections that multiply this input.
        public var kinds: [ActivationSite.Kind] {
            switch self {
            case .attention: return [.query, .key, .value]
            case .attentionOutput: return [.output]
            case .feedForward: return [.gate, .up]
            case .down: return [.down]
            }
        }

        /// The group whose input `kind` multiplies.
        public init(_ kind: ActivationSite.Kind) {
            switch kind {
            case .query, .key, .value: self = .attention
            case .output: self = .attentionOutput
            case .gate, .up: self = .feedForward
            case .down: self = .down
            }
        }
    }

    /// Which input.
    public let group: Group
    /// Values per activation row (the input width of the projections).
    public let columns: Int
    /// Activation rows summed (calibration tokens).
    public let rows: Int
    /// Σ x_j² over the rows, per column j (what llama-imatrix's in_sum2 holds, in Double).
    public let sumSquares: [Double]
    /// XᵀX (`columns × columns`, row-major, symmetric), when the calibration was asked for it
    /// (`LayerwiseDecoderCalibration.Options.gram`); its diagonal equals `sumSquares` up to
    /// the rounding of its float partial products.
    public let gram: [Double]?
    /// Σ |x_j| over the rows, per column j (AWQ's activation magnitude); nil when not gathered.
    public let sumAbsolute: [Double]?
    /// ΔᵀX (`columns × columns`, row-major: entry [i][j] = Σ Δ_i x_j), Δ = X_dense − X the
    /// difference between this input as the *unchanged* model computes it and as the blocks
    /// already compressed make it (`LayerwiseDecoderCalibration.Options.denseTargets`); nil when
    /// not gathered or exactly 0 (block 0, or nothing before it changed).
    public let cross: [Double]?

    /// Statistics given directly (tests, other front ends).
    public init(group: Group, columns: Int, rows: Int, sumSquares: [Double], gram: [Double]?, sumAbsolute: [Double]? = nil,
                cross: [Double]? = nil) {
        self.group = group
        self.columns = columns
        self.rows = rows
        self.sumSquares = sumSquares
        self.gram = gram
        self.sumAbsolute = sumAbsolute
        self.cross = cross
    }

    /// llama-imatrix's importance of each column: Σx² / rows, in float (what `quantize --imatrix`
    /// weights the GGUF scale searches by).
    public var meanSquares: [Float] {
        let n = Double(max(rows, 1))
        return sumSquares.map { Float($0 / n) }
    }
}

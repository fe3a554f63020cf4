import AICompressCore

/// The per-channel scales AWQ folds into one LLaMA block, and the fold itself. Every fold divides
/// a producer's outputs by s and multiplies the consumers' matching input columns by s, which
/// leaves the float model's function unchanged:
///
/// - attn_norm → attn_q, attn_k, attn_v: RMSNorm's weight w_j /= s_j, the three matrices'
///   column j *= s_j (the norm's output is w ⊙ x̂, so x̂_j·w_j/s_j·W_ij·s_j = x̂_j·w_j·W_ij);
/// - ffn_norm → ffn_gate, ffn_up: the same;
/// - ffn_up's rows → ffn_down's columns: up row j /= s_j, down column j *= s_j (silu(gate)·up
///   is linear in up's output j, and down reads it at column j);
/// - attn_v's rows → attn_output's columns: v row (g, d) /= s_(g,d), and attn_output column
///   (h, d) *= s_(g,d) for every query head h that kv head g serves (h / (heads / kvHeads) = g,
///   as `Decoder.attend` groups them): softmax's weights multiply v linearly, and head h's
///   output dim d is attn_output's column h·hd + d. With grouped-query attention the heads a
///   kv head serves share one scale, so `output` holds one scale per v row.
///
/// Biases: a fold into a producer with an output bias would have to scale the bias too;
/// `AWQBlock` leaves those producers unfolded (v with qwen2's bias, up with a bias).
public struct AWQBlockScales: Sendable, Equatable {
    /// attn_norm → attn_q/k/v: one per embedding column; nil: not folded.
    public var attention: [Float]?
    /// attn_v's rows → attn_output's columns: one per v row (kvWidth); nil: not folded.
    public var output: [Float]?
    /// ffn_norm → ffn_gate/ffn_up: one per embedding column; nil: not folded.
    public var feedForward: [Float]?
    /// ffn_up's rows → ffn_down's columns: one per feed-forward channel; nil: not folded.
    public var down: [Float]?

    /// No folds.
    public init(attention: [Float]? = nil, output: [Float]? = nil, feedForward: [Float]? = nil, down: [Float]? = nil) {
        self.attention = attention
        self.output = output
        self.feedForward = feedForward
        self.down = down
    }

    /// attn_output's column (h, d) ← the scale of v row (h / group, d).
    public static func outputColumns(_ perValueRow: [Float], config c: DecoderConfig) -> [Float] {
        let hd = c.headDimension, group = c.heads / c.kvHeads
        return (0..<c.queryWidth).map { perValueRow[($0 / hd / group) * hd + $0 % hd] }
    }

    /// The scale of each v row from attn_output column scales that are equal across the heads
    /// of one kv head (those of a search on pooled statistics): the first head's.
    public static func valueRows(_ outputColumns: [Float], config c: DecoderConfig) -> [Float] {
        let hd = c.headDimension, group = c.heads / c.kvHeads
        return (0..<c.kvWidth).map { outputColumns[($0 / hd) * group * hd + $0 % hd] }
    }

    /// The multipliers of projection `kind`'s input columns (nil: none).
    public func columnScales(_ kind: ActivationSite.Kind, config c: DecoderConfig) -> [Float]? {
        switch kind {
        case .query, .key, .value: return attention
        case .output: return output.map { Self.outputColumns($0, config: c) }
        case .gate, .up: return feedForward
        case .down: return down
        }
    }

    /// The divisors of projection `kind`'s output rows (nil: none).
    public func rowScales(_ kind: ActivationSite.Kind) -> [Float]? {
        switch kind {
        case .value: return output
        case .up: return down
        default: return nil
        }
    }

    /// The divisors of the stored weight `site`'s output rows in `layer` (nil: none): a separate
    /// projection's `rowScales(_:)`; phi3's fused attn_qkv (q|k|v rows) 1 on its q and k rows and
    /// `output` on its v rows, its fused ffn_up (gate|up rows, gate first as
    /// `DecoderTensorReader` cuts it) 1 on the gate rows and `down` on the up rows.
    public func rowScales(_ site: ActivationSite, of layer: DecoderLayer) -> [Float]? {
        guard site.fused else { return rowScales(site.kind) }
        switch site.kind {
        case .query, .key, .value:
            guard layer.fusedQKV != nil else { return rowScales(site.kind) }
            return output.map { [Float](repeating: 1, count: layer.query.rows + layer.key.rows) + $0 }
        case .gate, .up:
            guard layer.fusedGateUp != nil else { return rowScales(site.kind) }
            return down.map { [Float](repeating: 1, count: layer.gate.rows) + $0 }
        case .output, .down: return rowScales(site.kind)
        }
    }

    /// Projection `kind` of `layer` as stored after the fold (`rows × columns`, f32):
    /// diag(1/r)·W·diag(s).
    public func folded(_ kind: ActivationSite.Kind, of layer: DecoderLayer, config c: DecoderConfig) -> [Float] {
        let m = layer.matrix(kind)
        return AWQScaleSearch.scaled(m.floats(), rows: m.rows, rowScales: rowScales(kind),
                                     columnScales: columnScales(kind, config: c) ?? [Float](repeating: 1, count: m.columns))
    }

    /// The attention norm's weights after the fold (w / s).
    public func attentionNorm(_ layer: DecoderLayer) -> [Float] { Self.divided(layer.attentionNorm, attention) }

    /// The FFN norm's weights after the fold (w / s).
    public func ffnNorm(_ layer: DecoderLayer) -> [Float] { Self.divided(layer.ffnNorm, feedForward) }

    static func divided(_ w: [Float], _ s: [Float]?) -> [Float] {
        guard let s else { return w }
        return zip(w, s).map { $0 / $1 }
    }
}

extension WeightMatrix {
    /// Every value as f32, row-major (`rows × columns`).
    public func floats() -> [Float] {
        var values = [Float](repeating: 0, count: rows * columns)
        values.withUnsafeMutableBufferPointer { decodeRows(0..<rows, into: $0.baseAddress!) }
        return values
    }
}

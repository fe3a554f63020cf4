import AICompressCore

/// AWQ on one block of the layer-by-layer calibration (`LayerwiseDecoderCalibration`): the
/// scales of the four folds of `AWQBlockScales`, each searched by `AWQScaleSearch` on that
/// input's statistics (XᵀX, mean |x|, mean x²), and every planned projection encoded with them.
///
/// The row folds are searched first (attn_v → attn_output, ffn_up → ffn_down: the consumer's
/// output error), then the norm folds with the row divisors already in place, so what the
/// norm search quantizes is exactly what is written. A fold is made only when every projection
/// it touches has a planned block type (one kept in f16, say, could not carry the scale) and the
/// producer has no output bias. Projections outside any fold are still encoded here (scale 1),
/// with the same importance weighting, so one quantizer makes every block projection.
public enum AWQBlock {
    /// One fold's search.
    public struct Fold: Sendable {
        /// What was folded into what (`attn_norm -> attn_q, attn_k, attn_v`).
        public let label: String
        /// The chosen α.
        public let alpha: Double
        /// The calibrated output error at α.
        public let loss: Double
        /// The same at α = 0 (round to nearest with the same quantizer).
        public let baseLoss: Double
    }

    /// What one block gave.
    public struct Result: Sendable {
        /// The scales folded.
        public let scales: AWQBlockScales
        /// The searches, in the order made.
        public let folds: [Fold]
        /// The encoding of every planned projection (its type's blocks, in the folded basis).
        public let encoded: [ActivationSite.Kind: [UInt8]]
        /// What the model computes for each encoded projection, in the block's original basis
        /// (what the calibration engine runs the block with to feed the next one).
        public let effective: [ActivationSite.Kind: [Float]]
        /// The attention and FFN norms' weights after the fold.
        public let attentionNorm: [Float], ffnNorm: [Float]
    }

    /// Searches and encodes `block`; `types` holds the planned ggml block type of each
    /// projection to encode (the others are left alone and fold nothing).
    /// - Throws: `LLMError.invalidParameter` when the statistics lack XᵀX or Σ|x|; what the
    ///   search throws.
    public static func run(_ block: DecoderBlockCalibration, config c: DecoderConfig, types: [ActivationSite.Kind: GGMLType],
                           search: AWQScaleSearch) throws(LLMError) -> Result {
        let layer = block.layer
        var scales = AWQBlockScales(), folds = [Fold](), done = [ActivationSite.Kind: AWQScaleSearch.Encoded]()

        func inputs(_ kind: ActivationSite.Kind) throws(LLMError) -> (gram: [Double], meanAbsolute: [Double], meanSquares: [Float]) {
            guard let s = block.statistics(for: kind), let gram = s.gram, let abs = s.sumAbsolute else {
                throw .invalidParameter(name: "method", reason: "awq needs XᵀX and Σ|x| of \(block.tensorName(kind))'s input (gram and sumAbsolute)")
            }
            let n = Double(max(s.rows, 1))
            return (gram, abs.map { $0 / n }, s.meanSquares)
        }
        func member(_ kind: ActivationSite.Kind, _ type: GGMLType) -> AWQScaleSearch.Member {
            let m = layer.matrix(kind)
            return .init(name: block.tensorName(kind), weights: m.floats(), rows: m.rows, type: type, rowScales: scales.rowScales(kind))
        }
        /// Searches the fold of `producer` into `kinds` when all are planned; returns the scales.
        func fold(_ producer: String, _ kinds: [ActivationSite.Kind], needs: [ActivationSite.Kind],
                  pool: (([Double]) -> [Double])? = nil) throws(LLMError) -> [Float]? {
            let members = kinds.compactMap { k in types[k].map { member(k, $0) } }
            guard members.count == kinds.count, needs.allSatisfy({ types[$0] != nil }) else { return nil }
            let stats = try inputs(kinds[0])
            let r = try search.search(members, columns: layer.matrix(kinds[0]).columns, gram: stats.gram,
                                      meanAbsolute: pool?(stats.meanAbsolute) ?? stats.meanAbsolute, meanSquares: stats.meanSquares)
            for (k, e) in zip(kinds, r.encoded) { done[k] = e }
            folds.append(Fold(label: "\(producer) -> " + kinds.map(\.rawValue).joined(separator: ", "),
                              alpha: r.alpha, loss: r.losses[r.best], baseLoss: r.losses[0]))
            return r.scales
        }

        if layer.valueBias == nil, let s = try fold("attn_v", [.output], needs: [.value], pool: { pooledByKVHead($0, c) }) {
            scales.output = AWQBlockScales.valueRows(s, config: c)
        }
        if layer.upBias == nil { scales.down = try fold("ffn_up", [.down], needs: [.up]) }
        scales.attention = try fold("attn_norm", [.query, .key, .value], needs: [])
        scales.feedForward = try fold("ffn_norm", [.gate, .up], needs: [])
        for kind in ActivationSite.Kind.allCases where done[kind] == nil {
            guard let type = types[kind] else { continue }
            let m = member(kind, type)
            let ones = [Float](repeating: 1, count: layer.matrix(kind).columns)
            done[kind] = try search.encode(m, columns: ones.count, scales: scales.columnScales(kind, config: c) ?? ones,
                                           meanSquares: try inputs(kind).meanSquares)
        }
        return Result(scales: scales, folds: folds, encoded: done.mapValues(\.bytes), effective: done.mapValues(\.effective),
                      attentionNorm: scales.attentionNorm(layer), ffnNorm: scales.ffnNorm(layer))
    }

    /// attn_output's mean |x| per column, averaged over the query heads of each kv head (so
    /// the scales of those columns come out equal: one v row feeds them all).
    static func pooledByKVHead(_ m: [Double], _ c: DecoderConfig) -> [Double] {
        let hd = c.headDimension, group = c.heads / c.kvHeads
        var perRow = [Double](repeating: 0, count: c.kvWidth)
        for (j, v) in m.enumerated() { perRow[(j / hd / group) * hd + j % hd] += v / Double(group) }
        return (0..<m.count).map { perRow[($0 / hd / group) * hd + $0 % hd] }
    }
}

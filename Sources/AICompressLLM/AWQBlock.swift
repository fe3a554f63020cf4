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
///
/// phi3's fused weights (`DecoderBlockCalibration.projections`) are each one member of the same
/// searches, keyed by their site's kind (`.query`: attn_qkv = q|k|v rows, `.up`: ffn_up =
/// gate|up rows): attn_norm folds into attn_qkv's columns and ffn_norm into ffn_up's, the loss
/// being the fused weight's whole output error (the sum of its row views' errors, as for the
/// separate projections); attn_output's scale divides the v rows of attn_qkv, and ffn_down's the
/// up rows of ffn_up (`AWQBlockScales.rowScales(_:of:)`). Each fold needs what llama's needs.
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

    /// Searches and encodes `block`; `types` holds the planned ggml block type of each stored
    /// weight to encode, keyed by its site's kind (`block.projections`; the others are left
    /// alone and fold nothing); `encoded` and `effective` are keyed the same way (a fused
    /// weight's whole rows).
    /// - Throws: `LLMError.invalidParameter` when the statistics lack XᵀX or Σ|x|; what the
    ///   search throws.
    public static func run(_ block: DecoderBlockCalibration, config c: DecoderConfig, types: [ActivationSite.Kind: GGMLType],
                           search: AWQScaleSearch) throws(LLMError) -> Result {
        let layer = block.layer, sites = block.projections
        /// The stored weight that holds projection `kind`'s rows (phi3: the fused one).
        func site(_ kind: ActivationSite.Kind) -> ActivationSite {
            sites.first { $0.kind == kind || ($0.fused && Self.fusedKinds($0.kind).contains(kind)) } ?? ActivationSite(layer: block.index, kind: kind)
        }
        var scales = AWQBlockScales(), folds = [Fold](), done = [ActivationSite.Kind: AWQScaleSearch.Encoded]()

        func inputs(_ kind: ActivationSite.Kind) throws(LLMError) -> (gram: [Double], meanAbsolute: [Double], meanSquares: [Float]) {
            guard let s = block.statistics(for: kind), let gram = s.gram, let abs = s.sumAbsolute else {
                throw .invalidParameter(name: "method", reason: "awq needs XᵀX and Σ|x| of \(site(kind).tensorName)'s input (gram and sumAbsolute)")
            }
            let n = Double(max(s.rows, 1))
            return (gram, abs.map { $0 / n }, s.meanSquares)
        }
        /// Σx² / rows of `kind`'s input (kept when its XᵀX is released).
        func meanSquares(_ kind: ActivationSite.Kind) throws(LLMError) -> [Float] {
            guard let s = block.statistics(for: kind) else {
                throw .invalidParameter(name: "method", reason: "awq needs the input statistics of \(site(kind).tensorName)")
            }
            return s.meanSquares
        }
        func member(_ kind: ActivationSite.Kind, _ type: GGMLType) -> AWQScaleSearch.Member {
            let at = site(kind), m = layer.matrix(at)
            return .init(name: at.tensorName, weights: m.floats(), rows: m.rows, type: type, rowScales: scales.rowScales(at, of: layer))
        }
        /// Searches the fold of `producer` into `kinds` when all are planned; returns the scales.
        func fold(_ producer: String, _ kinds: [ActivationSite.Kind], needs: [ActivationSite.Kind],
                  pool: (([Double]) -> [Double])? = nil) throws(LLMError) -> [Float]? {
            let members = kinds.compactMap { k in types[k].map { member(k, $0) } }
            guard members.count == kinds.count, needs.allSatisfy({ types[$0] != nil }) else { return nil }
            let r: AWQScaleSearch.Result
            do {
                let stats = try inputs(kinds[0])
                r = try search.search(members, columns: layer.matrix(kinds[0]).columns, gram: stats.gram,
                                      meanAbsolute: pool?(stats.meanAbsolute) ?? stats.meanAbsolute, meanSquares: stats.meanSquares)
            }
            // The fold is this input's one search: its XᵀX (254 MB for a 5632-wide ffn_down) goes
            // now, not when the block ends; what encodes after it needs Σx² only.
            block.releaseMatrices(of: BlockInputStatistics.Group(kinds[0]))
            for (k, e) in zip(kinds, r.encoded) { done[k] = e }
            folds.append(Fold(label: "\(producer) -> " + kinds.map { Self.shortName(site($0)) }.joined(separator: ", "),
                              alpha: r.alpha, loss: r.losses[r.best], baseLoss: r.losses[0]))
            return r.scales
        }

        let qkv = layer.fusedQKV != nil, gateUp = layer.fusedGateUp != nil
        let value = site(.value), up = site(.up)
        if layer.valueBias == nil, let s = try fold(qkv ? "attn_qkv (v rows)" : "attn_v", [.output], needs: [value.kind],
                                                    pool: { pooledByKVHead($0, c) }) {
            scales.output = AWQBlockScales.valueRows(s, config: c)
        }
        if layer.upBias == nil { scales.down = try fold(gateUp ? "ffn_up (up rows)" : "ffn_up", [.down], needs: [up.kind]) }
        scales.attention = try fold("attn_norm", qkv ? [.query] : [.query, .key, .value], needs: [])
        scales.feedForward = try fold("ffn_norm", gateUp ? [.up] : [.gate, .up], needs: [])
        for kind in sites.map(\.kind) where done[kind] == nil {
            guard let type = types[kind] else { continue }
            let m = member(kind, type)
            let ones = [Float](repeating: 1, count: layer.matrix(site(kind)).columns)
            done[kind] = try search.encode(m, columns: ones.count, scales: scales.columnScales(kind, config: c) ?? ones,
                                           meanSquares: try meanSquares(kind))
        }
        return Result(scales: scales, folds: folds, encoded: done.mapValues(\.bytes), effective: done.mapValues(\.effective),
                      attentionNorm: scales.attentionNorm(layer), ffnNorm: scales.ffnNorm(layer))
    }

    /// The projections a fused site of kind `kind` holds (q/k/v; gate/up).
    static func fusedKinds(_ kind: ActivationSite.Kind) -> [ActivationSite.Kind] {
        switch kind {
        case .query, .key, .value: return [.query, .key, .value]
        case .gate, .up: return [.gate, .up]
        case .output, .down: return [kind]
        }
    }

    /// `attn_q`, or a fused site's `attn_qkv` / `ffn_up (gate|up)`.
    static func shortName(_ site: ActivationSite) -> String {
        guard site.fused else { return site.kind.rawValue }
        switch site.kind {
        case .query, .key, .value: return "attn_qkv"
        case .gate, .up: return "ffn_up (gate|up)"
        case .output, .down: return site.kind.rawValue
        }
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

import AICompressCore
import AICompressTraining

/// A LLaMA-family decoder run on whole chunks of tokens at once (batched prompt evaluation, as
/// llama-perplexity runs each chunk from a fresh context): every projection is one matrix
/// product over the chunk, attention is two products per head, heads on both cores.
///
/// The math follows llama.cpp's llama graph: RMSNorm (`ggml_rms_norm`, sum of squares in
/// double), rotary embeddings as `ggml_rope_ext` (frequencies by repeated multiplication in
/// float), grouped-query attention with a causal mask and scale 1/√head_dim, SwiGLU, the final
/// norm and the output projection; qwen3's per-head q/k RMSNorm before rope; phi3's fused
/// attn_qkv and ffn_up (gate rows, then up rows) multiplied as row views of the stored tensors.
/// `DecoderReference` is its plain twin.
public struct Decoder: Sendable {
    /// The hyperparameters.
    public let config: DecoderConfig
    /// The weights, in their stored encodings.
    public let weights: DecoderWeights
    /// Sees each block projection's input (`ActivationObserver`); nil (the default) costs one
    /// test per projection.
    public var observer: (any ActivationObserver)?

    /// A decoder of `weights` with `config`.
    public init(config: DecoderConfig, weights: DecoderWeights) {
        self.config = config
        self.weights = weights
    }

    /// The decoder of a GGUF model (configuration from its metadata, tensors by GGUF names).
    /// - Throws: `LLMError` naming the key or tensor at fault.
    public init(model: Model, metadata: GGUFMetadataTable) throws(LLMError) {
        let c = try DecoderConfig(gguf: metadata, model: model)
        self.init(config: c, weights: try DecoderWeights(model: model, config: c))
    }

    /// The final normalised hidden states `[tokens.count × embedding]` of a sequence starting at
    /// position 0 (an empty cache).
    /// - Throws: `LLMError.tokenOutOfRange`, `.unsupportedConfig` past the attention window.
    public func hiddenStates(_ tokens: [Int32]) throws(LLMError) -> [Float] {
        let c = config, t = tokens.count, e = c.embedding
        for id in tokens where id < 0 || Int(id) >= c.vocabulary { throw .tokenOutOfRange(id: id, vocabulary: c.vocabulary) }
        if let w = c.attentionWindow, t > w, let key = c.attentionWindowKey {
            throw .badKey(key: key, reason: "is \(w): sliding-window attention is not run; this sequence has \(t) tokens (use a context of at most \(w))")
        } else if let w = c.attentionWindow, t > w {
            throw .unsupportedConfig(file: "config.json", key: "sliding_window",
                                     reason: "is \(w): sliding-window attention is not run; this sequence has \(t) tokens (use a context of at most \(w))")
        }
        guard t > 0 else { return [] }
        var x = [Float](repeating: 0, count: t * e)
        x.withUnsafeMutableBufferPointer { xp in
            nonisolated(unsafe) let base = xp.baseAddress!
            Parallel.forEach(t) { i in weights.embedding.decodeRows(Int(tokens[i])..<(Int(tokens[i]) + 1), into: base + i * e) }
        }
        var s = Scratch(c, tokens: t)
        for (i, layer) in weights.layers.enumerated() { block(layer, &x, &s, t, i) }
        DecoderMath.rmsNorm(x, weights.outputNorm, c.rmsEpsilon, rows: t, into: &s.norm)
        return s.norm
    }

    /// Logits `[rows × vocabulary]` of `rows` hidden states starting at `hidden`.
    public func logits(_ hidden: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>) {
        weights.output.multiply(hidden, rows: rows, into: out)
    }

    /// Buffers of one chunk, reused by every block.
    struct Scratch {
        var norm, q, k, v, attention, projected, gate, up: [Float]
        init(_ c: DecoderConfig, tokens t: Int) {
            norm = [Float](repeating: 0, count: t * c.embedding)
            q = [Float](repeating: 0, count: t * c.queryWidth)
            k = [Float](repeating: 0, count: t * c.kvWidth)
            v = [Float](repeating: 0, count: t * c.kvWidth)
            attention = [Float](repeating: 0, count: t * c.queryWidth)
            projected = [Float](repeating: 0, count: t * c.embedding)
            gate = [Float](repeating: 0, count: t * c.feedForward)
            up = [Float](repeating: 0, count: t * c.feedForward)
        }
    }

    func block(_ l: DecoderLayer, _ x: inout [Float], _ s: inout Scratch, _ t: Int, _ index: Int = 0) {
        let c = config
        DecoderMath.rmsNorm(x, l.attentionNorm, c.rmsEpsilon, rows: t, into: &s.norm)
        if observer != nil { observe(index, l.fusedQKV != nil ? [.query] : [.query, .key, .value], s.norm, t, c.embedding, fused: l.fusedQKV != nil) }
        project(l.query, l.queryBias, s.norm, t, &s.q)
        project(l.key, l.keyBias, s.norm, t, &s.k)
        project(l.value, l.valueBias, s.norm, t, &s.v)
        // qwen3: each head RMS-normalised on its own (rows of head_dim) before rope.
        if let w = l.queryNorm { DecoderMath.rmsNormInPlace(&s.q, w, c.rmsEpsilon) }
        if let w = l.keyNorm { DecoderMath.rmsNormInPlace(&s.k, w, c.rmsEpsilon) }
        let rope = DecoderMath.RopeTable(c, factors: weights.ropeFactors, positions: t)
        rope.apply(&s.q, heads: c.heads, headDimension: c.headDimension, style: c.ropeStyle)
        rope.apply(&s.k, heads: c.kvHeads, headDimension: c.headDimension, style: c.ropeStyle)
        attend(s.q, s.k, s.v, t, &s.attention)
        if observer != nil { observe(index, [.output], s.attention, t, c.queryWidth) }
        project(l.output, l.outputBias, s.attention, t, &s.projected)
        for i in 0..<x.count { x[i] += s.projected[i] }
        DecoderMath.rmsNorm(x, l.ffnNorm, c.rmsEpsilon, rows: t, into: &s.norm)
        if observer != nil { observe(index, l.fusedGateUp != nil ? [.up] : [.gate, .up], s.norm, t, c.embedding, fused: l.fusedGateUp != nil) }
        project(l.gate, l.gateBias, s.norm, t, &s.gate)
        project(l.up, l.upBias, s.norm, t, &s.up)
        for i in 0..<s.gate.count { s.gate[i] = DecoderMath.silu(s.gate[i]) * s.up[i] }
        if observer != nil { observe(index, [.down], s.gate, t, c.feedForward) }
        project(l.down, l.downBias, s.gate, t, &s.projected)
        for i in 0..<x.count { x[i] += s.projected[i] }
    }

    /// Shows `input` (`rows × columns`) to the observer, once per weight it multiplies (called
    /// only when there is one, so the list of kinds is never built otherwise); `fused`: phi3's
    /// fused weight, shown once under its own name.
    func observe(_ layer: Int, _ kinds: [ActivationSite.Kind], _ input: [Float], _ rows: Int, _ columns: Int, fused: Bool = false) {
        guard let observer else { return }
        input.withUnsafeBufferPointer { p in
            for k in kinds { observer.observe(ActivationSite(layer: layer, kind: k, fused: fused), input: p.baseAddress!, rows: rows, columns: columns) }
        }
    }

    func project(_ w: WeightMatrix, _ bias: [Float]?, _ input: [Float], _ t: Int, _ out: inout [Float]) {
        input.withUnsafeBufferPointer { ip in
            out.withUnsafeMutableBufferPointer { op in w.multiply(ip.baseAddress!, rows: t, into: op.baseAddress!) }
        }
        if let b = bias {
            for i in 0..<t { for j in 0..<w.rows { out[i * w.rows + j] += b[j] } }
        }
    }

    /// Causal grouped-query attention of every head: softmax(scale · Q Kᵀ + mask) V.
    func attend(_ q: [Float], _ k: [Float], _ v: [Float], _ t: Int, _ out: inout [Float]) {
        let c = config, hd = c.headDimension, group = c.heads / c.kvHeads
        let qw = c.queryWidth, kw = c.kvWidth
        let scale = 1 / Float(hd).squareRoot()
        out.withUnsafeMutableBufferPointer { op in
            nonisolated(unsafe) let o = op.baseAddress!
            q.withUnsafeBufferPointer { qp in
                k.withUnsafeBufferPointer { kp in
                    v.withUnsafeBufferPointer { vp in
                        nonisolated(unsafe) let (qb, kb, vb) = (qp.baseAddress!, kp.baseAddress!, vp.baseAddress!)
                        Parallel.forEach(c.heads) { h in
                            let g = h / group
                            var qh = [Float](repeating: 0, count: t * hd), kh = qh, vh = qh
                            for i in 0..<t {
                                for d in 0..<hd {
                                    qh[i * hd + d] = qb[i * qw + h * hd + d]
                                    kh[i * hd + d] = kb[i * kw + g * hd + d]
                                    vh[i * hd + d] = vb[i * kw + g * hd + d]
                                }
                            }
                            var scores = [Float](repeating: 0, count: t * t)
                            BLAS.gemm(transA: false, transB: true, m: t, n: t, k: hd, alpha: scale, qh, kh, into: &scores)
                            scores.withUnsafeMutableBufferPointer { sp in
                                for i in 0..<t { DecoderMath.causalSoftmax(sp.baseAddress! + i * t, visible: i + 1, count: t) }
                            }
                            var oh = [Float](repeating: 0, count: t * hd)
                            BLAS.gemm(transA: false, transB: false, m: t, n: hd, k: t, scores, vh, into: &oh)
                            for i in 0..<t { for d in 0..<hd { o[i * qw + h * hd + d] = oh[i * hd + d] } }
                        }
                    }
                }
            }
        }
    }
}

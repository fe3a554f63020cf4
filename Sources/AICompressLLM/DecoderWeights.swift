import AICompressCore

/// The tensors of one transformer block, by llama.cpp's GGUF names (`blk.N.*`); biases are
/// optional (qwen2 has them on q, k and v), and so are the per-head q/k norms (qwen3's).
public struct DecoderLayer: Sendable {
    /// RMSNorm weights before attention.
    public let attentionNorm: [Float]
    /// Query, key, value and output projections.
    public let query: WeightMatrix, key: WeightMatrix, value: WeightMatrix, output: WeightMatrix
    /// Optional biases of the projections.
    public let queryBias: [Float]?, keyBias: [Float]?, valueBias: [Float]?, outputBias: [Float]?
    /// RMSNorm weights before the feed-forward network.
    public let ffnNorm: [Float]
    /// SwiGLU: down(silu(gate(x)) · up(x)).
    public let gate: WeightMatrix, up: WeightMatrix, down: WeightMatrix
    /// Optional biases of the feed-forward projections.
    public let gateBias: [Float]?, upBias: [Float]?, downBias: [Float]?
    /// RMSNorm weights applied to each query and each key head after the projection (and its
    /// bias) and before rope (`attn_q_norm`, `attn_k_norm`: one per head dimension); nil: none.
    public var queryNorm: [Float]? = nil, keyNorm: [Float]? = nil
    /// phi3's fused projections as stored, when the block has them: `attn_qkv` (query rows, key
    /// rows, value rows; `query`, `key` and `value` are row views of it) with its optional bias,
    /// and `ffn_up` (gate rows, then up rows; `gate` and `up` are views of it).
    public var fusedQKV: WeightMatrix? = nil, fusedQKVBias: [Float]? = nil, fusedGateUp: WeightMatrix? = nil
}

/// Every weight of a decoder, checked against its configuration; matrices stay in their stored
/// encoding (views of the mapped file).
public struct DecoderWeights: Sendable {
    /// Token embedding `[vocabulary × embedding]`.
    public let embedding: WeightMatrix
    /// The blocks in order.
    public let layers: [DecoderLayer]
    /// Final RMSNorm weights.
    public let outputNorm: [Float]
    /// Output projection `[vocabulary × embedding]` (the embedding itself when tied).
    public let output: WeightMatrix
    /// Per-pair rotary frequency divisors (`rope_freqs.weight`, llama 3.1), or nil.
    public let ropeFactors: [Float]?

    /// The weights of `model` (GGUF tensor names) for `config`.
    /// - Throws: `LLMError.missingTensor`, `.tensorShape`, `.tensorEncoding`.
    public init(model: Model, config c: DecoderConfig) throws(LLMError) {
        let r = DecoderTensorReader(model: model)
        let e = c.embedding
        embedding = try r.matrix("token_embd.weight", c.vocabulary, e)
        outputNorm = try r.vector("output_norm.weight", e) ?? []
        output = model.tensor(named: "output.weight") == nil ? embedding : try r.matrix("output.weight", c.vocabulary, e)
        ropeFactors = try r.vector("rope_freqs.weight", c.ropeDimensions / 2, optional: true)
        var layers = [DecoderLayer]()
        for i in 0..<c.layers {
            if c.fusesProjections {
                layers.append(try r.fusedLayer(i, c))
                continue
            }
            let p = "blk.\(i)."
            // Required where the architecture has them (llama.cpp's loader does too); never read
            // for the others, whose graphs do not apply them.
            let heads = c.normalizesHeads
            layers.append(DecoderLayer(
                attentionNorm: try r.vector(p + "attn_norm.weight", e) ?? [],
                query: try r.matrix(p + "attn_q.weight", c.queryWidth, e),
                key: try r.matrix(p + "attn_k.weight", c.kvWidth, e),
                value: try r.matrix(p + "attn_v.weight", c.kvWidth, e),
                output: try r.matrix(p + "attn_output.weight", e, c.queryWidth),
                queryBias: try r.vector(p + "attn_q.bias", c.queryWidth, optional: true),
                keyBias: try r.vector(p + "attn_k.bias", c.kvWidth, optional: true),
                valueBias: try r.vector(p + "attn_v.bias", c.kvWidth, optional: true),
                outputBias: try r.vector(p + "attn_output.bias", e, optional: true),
                ffnNorm: try r.vector(p + "ffn_norm.weight", e) ?? [],
                gate: try r.matrix(p + "ffn_gate.weight", c.feedForward, e),
                up: try r.matrix(p + "ffn_up.weight", c.feedForward, e),
                down: try r.matrix(p + "ffn_down.weight", e, c.feedForward),
                gateBias: try r.vector(p + "ffn_gate.bias", c.feedForward, optional: true),
                upBias: try r.vector(p + "ffn_up.bias", c.feedForward, optional: true),
                downBias: try r.vector(p + "ffn_down.bias", e, optional: true),
                queryNorm: heads ? try r.vector(p + "attn_q_norm.weight", c.headDimension) : nil,
                keyNorm: heads ? try r.vector(p + "attn_k_norm.weight", c.headDimension) : nil))
        }
        self.layers = layers
    }
}

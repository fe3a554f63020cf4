import AICompressCore
import AICompressFormats

/// The hyperparameters of a LLaMA-family decoder, read from GGUF metadata the way llama.cpp's
/// `llama_model_llama` / `llama_model_qwen2` / `llama_model_qwen3` / `llama_model_phi3` load them
/// (`<arch>.*` keys, llama.cpp's defaults).
public struct DecoderConfig: Sendable, Equatable {
    /// How rotary embeddings pair the dimensions of a head (llama.cpp's `llama_rope_type`).
    public enum RopeStyle: Sendable, Equatable {
        /// LLAMA_ROPE_TYPE_NORM: dimensions (2i, 2i+1) rotate together — GGUF llama files store
        /// q/k rows permuted for this (convert_hf_to_gguf.py `permute`).
        case adjacentPairs
        /// LLAMA_ROPE_TYPE_NEOX: dimensions (i, i + n_rot/2) rotate together (qwen2, qwen3, phi3).
        case halves
    }

    /// `general.architecture`.
    public var architecture: String
    /// Transformer blocks.
    public var layers: Int
    /// Width of the residual stream.
    public var embedding: Int
    /// Hidden width of the SwiGLU feed-forward network.
    public var feedForward: Int
    /// Query heads.
    public var heads: Int
    /// Key/value heads (grouped-query attention: each serves heads / kvHeads query heads).
    public var kvHeads: Int
    /// Dimensions per head.
    public var headDimension: Int
    /// RMSNorm epsilon.
    public var rmsEpsilon: Float
    /// Rotary base (`rope.freq_base`).
    public var ropeBase: Float
    /// Rotated dimensions per head (`rope.dimension_count`).
    public var ropeDimensions: Int
    /// Position scale of linear rope scaling (1 / `rope.scaling.factor`; 1 without scaling).
    public var ropeFrequencyScale: Float
    /// Pairing of the rotated dimensions.
    public var ropeStyle: RopeStyle
    /// Tokens in the vocabulary (rows of the embedding).
    public var vocabulary: Int
    /// The context the model was trained with (`context_length`; 0 when absent).
    public var trainedContext: Int
    /// Sliding-window attention span (a Hugging Face config's `sliding_window`, or phi3's GGUF
    /// `attention.sliding_window`), or nil. The decoder refuses longer sequences rather than
    /// attend past the window.
    public var attentionWindow: Int? = nil
    /// The GGUF key `attentionWindow` came from (`phi3.attention.sliding_window`); nil when it
    /// came from a Hugging Face config.json.
    public var attentionWindowKey: String? = nil

    /// A configuration given field by field (tests, other formats).
    public init(architecture: String = "llama", layers: Int, embedding: Int, feedForward: Int, heads: Int, kvHeads: Int,
                headDimension: Int? = nil, rmsEpsilon: Float = 1e-5, ropeBase: Float = 10000, ropeDimensions: Int? = nil,
                ropeFrequencyScale: Float = 1, ropeStyle: RopeStyle = .adjacentPairs, vocabulary: Int, trainedContext: Int = 0) {
        self.architecture = architecture
        self.layers = layers
        self.embedding = embedding
        self.feedForward = feedForward
        self.heads = heads
        self.kvHeads = kvHeads
        let hd = headDimension ?? (heads > 0 ? embedding / heads : 0)
        self.headDimension = hd
        self.rmsEpsilon = rmsEpsilon
        self.ropeBase = ropeBase
        self.ropeDimensions = ropeDimensions ?? hd
        self.ropeFrequencyScale = ropeFrequencyScale
        self.ropeStyle = ropeStyle
        self.vocabulary = vocabulary
        self.trainedContext = trainedContext
    }

    /// The architectures the decoder runs and their rope pairing (Mistral and SmolLM GGUF files
    /// are `llama`).
    public static let architectures: [String: RopeStyle] = ["llama": .adjacentPairs, "qwen2": .halves, "qwen3": .halves,
                                                            "phi3": .halves]

    /// The architectures whose feed-forward input projection is one fused `ffn_up` of
    /// `2·feed_forward_length` rows, gate rows then up rows (llama.cpp's phi3 SwiGLU splits it),
    /// and whose q/k/v may be one fused `attn_qkv` (query rows, then key rows, then value rows).
    public static let fusedArchitectures: Set<String> = ["phi3"]

    /// True when the blocks use fused projections (`fusedArchitectures`).
    public var fusesProjections: Bool { Self.fusedArchitectures.contains(architecture) }

    /// The architectures whose blocks RMS-normalise each query and key head (weights
    /// `attn_q_norm` / `attn_k_norm`, one per head dimension) after the projection and before
    /// rope, as llama.cpp's qwen3 graph does.
    public static let headNormArchitectures: Set<String> = ["qwen3"]

    /// True when the blocks normalise query and key heads (`headNormArchitectures`).
    public var normalizesHeads: Bool { Self.headNormArchitectures.contains(architecture) }

    /// Reads the configuration of a GGUF model from its metadata.
    /// - Throws: `LLMError.unsupportedArchitecture`, `.missingKey`, `.badKey`.
    public init(gguf m: GGUFMetadataTable) throws(LLMError) {
        let arch = try m.string("general.architecture") ?? ""
        guard let style = DecoderConfig.architectures[arch] else { throw .unsupportedArchitecture(arch) }
        func key(_ s: String) -> String { "\(arch).\(s)" }
        let limit = 1...(1 << 20)
        let layers = try m.required(key("block_count")) { k throws(LLMError) in try m.integer(k, in: 1...4096) }
        let embedding = try m.required(key("embedding_length")) { k throws(LLMError) in try m.integer(k, in: limit) }
        let ff = try m.required(key("feed_forward_length")) { k throws(LLMError) in try m.integer(k, in: limit) }
        let heads = try m.required(key("attention.head_count")) { k throws(LLMError) in try m.integer(k, in: 1...65536) }
        let kv = try m.integer(key("attention.head_count_kv"), in: 1...65536) ?? heads
        guard heads % kv == 0 else { throw .badKey(key: key("attention.head_count_kv"), reason: "\(kv) does not divide the \(heads) query heads") }
        guard embedding % heads == 0 || m.values[key("attention.key_length")] != nil else {
            throw .badKey(key: key("attention.head_count"), reason: "\(heads) heads do not divide the embedding width \(embedding)")
        }
        let hd = try m.integer(key("attention.key_length"), in: 1...65536) ?? embedding / heads
        if let v = try m.integer(key("attention.value_length"), in: 1...65536), v != hd {
            throw .badKey(key: key("attention.value_length"), reason: "\(v) differs from the key length \(hd)")
        }
        if let e = try m.integer(key("expert_count"), in: 0...65536), e > 0 {
            throw .badKey(key: key("expert_count"), reason: "\(e) experts: mixture-of-experts models are not supported")
        }
        let eps = try m.required(key("attention.layer_norm_rms_epsilon")) { k throws(LLMError) in try m.float(k) }
        let base = try m.float(key("rope.freq_base")) ?? 10000
        let rot = try m.integer(key("rope.dimension_count"), in: 0...hd) ?? hd
        guard rot % 2 == 0 else { throw .badKey(key: key("rope.dimension_count"), reason: "\(rot) is odd") }
        // llama.cpp's qwen3 graph asserts n_rot == head size (GGML_ASSERT): refused here instead.
        if Self.headNormArchitectures.contains(arch), rot != hd {
            throw .badKey(key: key("rope.dimension_count"), reason: "is \(rot); \(arch) rotates whole heads of \(hd)")
        }
        var window: Int? = nil
        if Self.fusedArchitectures.contains(arch) {
            // llama.cpp's phi3 blocks hold attn_output as [n_embd × n_embd] and the queries as
            // n_embd rows of attn_qkv: the heads must tile the residual width exactly.
            guard heads * hd == embedding else {
                throw .badKey(key: key("attention.key_length"), reason: "\(heads) heads of \(hd) are not the embedding width \(embedding), as \(arch) needs")
            }
            // LongRoPE (Phi-3 128k, Phi-3.5) scales cos/sin by this factor and switches frequency
            // factors with the context: not computed, refused rather than run approximately.
            if let f = try m.float(key("rope.scaling.attn_factor")), f != 1 {
                throw .badKey(key: key("rope.scaling.attn_factor"), reason: "is \(f): LongRoPE (rope_factors_long/short) is not computed")
            }
            // llama.cpp disables phi3's sliding window and attends to everything; the two agree
            // only up to the window, so longer sequences are refused (`Decoder.hiddenStates`).
            if let w = try m.integer(key("attention.sliding_window"), in: 0...Int(Int32.max)), w > 0 { window = w }
        }
        var scale: Float = 1
        let scaling = try m.string(key("rope.scaling.type")) ?? "none"
        switch scaling {
        case "none": break
        case "linear":
            let f = try m.float(key("rope.scaling.factor")) ?? 1
            guard f > 0 else { throw .badKey(key: key("rope.scaling.factor"), reason: "is \(f)") }
            scale = 1 / f
        default: throw .badKey(key: key("rope.scaling.type"), reason: "rope scaling '\(scaling)' is not supported (none and linear are)")
        }
        let tokens = try m.array("tokenizer.ggml.tokens")?.count ?? 0
        let vocab = try m.integer(key("vocab_size"), in: 1...(1 << 24)) ?? tokens
        let trained = try m.integer(key("context_length"), in: 0...Int(Int32.max)) ?? 0
        self.init(architecture: arch, layers: layers, embedding: embedding, feedForward: ff, heads: heads, kvHeads: kv,
                  headDimension: hd, rmsEpsilon: eps, ropeBase: base, ropeDimensions: rot, ropeFrequencyScale: scale,
                  ropeStyle: style, vocabulary: vocab, trainedContext: trained)
        if let window {
            attentionWindow = window
            attentionWindowKey = key("attention.sliding_window")
        }
    }

    /// The configuration of a GGUF model: its metadata, the vocabulary from the embedding's
    /// rows when no key gives it.
    /// - Throws: as `init(gguf:)`.
    public init(gguf m: GGUFMetadataTable, model: Model) throws(LLMError) {
        try self.init(gguf: m)
        if vocabulary == 0, let t = model.tensor(named: "token_embd.weight"), t.shape.dims.count == 2 { vocabulary = t.shape.dims[0] }
    }

    /// Width of all query heads together.
    public var queryWidth: Int { heads * headDimension }
    /// Width of all key (or value) heads together.
    public var kvWidth: Int { kvHeads * headDimension }
}

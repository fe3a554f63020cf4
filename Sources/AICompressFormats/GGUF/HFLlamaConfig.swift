/// A Hugging Face architecture the GGUF conversion maps, and what llama.cpp calls it.
public struct HFLlamaArchitecture: Sendable, Equatable {
    /// The `architectures` entry of config.json.
    public let hfName: String
    /// `general.architecture` and the prefix of the hyperparameter keys.
    public let ggufName: String
    /// llama.cpp's `llama` runs rope on interleaved pairs (`LLAMA_ROPE_TYPE_NORM`) where
    /// Hugging Face rotates halves, so q/k rows are permuted; `qwen2` and `qwen3` use the NEOX
    /// (halves) rope and keep them.
    public let permutesQK: Bool

    /// The architectures mapped, as llama.cpp's converter registers them (conversion/llama.py,
    /// conversion/qwen.py: `Qwen3Model` is `Qwen2Model`'s keys with q/k norms) with the same
    /// tensor names.
    public static let known: [HFLlamaArchitecture] = [
        HFLlamaArchitecture(hfName: "LlamaForCausalLM", ggufName: "llama", permutesQK: true),
        HFLlamaArchitecture(hfName: "MistralForCausalLM", ggufName: "llama", permutesQK: true),
        HFLlamaArchitecture(hfName: "Qwen2ForCausalLM", ggufName: "qwen2", permutesQK: false),
        HFLlamaArchitecture(hfName: "Qwen3ForCausalLM", ggufName: "qwen3", permutesQK: false),
        // conversion/phi.py `Phi3MiniModel`: qkv_proj and gate_up_proj kept fused, NEOX rope.
        HFLlamaArchitecture(hfName: "Phi3ForCausalLM", ggufName: "phi3", permutesQK: false),
    ]

    /// True when the blocks carry per-head q/k norms (`self_attn.q_norm` / `k_norm` →
    /// `attn_q_norm` / `attn_k_norm`): qwen3, whose llama.cpp loader requires them; the other
    /// architectures' loaders refuse them.
    public var normalizesHeads: Bool { ggufName == "qwen3" }

    /// True when the blocks hold fused projections (`self_attn.qkv_proj` → `attn_qkv`,
    /// `mlp.gate_up_proj` → `ffn_up`): phi3, whose llama.cpp graph runs no separate ffn_gate.
    public var fusesProjections: Bool { ggufName == "phi3" }
}

/// The hyperparameters of a config.json that the GGUF keys and the tensor checks need.
public struct HFLlamaConfig: Sendable, Equatable {
    /// The mapped architecture (`architectures[0]`).
    public let architecture: HFLlamaArchitecture
    /// `num_hidden_layers`.
    public let blockCount: Int
    /// `hidden_size`.
    public let embeddingLength: Int
    /// `intermediate_size`.
    public let feedForwardLength: Int
    /// `num_attention_heads`.
    public let headCount: Int
    /// `num_key_value_heads` (the head count when absent: no grouped-query attention).
    public let headCountKV: Int
    /// `head_dim`, else `hidden_size / num_attention_heads`.
    public let headDim: Int
    /// True when config.json gives `head_dim` (then the key/value lengths are written).
    public let explicitHeadDim: Bool
    /// `max_position_embeddings` (nil when absent).
    public let contextLength: Int?
    /// `vocab_size`.
    public let vocabSize: Int
    /// `rms_norm_eps`.
    public let rmsNormEps: Float
    /// `rope_theta` (or `rope_parameters.rope_theta`); 10000 when absent, as transformers assumes.
    public let ropeTheta: Float
    /// The factor of `rope_scaling` type `linear`.
    public let linearRopeFactor: Float?
    /// `tie_word_embeddings` (transformers' default is true).
    public let tiedEmbeddings: Bool
    /// `bos_token_id` etc. at the top of config.json, by type (`bos`, `eos`, …).
    public let specialTokenIDs: [String: Int]
    /// `_name_or_path`, for `general.name`.
    public let nameOrPath: String?
    /// `sliding_window` (0 when absent or null), which phi3's converter writes.
    public let slidingWindow: Int
    /// `original_max_position_embeddings` (or under `rope_parameters`), which phi3's converter
    /// writes as `rope.scaling.original_context_length`.
    public let originalContextLength: Int?

    /// Reads the fields from a parsed config.json (`file` names it in errors).
    /// - Throws: `HFLlamaError` for a missing or malformed field, an unmapped architecture or a
    ///   rope scaling kind llama.cpp would need extra keys or tensors for.
    public init(_ json: JSONValue, file: String) throws(HFLlamaError) {
        guard case .object = json else { throw .notAnObject(file: file) }
        let fields = HFJSONFields(json, file: file)
        guard case .array(let list)? = json["architectures"] else { throw .missingKey(file: file, key: "architectures") }
        let names = list.compactMap(\.stringValue)
        guard names.count == 1, let arch = HFLlamaArchitecture.known.first(where: { $0.hfName == names[0] }) else {
            throw .unsupportedArchitecture(file: file, architectures: names)
        }
        architecture = arch
        blockCount = try fields.positiveInt("num_hidden_layers")
        embeddingLength = try fields.positiveInt("hidden_size")
        feedForwardLength = try fields.positiveInt("intermediate_size")
        headCount = try fields.positiveInt("num_attention_heads")
        headCountKV = try fields.optionalPositiveInt("num_key_value_heads") ?? headCount
        guard headCount % headCountKV == 0 else {
            throw .invalidValue(file: file, key: "num_key_value_heads", reason: "is \(headCountKV), which does not divide num_attention_heads \(headCount)")
        }
        if let d = try fields.optionalPositiveInt("head_dim") {
            headDim = d
            explicitHeadDim = true
        } else {
            guard embeddingLength % headCount == 0 else {
                throw .invalidValue(file: file, key: "hidden_size", reason: "is \(embeddingLength), not a multiple of num_attention_heads \(headCount)")
            }
            headDim = embeddingLength / headCount
            explicitHeadDim = false
        }
        guard headDim % 2 == 0 else { throw .invalidValue(file: file, key: "head_dim", reason: "is \(headDim); rope needs an even head size") }
        contextLength = try fields.optionalPositiveInt("max_position_embeddings")
        vocabSize = try fields.positiveInt("vocab_size")
        rmsNormEps = try fields.float("rms_norm_eps")
        let rope = json["rope_parameters"]
        let nestedTheta = try HFJSONFields(rope ?? .null, file: file).optionalFloat("rope_theta")
        ropeTheta = try fields.optionalFloat("rope_theta") ?? nestedTheta ?? 10000
        tiedEmbeddings = try fields.optionalBool("tie_word_embeddings") ?? true
        nameOrPath = json["_name_or_path"]?.stringValue
        slidingWindow = try fields.optionalNonNegativeInt("sliding_window") ?? 0
        let nestedOriginal = try HFJSONFields(rope ?? .null, file: file).optionalPositiveInt("original_max_position_embeddings")
        originalContextLength = try fields.optionalPositiveInt("original_max_position_embeddings") ?? nestedOriginal
        if arch.fusesProjections, headCount * headDim != embeddingLength {
            throw .invalidValue(file: file, key: "head_dim", reason: "is \(headDim); \(arch.hfName) needs num_attention_heads × head_dim = hidden_size \(embeddingLength)")
        }
        var ids = [String: Int]()
        for typ in HFLlamaTokenizer.specialTypes {
            if let id = try fields.optionalNonNegativeInt("\(typ)_token_id") { ids[typ] = id }
        }
        specialTokenIDs = ids
        linearRopeFactor = try HFLlamaConfig.ropeScaling(json["rope_scaling"] ?? rope, file: file)
    }

    /// The factor of a linear rope scaling; nil for none (or the default type). Other kinds
    /// (llama3, yarn, dynamic, longrope) need keys or a `rope_freqs` tensor not written yet.
    static func ropeScaling(_ value: JSONValue?, file: String) throws(HFLlamaError) -> Float? {
        guard let value, case .object = value else { return nil }
        let type = value["rope_type"]?.stringValue ?? value["type"]?.stringValue
        switch type {
        case nil, "default": return nil
        case "linear":
            guard let f = try HFJSONFields(value, file: file).optionalFloat("factor") else { return nil }
            return f
        case let other?: throw .unsupportedFeature(file: file, feature: "rope scaling type '\(other)'")
        }
    }
}

/// Typed access to the members of a JSON object, with errors naming the file and key.
struct HFJSONFields {
    let json: JSONValue
    let file: String

    init(_ json: JSONValue, file: String) {
        self.json = json
        self.file = file
    }

    func positiveInt(_ key: String) throws(HFLlamaError) -> Int {
        guard let v = try optionalPositiveInt(key) else { throw .missingKey(file: file, key: key) }
        return v
    }

    func optionalPositiveInt(_ key: String) throws(HFLlamaError) -> Int? {
        guard let v = try optionalNonNegativeInt(key) else { return nil }
        guard v > 0 else { throw .invalidValue(file: file, key: key, reason: "is 0, must be positive") }
        return v
    }

    /// Integers up to 2^31 (every count in a config fits; larger ones are refused, not wrapped).
    func optionalNonNegativeInt(_ key: String) throws(HFLlamaError) -> Int? {
        guard let value = json[key], value != .null else { return nil }
        guard let v = value.nonNegativeInt, v <= Int(Int32.max) else {
            throw .invalidValue(file: file, key: key, reason: "is \(value), not an integer from 0 to \(Int32.max)")
        }
        return v
    }

    func float(_ key: String) throws(HFLlamaError) -> Float {
        guard let v = try optionalFloat(key) else { throw .missingKey(file: file, key: key) }
        return v
    }

    func optionalFloat(_ key: String) throws(HFLlamaError) -> Float? {
        guard let value = json[key], value != .null else { return nil }
        guard case .number(let text) = value, let d = Double(text), d.isFinite, d > 0, Float(d).isFinite, Float(d) > 0 else {
            throw .invalidValue(file: file, key: key, reason: "is \(value), not a positive finite number")
        }
        return Float(d)
    }

    func optionalBool(_ key: String) throws(HFLlamaError) -> Bool? {
        guard let value = json[key], value != .null else { return nil }
        guard case .bool(let b) = value else { throw .invalidValue(file: file, key: key, reason: "is \(value), not true or false") }
        return b
    }
}

/// Hugging Face LLaMA-family tensor names to llama.cpp's, as gguf-py's tensor_mapping.py maps
/// them for the `llama`, `qwen2`, `qwen3` and `phi3` architectures (`model.layers.N.self_attn.q_proj.weight` →
/// `blk.N.attn_q.weight`; phi3's fused `self_attn.qkv_proj` → `attn_qkv`, `mlp.gate_up_proj` → `ffn_up`).
public enum HFLlamaTensorNames {
    /// What becomes of one checkpoint tensor.
    public enum Mapping: Equatable, Sendable {
        /// Written under the llama.cpp name; `layer` is N of `blk.N` (nil outside the blocks).
        case tensor(name: String, layer: Int?, role: Role)
        /// Not written: transformers' cached rotary frequencies, which llama.cpp computes itself
        /// (the converter drops them too).
        case dropped
    }

    /// The part a tensor plays, for the shape checks and the q/k permutation.
    public enum Role: String, Sendable, CaseIterable {
        case tokenEmbd = "token_embd", outputNorm = "output_norm", output
        case attnNorm = "attn_norm", attnQ = "attn_q", attnK = "attn_k", attnV = "attn_v", attnOutput = "attn_output"
        case ffnNorm = "ffn_norm", ffnGate = "ffn_gate", ffnUp = "ffn_up", ffnDown = "ffn_down"
        /// Qwen3's per-head norms (`self_attn.q_norm` / `k_norm`).
        case attnQNorm = "attn_q_norm", attnKNorm = "attn_k_norm"
        /// phi3's fused projections: q, k, v rows in one tensor; gate rows then up rows in one
        /// tensor, which llama.cpp names ffn_up (`tensorStem`).
        case attnQKV = "attn_qkv", ffnGateUp = "ffn_gate_up"

        /// The stem of the llama.cpp tensor name (`blk.N.<stem>.weight`).
        public var tensorStem: String { self == .ffnGateUp ? "ffn_up" : rawValue }
        /// phi3's fused projections: only there, and there instead of q/k/v/gate/up.
        public var isFused: Bool { self == .attnQKV || self == .ffnGateUp }

        /// A norm's weight (never a bias, kept in f32).
        var isNorm: Bool { [.attnNorm, .ffnNorm, .attnQNorm, .attnKNorm].contains(self) }
        /// Qwen3's per-head norms: required there, not mapped for the other architectures.
        public var isHeadNorm: Bool { self == .attnQNorm || self == .attnKNorm }
    }

    /// The per-block modules, HF path under `model.layers.N.` to the llama.cpp role.
    static let blockModules: [(hf: String, role: Role)] = [
        ("input_layernorm", .attnNorm), ("self_attn.q_proj", .attnQ), ("self_attn.k_proj", .attnK),
        ("self_attn.v_proj", .attnV), ("self_attn.o_proj", .attnOutput), ("post_attention_layernorm", .ffnNorm),
        ("mlp.gate_proj", .ffnGate), ("mlp.up_proj", .ffnUp), ("mlp.down_proj", .ffnDown),
        ("self_attn.q_norm", .attnQNorm), ("self_attn.k_norm", .attnKNorm),
        ("self_attn.qkv_proj", .attnQKV), ("mlp.gate_up_proj", .ffnGateUp),
    ]

    /// Whether a block of `architecture` holds role `role` (llama.cpp's loader refuses the
    /// others as unused): qwen3's head norms only there, phi3's fused projections only there and
    /// instead of the separate ones.
    public static func blockHolds(_ role: Role, _ architecture: HFLlamaArchitecture) -> Bool {
        if role.isHeadNorm { return architecture.normalizesHeads }
        if architecture.fusesProjections { return ![.attnQ, .attnK, .attnV, .ffnGate, .ffnUp].contains(role) }
        return !role.isFused
    }

    /// The mapping of `name`, or nil when it has no llama.cpp name.
    public static func map(_ name: String) -> Mapping? {
        let (stem, suffix) = split(name)
        guard let suffix else { return nil }
        switch stem {
        case "model.embed_tokens": return suffix == "weight" ? .tensor(name: "token_embd.weight", layer: nil, role: .tokenEmbd) : nil
        case "model.norm": return suffix == "weight" ? .tensor(name: "output_norm.weight", layer: nil, role: .outputNorm) : nil
        case "lm_head": return suffix == "weight" ? .tensor(name: "output.weight", layer: nil, role: .output) : nil
        default: break
        }
        let prefix = "model.layers."
        guard stem.hasPrefix(prefix) else { return nil }
        let rest = stem.dropFirst(prefix.count)
        guard let dot = rest.firstIndex(of: "."), let layer = layerNumber(rest[..<dot]) else { return nil }
        let module = String(rest[rest.index(after: dot)...])
        if module == "self_attn.rotary_emb", suffix == "inv_freq" { return .dropped }
        guard let role = blockModules.first(where: { $0.hf == module })?.role else { return nil }
        // Norms have only a weight; the projections may have a bias (Qwen2's q/k/v, attention_bias).
        guard suffix == "weight" || (suffix == "bias" && !role.isNorm) else { return nil }
        return .tensor(name: "blk.\(layer).\(role.tensorStem).\(suffix)", layer: layer, role: role)
    }

    /// `a.b.weight` → (`a.b`, `weight`).
    static func split(_ name: String) -> (String, String?) {
        guard let dot = name.lastIndex(of: ".") else { return (name, nil) }
        return (String(name[..<dot]), String(name[name.index(after: dot)...]))
    }

    /// A decimal layer number without sign or leading zeros (so one HF name maps to one GGUF name).
    static func layerNumber(_ s: Substring) -> Int? {
        guard !s.isEmpty, s.count <= 6, s.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), s == "0" || s.first != "0" else { return nil }
        return Int(s)
    }
}

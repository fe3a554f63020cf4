import AICompressCore

/// Chooses the ggml type of every tensor the way llama-quantize does for a file type
/// (src/llama-quant.cpp `tensor_allows_quantization`, `llama_tensor_get_type`,
/// `tensor_type_fallback`), written from those rules for the file types aicompress makes.
///
/// Tensors are visited in llama.cpp's order (by `blk.N` layer, then by name; tensors outside a
/// block first), because the attn_v counter follows that order. The layer count is the number of
/// `blk.N` blocks, the grouped-query factor is attn_q's rows over attn_k's (phi3's fused attn_qkv:
/// `groupedQueryFactor`), and a 80-layer model
/// with grouped-query attention is llama.cpp's "70B". Not modelled: mixture-of-experts rules
/// (n_expert > 1) and Falcon's. With an importance matrix (`hasImportance`, llama.cpp's
/// `qs.has_imatrix`) the IQ4_NL/IQ4_XS ffn_down rule is off and Q4_0/Q5_0 files give the first
/// eighth of the ffn_down layers Q4_1/Q5_1.
public struct GGUFTypePlanner: Sendable {
    /// The file type.
    public let fileType: GGUFFileType
    /// One type everywhere it can go (no mix rules; fallbacks still apply).
    public let pure: Bool
    /// `REGEX=TYPE` overrides, first match wins (searched anywhere in the name).
    public let overrides: [(pattern: String, type: GGMLType)]
    /// An importance matrix is given (it changes llama-quantize's ffn_down rules).
    public let hasImportance: Bool

    /// A planner.
    public init(fileType: GGUFFileType, pure: Bool = false, overrides: [(pattern: String, type: GGMLType)] = [],
                hasImportance: Bool = false) {
        self.fileType = fileType
        self.pure = pure
        self.overrides = overrides
        self.hasImportance = hasImportance
    }

    /// One tensor's decision.
    public struct Decision: Sendable, Equatable {
        /// The tensor.
        public let name: String
        /// Its new type, or nil when the tensor is left as it is (1-D, norms, non-weights).
        public let type: GGMLType?
        /// True when the chosen type did not fit the row and a fallback was taken.
        public let fellBack: Bool
    }

    enum Category { case tokenEmbd, attnQ, attnV, attnK, attnQKV, attnKVB, attnOutput, ffnUp, ffnGate, ffnDown, output, other }

    /// The decisions for tensors given by name and row-major shape, in the order given.
    /// - Throws: `PassError.unsupported` when a legacy type has no fallback for a row length
    ///   (llama-quantize refuses those too), `.invalidParameter` for a bad override regex.
    public func plan(_ tensors: [(name: String, shape: [Int])]) throws -> [Decision] {
        let regexes = try overrides.map { o -> (Regex<AnyRegexOutput>, GGMLType) in
            do { return (try Regex(o.pattern), o.type) } catch {
                throw PassError.invalidParameter(name: "tensor-type", value: o.pattern, reason: "`tensor-type` pattern '\(o.pattern)' is not a regular expression: \(error)")
            }
        }
        var state = State()
        state.tied = !tensors.contains { $0.name == "output.weight" }
        state.nAttnV = tensors.filter { [.attnV, .attnQKV, .attnKVB].contains(Self.category($0.name)) }.count
        let layers = Set(tensors.compactMap { Self.layer($0.name) })
        state.nLayer = layers.count
        state.gqa = Self.groupedQueryFactor(tensors)
        state.is70B = state.nLayer == 80 && state.gqa > 1
        let order = tensors.indices.sorted { Self.llamaOrder(tensors[$0].name, tensors[$1].name) }
        var out = [Decision?](repeating: nil, count: tensors.count)
        for i in order {
            out[i] = try decide(tensors[i].name, tensors[i].shape, regexes, &state)
        }
        return out.compactMap { $0 }
    }

    struct State {
        var tied = true, nAttnV = 0, iAttnV = 0, iFfnDown = 0, nLayer = 0, gqa = 1, is70B = false
    }

    private func decide(_ name: String, _ shape: [Int], _ regexes: [(Regex<AnyRegexOutput>, GGMLType)],
                        _ s: inout State) throws -> Decision {
        guard Self.allowsQuantization(name, rank: shape.count) else { return Decision(name: name, type: nil, fellBack: false) }
        let base = fileType.defaultType
        guard base.isQuantized else { return Decision(name: name, type: base, fellBack: false) }
        var type = base
        var manual = false
        for (regex, t) in regexes where (try? regex.firstMatch(in: name)) != nil {
            type = t
            manual = true
            break
        }
        let row = shape.last ?? 1
        if !manual && !pure { type = mixType(type, name, row, &s) }
        let fitted = try Self.fallback(type, row: row, tensor: name)
        return Decision(name: name, type: fitted, fellBack: fitted != type)
    }

    /// `llama_tensor_get_type_impl` for the file types aicompress makes.
    private func mixType(_ base: GGMLType, _ name: String, _ row: Int, _ s: inout State) -> GGMLType {
        let f = fileType.name
        var type = base
        func moreBits(_ i: Int, _ n: Int) -> Bool { i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2 }
        let category = Self.category(name)
        switch category {
        case .output,
             .tokenEmbd where s.tied:
            // The output (or the embedding tied to it): Q6_K unless Q8_0, Q8_0 for odd rows.
            if row % base.blockSize != 0 { type = .q8_0 } else if type != .q8_0 { type = .q6_K }
        case .tokenEmbd:
            break
        case .attnV, .attnQKV, .attnKVB:
            if f == "Q2_K" {
                type = s.gqa >= 4 ? .q4_K : .q3_K
            } else if f == "Q2_K_S" && s.gqa >= 4 {
                type = .q4_K
            } else if f == "Q3_K_M" {
                type = s.iAttnV < 2 ? .q5_K : .q4_K
            } else if f == "Q3_K_L" {
                type = .q5_K
            } else if (f == "IQ4_NL" || f == "IQ4_XS") && s.gqa >= 4 {
                type = .q5_K
            } else if (f == "Q4_K_M" || f == "Q5_K_M") && moreBits(s.iAttnV, s.nAttnV) {
                type = .q6_K
            } else if f == "Q4_K_S" && s.iAttnV < 4 {
                type = .q5_K
            }
            if s.is70B && (type == .q3_K || type == .q4_K) { type = .q5_K }
            // (llama.cpp's own QKV branch comes after this one and is never reached for QKV.)
            s.iAttnV += 1
        case .ffnDown:
            let i = s.iFfnDown, n = s.nLayer
            if f == "Q2_K" {
                type = .q3_K
            } else if f == "Q2_K_S" {
                if i < n / 8 { type = .q4_K }
            } else if f == "Q3_K_M" {
                // llama.cpp's Falcon-only Q3_K branch (not use_more_bits) is not reached here.
                type = i < n / 16 ? .q5_K : .q4_K
            } else if f == "Q3_K_L" {
                type = .q5_K
            } else if f == "Q4_K_M" {
                if moreBits(i, n) { type = .q6_K }
            } else if i < n / 8 && (f == "IQ4_NL" || f == "IQ4_XS") && !hasImportance {
                type = .q5_K
            } else if f == "Q5_K_M" && moreBits(i, n) {
                type = .q6_K
            } else if f == "Q4_K_S" && i < n / 8 {
                type = .q5_K
            } else if (f == "Q4_0" || f == "Q5_0") && hasImportance && i < n / 8 {
                // llama.cpp: a guard against bad first ffn_down layers, only with an imatrix.
                type = f == "Q4_0" ? .q4_1 : .q5_1
            }
            s.iFfnDown += 1
        case .attnOutput:
            // (n_expert == 8 and Falcon have their own rules, not modelled.)
            switch f {
            case "Q2_K": type = .q3_K
            case "Q3_K_M": type = .q4_K
            case "Q3_K_L": type = .q5_K
            default: break
            }
        case .attnQ, .attnK, .ffnUp, .ffnGate, .other:
            break
        }
        return type
    }

    /// `tensor_type_fallback`: a type whose block does not divide the row falls back: a 256-value
    /// K-quant to its 32-value neighbour, and any type whose block still does not divide the row
    /// (rows not a multiple of 32) to F16, as llama-quantize does.
    /// - Throws: `PassError.unsupported` for a type llama-quantize has no fallback for.
    static func fallback(_ type: GGMLType, row: Int, tensor: String) throws -> GGMLType {
        guard row % type.blockSize != 0 else { return type }
        let next: GGMLType
        switch type {
        case .iq4_XS: next = .iq4_NL
        case .q2_K, .q3_K: next = .q4_0
        case .q4_K: next = .q5_0
        case .q5_K: next = .q5_1
        case .q6_K: next = .q8_0
        default:
            // A 32-value type has no smaller block to demote to: F16 below.
            guard type.blockSize <= 32 else {
                throw PassError.unsupported(tensor: tensor, reason: "rows of \(row) values are not whole \(type) blocks of \(type.blockSize), and llama-quantize defines no fallback for \(type)")
            }
            next = type
        }
        return row % next.blockSize == 0 ? next : .f16
    }

    /// llama.cpp's `n_gqa()` (query heads per kv head) from the shapes: attn_q's rows over
    /// attn_k's; with a fused attn_qkv (phi3), q is attn_output's input width and k the rest of
    /// attn_qkv's rows halved (q, k, v rows; k and v alike). 1 when neither is there.
    static func groupedQueryFactor(_ tensors: [(name: String, shape: [Int])]) -> Int {
        func rows(_ suffix: String) -> Int? { tensors.first { $0.name.hasSuffix(suffix) }?.shape.first }
        if let q = rows("attn_q.weight"), let k = rows("attn_k.weight"), k > 0 { return q / k }
        let output = tensors.first { $0.name.hasSuffix("attn_output.weight") && $0.shape.count == 2 }?.shape.last
        if let qkv = rows("attn_qkv.weight"), let q = output, qkv > q, (qkv - q) % 2 == 0 { return q / ((qkv - q) / 2) }
        return 1
    }

    /// `tensor_allows_quantization`: 2-D or more, a `…weight`, not a norm, gate-input, position
    /// or token-type embedding (the rules that concern LLaMA-family files).
    static func allowsQuantization(_ name: String, rank: Int) -> Bool {
        guard rank >= 2, name.hasSuffix("weight") else { return false }
        let refused = ["_norm.weight", "ffn_gate_inp.weight", "altup", "laurel", "per_layer_model_proj", "ssm_conv1d",
                       "shortconv.conv.weight", "attn_rel_b.weight", ".position_embd", ".rel_pos", ".patch_embd",
                       "time_mix_first.weight", "time_mix_w0.weight", "time_mix_w1.weight", "time_mix_w2.weight"]
        if refused.contains(where: { name.contains($0) }) { return false }
        return name != "position_embd.weight" && name != "token_types.weight"
    }

    static func category(_ name: String) -> Category {
        if name == "output.weight" { return .output }
        if name == "token_embd.weight" || name == "per_layer_token_embd.weight" { return .tokenEmbd }
        let table: [(String, Category)] = [
            ("attn_qkv.weight", .attnQKV), ("attn_kv_b.weight", .attnKVB), ("attn_v.weight", .attnV),
            ("attn_k.weight", .attnK), ("attn_q.weight", .attnQ), ("attn_output.weight", .attnOutput),
            ("ffn_up", .ffnUp), ("ffn_gate", .ffnGate), ("ffn_down", .ffnDown),
        ]
        return table.first { name.contains($0.0) }?.1 ?? .other
    }

    /// The N of a `blk.N.` name (sscanf "blk.%d." semantics: digits after `blk.`).
    static func layer(_ name: String) -> Int? {
        guard name.hasPrefix("blk.") else { return nil }
        let digits = name.dropFirst(4).prefix { $0.isASCII && $0.isNumber }
        return Int(digits)
    }

    /// llama.cpp's `weight_name_comparer`: by layer (-1 outside blocks), then bytewise by name.
    static func llamaOrder(_ a: String, _ b: String) -> Bool {
        let la = layer(a) ?? -1, lb = layer(b) ?? -1
        if la != lb { return la < lb }
        return a.utf8.lexicographicallyPrecedes(b.utf8)
    }
}

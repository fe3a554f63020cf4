/// The row-major shape config.json implies for each llama.cpp tensor role, and the tensors
/// llama.cpp's loader requires (llama-model.cpp, `LLM_ARCH_LLAMA` / `LLM_ARCH_QWEN2`,
/// models/qwen3.cpp).
struct HFLlamaShapes {
    let config: HFLlamaConfig

    init(_ config: HFLlamaConfig) { self.config = config }

    /// `[out, in]` of a weight, `[out]` of a bias or norm.
    func shape(_ role: HFLlamaTensorNames.Role, bias: Bool) -> [Int] {
        let c = config
        let e = c.embeddingLength, q = c.headCount * c.headDim, kv = c.headCountKV * c.headDim, ff = c.feedForwardLength
        let w: [Int]
        switch role {
        case .tokenEmbd, .output: w = [c.vocabSize, e]
        case .outputNorm, .attnNorm, .ffnNorm: return [e]
        case .attnQNorm, .attnKNorm: return [c.headDim]
        case .attnQ: w = [q, e]
        case .attnK, .attnV: w = [kv, e]
        case .attnOutput: w = [e, q]
        case .ffnGate, .ffnUp: w = [ff, e]
        case .ffnDown: w = [e, ff]
        case .attnQKV: w = [q + 2 * kv, e]
        case .ffnGateUp: w = [2 * ff, e]
        }
        return bias ? [w[0]] : w
    }

    /// The first weight llama.cpp needs that `present` lacks (biases are optional); `output`
    /// unless tied to the embedding. Stops at the first gap, so a config claiming billions of
    /// layers costs one pass over the layers the checkpoint has.
    func firstMissing(_ present: Set<String>, tied: Bool) -> String? {
        for name in ["token_embd.weight", "output_norm.weight"] + (tied ? [] : ["output.weight"]) where !present.contains(name) {
            return name
        }
        for layer in 0..<config.blockCount {
            for (_, role) in HFLlamaTensorNames.blockModules where !present.contains("blk.\(layer).\(role.tensorStem).weight") {
                if !HFLlamaTensorNames.blockHolds(role, config.architecture) { continue }
                return "blk.\(layer).\(role.tensorStem).weight"
            }
        }
        return nil
    }
}

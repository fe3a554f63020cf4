/// The `general.*` and architecture keys of a converted checkpoint, typed and ordered as
/// llama.cpp's converter writes them (`TextModel.set_gguf_parameters`, `LlamaModel`'s
/// vocab size and rope dimension count).
enum HFLlamaKeys {
    static func pairs(_ c: HFLlamaConfig, name: String, fileType: UInt32) -> [GGUFKeyValue] {
        let a = c.architecture.ggufName
        func u32(_ key: String, _ v: Int) -> GGUFKeyValue { GGUFKeyValue("\(a).\(key)", .uint32(UInt32(v))) }
        var out: [GGUFKeyValue] = [
            GGUFKeyValue("general.architecture", .text(a)),
            GGUFKeyValue("general.type", .text("model")),
            GGUFKeyValue("general.name", .text(name)),
            u32("block_count", c.blockCount),
        ]
        if let n = c.contextLength { out.append(u32("context_length", n)) }
        out += [
            u32("embedding_length", c.embeddingLength),
            u32("feed_forward_length", c.feedForwardLength),
            u32("attention.head_count", c.headCount),
            u32("attention.head_count_kv", c.headCountKV),
        ]
        if let f = c.linearRopeFactor {
            out.append(GGUFKeyValue("\(a).rope.scaling.type", .text("linear")))
            out.append(GGUFKeyValue("\(a).rope.scaling.factor", .float32(f)))
        }
        out += [
            GGUFKeyValue("\(a).rope.freq_base", .float32(c.ropeTheta)),
            GGUFKeyValue("\(a).attention.layer_norm_rms_epsilon", .float32(c.rmsNormEps)),
        ]
        if c.explicitHeadDim {
            out.append(u32("attention.key_length", c.headDim))
            out.append(u32("attention.value_length", c.headDim))
        }
        if c.architecture.fusesProjections {
            // Phi3MiniModel.set_gguf_parameters: the window (0: none), the original context.
            out.append(u32("attention.sliding_window", c.slidingWindow))
            if let n = c.originalContextLength { out.append(u32("rope.scaling.original_context_length", n)) }
        }
        out += [
            GGUFKeyValue("general.file_type", .uint32(fileType)),
            u32("vocab_size", c.vocabSize),
            u32("rope.dimension_count", c.headDim),
            GGUFKeyValue("general.quantization_version", .uint32(GGUFModelMetadata.quantizationVersion)),
        ]
        return out
    }
}

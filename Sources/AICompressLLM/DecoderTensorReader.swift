import AICompressCore

/// Reads a decoder's tensors from a model by GGUF name, checking each shape against the
/// configuration (`DecoderWeights`), and phi3's blocks with their fused projections.
struct DecoderTensorReader {
    let model: Model

    func tensor(_ name: String) throws(LLMError) -> Tensor {
        guard let t = model.tensor(named: name) else { throw .missingTensor(name) }
        return t
    }

    /// The 2-D tensor `name` as a `rows × cols` matrix.
    func matrix(_ name: String, _ rows: Int, _ cols: Int) throws(LLMError) -> WeightMatrix {
        let t = try tensor(name), m = try WeightMatrix(t)
        guard m.rows == rows, m.columns == cols, t.shape.dims.count == 2 else {
            throw .tensorShape(tensor: name, expected: [rows, cols], actual: t.shape.dims)
        }
        return m
    }

    /// The 1-D tensor `name` of `n` values; nil when it is absent and `optional`.
    func vector(_ name: String, _ n: Int, optional: Bool = false) throws(LLMError) -> [Float]? {
        guard let t = model.tensor(named: name) else {
            if optional { return nil }
            throw .missingTensor(name)
        }
        let m = try WeightMatrix(t)
        guard t.shape.dims == [n] else { throw .tensorShape(tensor: name, expected: [n], actual: t.shape.dims) }
        return m.row(0)
    }

    /// Rows `range` of the matrix of `t`: a view of the same stored bytes (ggml blocks run
    /// along rows, so any run of whole rows is a valid tensor of the same type).
    static func rows(_ t: Tensor, _ m: WeightMatrix, _ range: Range<Int>, suffix: String) throws(LLMError) -> WeightMatrix {
        guard let data = TensorData(buffer: t.data.buffer, offset: t.data.offset + range.lowerBound * m.rowBytes,
                                    count: range.count * m.rowBytes) else {
            throw .tensorEncoding(tensor: t.name, reason: "rows \(range) are outside its \(t.data.count) bytes")
        }
        do {
            return try WeightMatrix(try Tensor(name: "\(t.name)[\(suffix)]", dtype: t.dtype, shape: Shape([range.count, m.columns]),
                                               encoding: t.encoding, data: data))
        } catch let e as LLMError {
            throw e
        } catch {
            throw .tensorEncoding(tensor: t.name, reason: "rows \(range): \(error)")
        }
    }

    /// Block `i` of a phi3 model, as llama.cpp's `llama_model_phi3` loads it: attn_norm, either
    /// one fused attn_qkv `[(q + 2·kv) × n_embd]` (optional fused bias, or separate q/k/v biases)
    /// or separate attn_q/k/v, attn_output `[n_embd × n_embd]`, ffn_norm, ffn_up
    /// `[2·n_ff × n_embd]` holding the gate rows then the up rows, and ffn_down. Any other block
    /// tensor (a bias llama.cpp's phi3 graph does not add, an ffn_gate beside the fused up, q/k/v
    /// beside attn_qkv) makes llama.cpp's loader refuse the file, and is refused here.
    func fusedLayer(_ i: Int, _ c: DecoderConfig) throws(LLMError) -> DecoderLayer {
        let p = "blk.\(i).", e = c.embedding, q = c.queryWidth, kv = c.kvWidth, ff = c.feedForward
        let fusedName = p + "attn_qkv.weight"
        var fused: WeightMatrix? = nil, fusedBias: [Float]? = nil
        let query: WeightMatrix, key: WeightMatrix, value: WeightMatrix
        var qb: [Float]? = nil, kb: [Float]? = nil, vb: [Float]? = nil
        if let t = model.tensor(named: fusedName) {
            for part in ["attn_q.weight", "attn_k.weight", "attn_v.weight"] where model.tensor(named: p + part) != nil {
                throw .unsupportedTensor(tensor: p + part, reason: "is beside the fused \(fusedName); \(c.architecture) has one or the other")
            }
            let m = try matrix(fusedName, q + 2 * kv, e)
            query = try Self.rows(t, m, 0..<q, suffix: "q")
            key = try Self.rows(t, m, q..<(q + kv), suffix: "k")
            value = try Self.rows(t, m, (q + kv)..<(q + 2 * kv), suffix: "v")
            fused = m
            fusedBias = try vector(p + "attn_qkv.bias", q + 2 * kv, optional: true)
            if let b = fusedBias {
                qb = Array(b[0..<q])
                kb = Array(b[q..<(q + kv)])
                vb = Array(b[(q + kv)...])
            }
        } else {
            query = try matrix(p + "attn_q.weight", q, e)
            key = try matrix(p + "attn_k.weight", kv, e)
            value = try matrix(p + "attn_v.weight", kv, e)
        }
        if fusedBias == nil {
            // llama.cpp adds separate q/k/v biases only when all three are there.
            let b = (try vector(p + "attn_q.bias", q, optional: true), try vector(p + "attn_k.bias", kv, optional: true),
                     try vector(p + "attn_v.bias", kv, optional: true))
            if let x = b.0, let y = b.1, let z = b.2 {
                (qb, kb, vb) = (x, y, z)
                if fused != nil { fusedBias = x + y + z }
            } else if let present = [("attn_q.bias", b.0), ("attn_k.bias", b.1), ("attn_v.bias", b.2)].first(where: { $0.1 != nil }) {
                throw .unsupportedTensor(tensor: p + present.0, reason: "is without the other q/k/v biases, which \(c.architecture) adds only together")
            }
        }
        for unused in ["attn_output.bias", "ffn_gate.weight", "ffn_gate.bias", "ffn_up.bias", "ffn_down.bias", "attn_qkv.bias"]
            where model.tensor(named: p + unused) != nil && !(unused == "attn_qkv.bias" && fused != nil) {
            throw .unsupportedTensor(tensor: p + unused, reason: "is not used by llama.cpp's \(c.architecture) graph (its loader refuses the file)")
        }
        for unused in ["rope_factors_long.weight", "rope_factors_short.weight"] where model.tensor(named: unused) != nil {
            throw .unsupportedTensor(tensor: unused, reason: "LongRoPE (context-dependent frequency factors) is not computed")
        }
        if model.tensor(named: "rope_freqs.weight") != nil {
            throw .unsupportedTensor(tensor: "rope_freqs.weight", reason: "is not used by llama.cpp's \(c.architecture) graph (its loader refuses the file)")
        }
        let upName = p + "ffn_up.weight", upTensor = try tensor(upName)
        let gateUp = try matrix(upName, 2 * ff, e)
        var layer = DecoderLayer(
            attentionNorm: try vector(p + "attn_norm.weight", e) ?? [],
            query: query, key: key, value: value, output: try matrix(p + "attn_output.weight", e, q),
            queryBias: qb, keyBias: kb, valueBias: vb, outputBias: nil,
            ffnNorm: try vector(p + "ffn_norm.weight", e) ?? [],
            gate: try Self.rows(upTensor, gateUp, 0..<ff, suffix: "gate"), up: try Self.rows(upTensor, gateUp, ff..<(2 * ff), suffix: "up"),
            down: try matrix(p + "ffn_down.weight", e, ff),
            gateBias: nil, upBias: nil, downBias: nil)
        layer.fusedQKV = fused
        layer.fusedQKVBias = fusedBias
        layer.fusedGateUp = gateUp
        return layer
    }
}

import AICompressCore
import AICompressLLM
import AICompressPasses
import AICompressTraining
import ArgumentParser

/// How `quantize --gguf TYPE --method gptq` encodes an untied token_embd (the lookup table, which
/// no calibration input multiplies): `gptq` runs GPTQ into its planned type on the Gram matrix of
/// what block 0 does with an error in the residual stream (`embeddingGram`); `rtn` rounds it to
/// nearest, as before; `auto` (the default) is `gptq`. A token_embd tied to the output head is
/// the head's (`--head`).
enum GPTQEmbedding: String, CaseIterable, ExpressibleByArgument, Sendable {
    case auto, rtn, gptq

    /// Whether an untied token_embd goes through GPTQ.
    var calibrates: Bool { self != .rtn }
}

extension QuantizeGGUF.GPTQ {
    /// The Gram matrix GPTQ weighs an embedding row's error by: a change δ of a row enters the
    /// residual stream, and block 0's projections read it through their RMSNorm as W·(g ⊙ δ)/rms
    /// (q, k, v through attn_norm; gate and up through ffn_norm, δ passing the attention's
    /// residual unchanged). So the output error of those five projections is δᵀ G δ / rms² with
    /// G = Σ_p diag(g_p) W_pᵀ W_p diag(g_p) / rows_p (each projection's mean squared output error,
    /// as GPTQ's loss is for a layer). rms is one number per token, the same for every column of
    /// its row, so it does not change GPTQ's choices and is left out. Computed from the weights
    /// only, in row chunks through BLAS.gemm, accumulated in Double.
    static func embeddingGram(_ lm: LanguageModel) -> [Double] {
        let first = lm.decoder.weights.layers[0], n = lm.decoder.weights.embedding.columns
        var gram = [Double](repeating: 0, count: n * n)
        let consumers = [(first.attentionNorm, first.query), (first.attentionNorm, first.key), (first.attentionNorm, first.value),
                         (first.ffnNorm, first.gate), (first.ffnNorm, first.up)]
        var product = [Float](repeating: 0, count: n * n)
        for (norm, w) in consumers where w.columns == n && norm.count == n {
            let chunk = max(1, min(w.rows, (1 << 22) / n))
            var rows = [Float](repeating: 0, count: chunk * n)
            let scale = 1 / Double(w.rows)
            for start in stride(from: 0, to: w.rows, by: chunk) {
                let count = min(chunk, w.rows - start)
                rows.withUnsafeMutableBufferPointer { r in
                    w.decodeRows(start..<(start + count), into: r.baseAddress!)
                    for i in 0..<count { for j in 0..<n { r[i * n + j] *= norm[j] } }
                }
                BLAS.gemm(transA: true, transB: false, m: n, n: n, k: count, rows, rows, into: &product)
                for i in 0..<(n * n) { gram[i] += scale * Double(product[i]) }
            }
        }
        return gram
    }

    /// GPTQ on the untied token_embd of `lm` into `type`, on `embeddingGram`; the importance the
    /// type's scale search weighs columns by is that matrix's diagonal. The rows are decoded and
    /// swept `chunkRows` at a time (default about 64 MiB of f32), with the same bytes.
    /// - Throws: `PassError` when GPTQ into `type` is not built, the rows are not whole blocks or
    ///   the matrix is not positive definite.
    static func quantizeEmbedding(_ lm: LanguageModel, type: GGMLType, damp: Double, actOrder: Bool,
                                  chunkRows: Int? = nil) throws -> Tensor {
        let name = "token_embd.weight"
        let gptq: GGMLGPTQ
        do { gptq = try GGMLGPTQ(type: type, dampFraction: damp, actOrder: actOrder) } catch { throw Self.unsupported(name, type) }
        let e = lm.decoder.weights.embedding, n = e.columns
        let gram = embeddingGram(lm)
        let importance = (0..<n).map { Float(gram[$0 * n + $0]) }
        // Row chunks (`GGMLGPTQ.quantizeInChunks`): the table is never whole in f32.
        let r = try gptq.quantizeInChunks(rows: e.rows, columns: n, gram: gram, importance: importance, layer: name,
                                          chunkRows: chunkRows) { e.decodeRows($0, into: $1) }
        return try Tensor(name: name, dtype: .f32, shape: Shape([e.rows, n]), encoding: .ggml(type), data: TensorData(bytes: r.bytes))
    }
}

extension QuantizeGGUF.GPTQ {
    /// The type GPTQ encodes token_embd into, or nil to round it: an untied token_embd with a
    /// quantized planned type that GPTQ has a grid for (`auto` rounds it otherwise; `gptq` refuses).
    /// - Throws: `PassError.invalidParameter` for `gptq` on a tied embedding (the head's: `head`)
    ///   or a type GPTQ does not encode into.
    static func embeddingType(_ mode: GPTQEmbedding, model: Model, types: [String: GGMLType]) throws -> GGMLType? {
        let name = "token_embd.weight"
        guard mode.calibrates, model.tensor(named: name) != nil else { return nil }
        guard model.tensor(named: "output.weight") != nil else {
            if mode == .gptq {
                throw PassError.invalidParameter(name: "embedding", value: "gptq", reason: "\(name) is tied to the output head; `head` decides how it is encoded")
            }
            return nil
        }
        guard let type = types[name], type.isQuantized else { return nil }
        guard GGMLGPTQ.supports(type) else {
            if mode == .gptq { throw Self.unsupported(name, type) }
            return nil
        }
        return type
    }
}

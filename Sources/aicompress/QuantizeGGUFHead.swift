import AICompressCore
import AICompressLLM
import AICompressPasses
import ArgumentParser

/// How `quantize --gguf TYPE --method gptq` encodes the output head (output.weight, or
/// token_embd when the embedding is tied to it): `gptq` calibrates it past the last block
/// (the final norm of the compressed blocks' output) and runs GPTQ into its planned type;
/// `rtn` rounds it to nearest, as before the head was calibrated; `auto` (the default) is `gptq`
/// for output.weight and `rtn` for a tied token_embd, which is also the lookup table (on the
/// trained model GPTQ lowered output.weight's share of the KLD but raised a tied token_embd's:
/// BENCHMARKS.md, "GPTQ on the output head").
enum GPTQHead: String, CaseIterable, ExpressibleByArgument, Sendable {
    case auto, rtn, gptq

    /// Whether the head `name` goes through GPTQ.
    func calibrates(_ name: String) -> Bool { self == .gptq || (self == .auto && name == "output.weight") }
}

extension QuantizeGGUF.GPTQ {
    /// The head tensor of `model`: output.weight, or token_embd.weight when there is none (tied).
    static func headName(_ model: Model) -> String {
        model.tensor(named: "output.weight") != nil ? "output.weight" : "token_embd.weight"
    }

    /// GPTQ on the head `name` of `lm` into `type`, on its statistics past the last block, its
    /// rows decoded and swept `chunkRows` at a time (default about 64 MiB of f32), same bytes;
    /// towards the unchanged model's logits when the statistics carry ΔᵀX (dense targets).
    /// - Throws: `PassError` when GPTQ into `type` is not built, the rows are not whole blocks
    ///   or the Hessian is not positive definite.
    static func quantizeHead(_ lm: LanguageModel, name: String, type: GGMLType, statistics s: DecoderHeadStatistics,
                             damp: Double, actOrder: Bool, chunkRows: Int? = nil) throws -> [String: Tensor] {
        guard let gram = s.gram else { return [:] }
        let gptq: GGMLGPTQ
        do { gptq = try GGMLGPTQ(type: type, dampFraction: damp, actOrder: actOrder) } catch { throw Self.unsupported(name, type) }
        let w = lm.decoder.weights.output
        // Row chunks (`GGMLGPTQ.quantizeInChunks`): the head is never whole in f32. With dense
        // targets (ΔᵀX gathered) the head fits the unchanged model's logits, as a block
        // projection fits the unchanged block's outputs.
        let r = try gptq.quantizeInChunks(rows: w.rows, columns: w.columns, gram: gram, importance: s.meanSquares, layer: name,
                                          chunkRows: chunkRows, cross: s.cross) { w.decodeRows($0, into: $1) }
        return [name: try Tensor(name: name, dtype: .f32, shape: Shape([w.rows, w.columns]), encoding: .ggml(type),
                                 data: TensorData(bytes: r.bytes))]
    }
}

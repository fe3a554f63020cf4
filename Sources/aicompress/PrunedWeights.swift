import AICompressCore
import AICompressFormats
import AICompressLLM
import AICompressPasses

/// `quantize --method gptq` on a pruned model: GPTQ's sweep moves every weight not yet rounded to
/// make up for the rounding error of those before it, pruned zeros included, and the quantized
/// tensor it writes is not sparse, so the pruning would be lost without a word. The input is
/// refused instead, before any calibration runs, when a weight GPTQ would sweep is stored sparse
/// (spec §5 encodings 3 and 4) or more than `maxZeroShare` of its values are exactly zero.
enum PrunedWeights {
    /// The share of exact zeros above which a dense weight counts as pruned (trained weights
    /// have next to none: a float weight is exactly 0 by pruning, not by chance).
    static let maxZeroShare = 0.3

    /// A weight that counts as pruned.
    struct Finding: Equatable {
        let tensor: String
        /// Its share of exact zeros.
        let sparsity: Double
        /// Stored sparse (encoding 3 or 4).
        let storedSparse: Bool
    }

    /// The first of `names` (in model order) in `model` that counts as pruned, or nil.
    static func first(in model: Model, names: Set<String>) -> Finding? {
        for t in model.tensors where names.contains(t.name) {
            let sparse: Bool
            switch t.encoding {
            case .sparse, .sparseQuantized: sparse = true
            default: sparse = false
            }
            let share = t.statistics().sparsity
            t.data.dropPages()  // scanned before any block runs: its mapped pages need not stay resident until its block
            if sparse || share > maxZeroShare { return Finding(tensor: t.name, sparsity: share, storedSparse: sparse) }
        }
        return nil
    }

    /// Refuses (exit 64) when a weight of `names` counts as pruned; `instead` says what to run.
    static func refuse(_ model: Model, names: Set<String>, input: String, instead: String) throws {
        guard let f = first(in: model, names: names) else { return }
        let share = Format.printf("%.1f", f.sparsity * 100)
        throw ExitStatus.Failure(code: ExitStatus.usage, message: "\(input == "-" ? "<stdin>" : input): tensor '\(f.tensor)' is pruned "
            + "(\(share)% exact zeros\(f.storedSparse ? ", stored sparse" : "")): --method gptq moves pruned weights to make up for "
            + "rounding errors and writes no sparsity, so the pruning would be lost; \(instead)")
    }

    /// The weights `quantize --method gptq` sweeps in a graph model: those of the selected
    /// Gemm/MatMul nodes (`CalibratedLayer`).
    static func graphWeights(_ model: Model, selection: TensorSelection) -> Set<String> {
        let embeddings = TensorSelection.embeddingNames(in: model.graph)
        return Set(CalibratedLayer.find(in: model) { selection.selects($0, embeddings: embeddings) }.map(\.weight))
    }

    /// What to run instead on a graph model.
    static let graphAdvice = "use prune --method sparsegpt --quantize SCHEME (pruning and quantization in one sweep that keeps "
        + "the mask, stored sparse and quantized), or --method rtn"

    /// The weights `quantize --gguf TYPE --method gptq` sweeps: every block projection planned
    /// into a block type (`blk.N.attn_q.weight`, …), the head when GPTQ calibrates it, and an
    /// untied token_embd when GPTQ runs on it (`embedding`).
    static func ggufWeights(_ model: Model, pass: GGUFQuantize, head: GPTQHead, embedding: GPTQEmbedding = .rtn) throws -> Set<String> {
        let headName = QuantizeGGUF.GPTQ.headName(model)
        let embeddingName = model.tensor(named: "output.weight") != nil && embedding.calibrates ? "token_embd.weight" : nil
        var names = Set<String>()
        for (t, p) in zip(model.tensors, try pass.plan(model)) where p.decision.type?.isQuantized == true {
            let projection = ActivationSite.isProjection(t.name)
            if projection || (t.name == headName && head.calibrates(headName)) || t.name == embeddingName { names.insert(t.name) }
        }
        return names
    }

    /// What to run instead on a GGUF model (no joint mode for language models, no sparse GGUF).
    static let ggufAdvice = "quantize it with --method rtn, or run GPTQ on the model before pruning it"
}

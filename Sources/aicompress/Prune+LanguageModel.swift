import AICompressCore
import AICompressFormats
import AICompressLLM
import AICompressPasses
import Foundation

/// `prune` on LLaMA-family language models: which inputs are ones, the tensors pruned by
/// default (the seven projections of every block, never the embedding or the output
/// projection), and the calibrated run through `LanguageModelPrune`.
extension AICompress.Prune {
    /// A language-model input: the file read and, for a Hugging Face checkpoint, the checkpoint
    /// file its side files sit beside.
    struct LanguageModelInput {
        let huggingFace: String?
    }

    /// The block projections by GGUF name and by Hugging Face name (a checkpoint written as
    /// GGUF is renamed before the pass sees it; one written as safetensors keeps its names).
    static let projectionGlobs = ActivationSite.Kind.allCases.map { "blk.*.\($0.rawValue).weight" } + [
        "model.layers.*.self_attn.q_proj.weight", "model.layers.*.self_attn.k_proj.weight", "model.layers.*.self_attn.v_proj.weight",
        "model.layers.*.self_attn.o_proj.weight", "model.layers.*.mlp.gate_proj.weight", "model.layers.*.mlp.up_proj.weight",
        "model.layers.*.mlp.down_proj.weight",
    ]

    /// The input as a language model, or nil when it is not one (standard input, a graph
    /// model, tensors without llama.cpp's or Hugging Face's block names).
    static func languageModelInput(_ path: String) throws -> LanguageModelInput? {
        guard path != "-" else { return nil }
        let entry = try ModelIO.modelPath(path)
        let loaded = try ModelIO.read(path: entry)
        guard loaded.model.graph == nil else { return nil }
        let isProjection: (String) -> Bool = { name in projectionGlobs.contains { TensorSelection.glob($0, name) } }
        guard loaded.model.tensors.contains(where: { isProjection($0.name) }) else { return nil }
        if loaded.format == .safetensors {
            let side = FolderSideFiles(besides: entry)
            guard (try? side.open("config.json")) != nil else { return nil }
            return LanguageModelInput(huggingFace: entry)
        }
        return LanguageModelInput(huggingFace: nil)
    }

    /// Runs `--method wanda|sparsegpt` on a language model with text calibration.
    func runLanguageModel(_ input: LanguageModelInput, method: LinearLayerPruning.Method, path: String) throws {
        let bytes = try InputFile(path: path).buffer.withUnsafeBytes { Array($0) }
        let interactive = FileHandleOutput.stderrIsInteractive && !report.quiet
        var pass = LanguageModelPrune(method: method, pattern: try calibratedPattern(), text: bytes, textPath: path,
                                      options: calibration.textOptions(gram: method == .sparsegpt, denseTargets: method == .sparsegpt),
                                      huggingFace: input.huggingFace)
        pass.progress = { done, total in
            guard interactive else { return }
            // Drawn as the block starts, so it shows while the block runs.
            FileHandleOutput.stderr("\r\u{1B}[K" + (done < total ? "prune: \(method.rawValue) block \(done + 1)/\(total)" : ""))
        }
        let step = CalibratedStep.prune(method: method.rawValue, pattern: pass.pattern, denseTargets: pass.options.denseTargets,
                                        calibration: try calibration.recipeOptions(text: true))
        // The checkpoint entry, not the folder: PassRunner reads what `evaluate` reads.
        let source = input.huggingFace ?? files.input
        try PassRunner.run(pass, input: source, output: files.output, out: out, report: report,
                           recipe: [step])
    }
}

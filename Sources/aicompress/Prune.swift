import AICompressCore
import AICompressFormats
import AICompressPasses
import ArgumentParser

private typealias P = Prune.Parameter

extension AICompress {
    /// `aicompress prune`: magnitude, N:M and channel pruning. Option names and help come from
    /// `Prune.Parameter`; the pass checks the values.
    struct Prune: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "prune",
            abstract: "Prune weights: by magnitude, N:M semi-structured, or whole channels.",
            discussion: """
                Magnitude pruning keeps exactly round(keep × n) weights with the largest |w| (ties \
                to the earlier weight), per tensor or with one threshold over all selected tensors \
                (--scope global), found by a linear-time radix select. --pattern N:M keeps the N \
                largest of every M consecutive weights along the input (reduction) axis: MatMul \
                [K,N] along K, Gemm by transB, Conv along input channels, [out, in] without a graph. \
                --pattern channels removes the output channels with the smallest L1/L2 norm and, \
                with a graph, the matching inputs of the next layer, so the model gets smaller and \
                faster and still runs (branches, residual Adds and Concats are refused). Pruned \
                tensors are stored sparse (bitmask + values) in .ckpt when that is smaller; 1-D \
                tensors and embeddings are left alone unless selected.

                Examples:
                  aicompress prune --keep 0.3 model.ckpt pruned.ckpt
                  aicompress prune --sparsity 0.7 --scope global model.onnx pruned.onnx
                  aicompress prune --pattern 2:4 model.safetensors sparse24.safetensors
                  aicompress prune --pattern channels --keep 0.5 --norm l2 model.onnx thin.onnx
                  aicompress prune --scope global --keep 0.3 --shard 2/4 --stats m.index.json t.prune-threshold
                  aicompress prune --keep 0.5 model.onnx - | aicompress quantize --int8 - small.ckpt
                  aicompress prune --method sparsegpt --sparsity 0.5 --calibration train.csv model.onnx sparse.ckpt
                  aicompress prune --method sparsegpt --keep 0.5 --quantize int4 --calibration d.csv m.onnx q.ckpt

                Data-aware methods (--method wanda or sparsegpt, with --calibration) prune the \
                weights of Gemm and MatMul nodes one layer at a time, each layer seeing the outputs \
                of the layers already pruned: Wanda removes the smallest |w|·‖x‖ of each output row; \
                SparseGPT chooses by saliency and updates the remaining weights of the row to make \
                the layer's output match the dense model's (a Gemm's bias is refitted too). --sparsity/--keep apply to each output row (Wanda) or to \
                each block of 128 inputs over all rows (SparseGPT); --pattern N:M to every row. \
                With --scope global the layers together keep round(keep × their weights), each \
                its share by its measured error curve (the summed relative output error is made \
                least; spec/calibrated-pruning.md); --allocation output then searches from that split \
                for the one whose pruned model's output is closest to the dense model's on the \
                calibration data (up to 8 + 4 per layer prunes of the model; each split measured is \
                printed). \
                SparseGPT with --quantize SCHEME (int8, uint8, int4, uint4; --group-size N) also \
                rounds the kept weights onto the scheme's grid in the same sweep, compensating the \
                rounding as it compensates the pruning; the layers are stored sparse + quantized \
                (.ckpt encoding 4), other selected tensors are rounded to nearest, and ONNX output \
                holds the same values as QuantizeLinear/DequantizeLinear pairs.

                Language models (LLaMA-family GGUF, or a Hugging Face folder or safetensors file \
                with config.json): only the seven projections of every block are pruned (attn_q, \
                attn_k, attn_v, attn_output, ffn_gate, ffn_up, ffn_down; magnitude per tensor unless \
                --include says otherwise), and each keeps its stored type (F32, F16, BF16). With \
                --method wanda or sparsegpt, --calibration is a UTF-8 text, tokenized with the \
                model's tokenizer into --calibration-chunks sequences of --calibration-tokens \
                tokens; the blocks are pruned one at a time, each on the outputs of the blocks \
                already pruned.
                  aicompress prune --method wanda --keep 0.5 --calibration calib.txt model-f16.gguf wanda.gguf
                """
        )

        @Option(name: .parameter(P.keep), help: ArgumentHelp(P.keep))
        var keep: Double?

        @Option(name: .parameter(P.sparsity), help: ArgumentHelp(P.sparsity))
        var sparsity: Double?

        @Option(name: .parameter(P.scope), help: ArgumentHelp(P.scope))
        var scope: AICompressPasses.Prune.Scope = .tensor

        @Option(name: .parameter(P.pattern), help: ArgumentHelp(P.pattern))
        var pattern: String?

        @Option(name: .parameter(P.norm), help: ArgumentHelp(P.norm))
        var norm: AICompressPasses.Prune.Norm = .l2

        @Option(help: "magnitude; or wanda or sparsegpt, which need --calibration.")
        var method: PruneMethod = .magnitude

        @Option(help: ArgumentHelp("With --scope global and --method wanda|sparsegpt: curves shares the budget by each layer's error curve; output then searches from that split for the least model output error on the calibration data (up to 8 + 4 per layer prunes of the whole model).", valueName: "curves|output"))
        var allocation: CalibratedPrune.Allocation = .curves

        @Option(name: .parameter(SparseGPTQuantize.Parameter.quantize), help: ArgumentHelp(SparseGPTQuantize.Parameter.quantize))
        var quantize: String?

        @Option(name: .parameter(AICompressPasses.Quantize.Parameter.groupSize),
                help: "With --quantize: one scale per group of N weights along the input axis (default: the scheme's, 32 for 4-bit).")
        var groupSize: Int?

        @OptionGroup var calibration: CalibrationOptions

        @OptionGroup var selection: SelectionOptions
        @OptionGroup var report: ReportOptions
        @OptionGroup var out: OutputOptions
        @OptionGroup var shard: ShardOptions
        @OptionGroup var global: GlobalShardOptions

        @OptionGroup var files: InputOutputArguments

        /// The command line as the pass's parameter values (checked by `AICompressPasses.Prune(parameters:)`).
        var parameters: PassParameters { parameters(languageModel: false) }

        /// The parameter values; on a language model without `--include` the selection is the
        /// block projections (`projectionGlobs`).
        func parameters(languageModel: Bool) -> PassParameters {
            var v = selection.parameters
            if languageModel && selection.include.isEmpty {
                v = TensorSelection(include: Self.projectionGlobs, exclude: selection.exclude,
                                    includeOneDimensional: selection.includeOneDimensional,
                                    includeEmbeddings: selection.includeEmbeddings).parameterValues
            }
            v[P.keep] = keep.map { .number($0) }
            v[P.sparsity] = sparsity.map { .number($0) }
            v[P.scope] = .text(scope.rawValue)
            v[P.pattern] = pattern.map { .text($0) }
            v[P.norm] = .text(norm.rawValue)
            return v
        }

        func validate() throws {
            _ = try AICompressPasses.Prune.fromCommandLine(parameters)
            try calibration.check(needed: method != .magnitude, method: method.rawValue)
            if method != .magnitude { _ = try calibratedPattern() }
            if allocation != .curves && (scope != .global || method == .magnitude) {
                throw ValidationError("--allocation \(allocation.rawValue) goes with --scope global and --method wanda or sparsegpt")
            }
            if quantize != nil || groupSize != nil { _ = try jointBase() }
            if quantize != nil || (scope == .global && method != .magnitude), ((try? Self.languageModelInput(files.input)) ?? nil) != nil {  // read faults: run() reports them
                throw ValidationError(quantize != nil ? "--quantize goes with graph models (ONNX, .ckpt); prune a language model, then quantize --gguf TYPE"
                                                      : "--scope global with --method \(method.rawValue) goes with graph models (ONNX, .ckpt); a language model's blocks are pruned one at a time")
            }
            if !global.stats { try out.check(output: files.output) }
            if shard.part != nil {
                if method != .magnitude { throw ValidationError("--shard goes with --method magnitude: \(method.rawValue) needs the whole graph") }
                if pattern == "channels" { throw ValidationError("--shard does not go with --pattern channels, which plans across tensors") }
            }
            try global.check(shard: shard.part, global: scope == .global, magnitude: method == .magnitude && pattern == nil,
                             output: files.output)
            if !global.stats { try shard.check(output: files.output, out: out) }
        }

        func run() throws {
            let languageModel = try Self.languageModelInput(files.input)
            if let lm = languageModel, let path = calibration.calibration, let m = method.languageModel {
                try runLanguageModel(lm, method: m, path: path)
                return
            }
            guard let data = calibration.data, let calibrated = method.calibrated else {
                let pass = try AICompressPasses.Prune.fromCommandLine(parameters(languageModel: languageModel != nil))
                if let part = shard.part, global.stats {
                    return try GlobalShardRun.countStatistics(pass, input: files.input, threshold: files.output, part: part, quiet: report.quiet)
                }
                if let part = shard.part, let threshold = global.threshold {
                    return try GlobalShardRun.apply(pass, threshold: threshold, part: part, input: files.input, output: files.output,
                                                    out: out, report: report)
                }
                try PassRunner.run(pass, input: files.input, output: files.output, out: out, report: report, shard: shard.part)
                return
            }
            if quantize != nil {
                let joint = SparseGPTQuantize(base: try jointBase(), pattern: try calibratedPattern(), calibration: data)
                return try PassRunner.run(joint, input: files.input, output: files.output, out: out, report: report,
                                          recipe: [calibration.jointRecipeStep(joint)])
            }
            var pass = CalibratedPrune(method: calibrated, pattern: try calibratedPattern(),
                                       selection: TensorSelection(parameters: selection.parameters), calibration: data, scope: scope,
                                       allocation: allocation)
            if !report.quiet { pass.log = { FileHandleOutput.stderr($0 + "\n") } }
            try PassRunner.run(pass, input: files.input, output: files.output, out: out, report: report,
                               recipe: [calibration.recipeStep(pass)])
        }

        /// The scheme of `--quantize` (with `--group-size`) as a `Quantize` pass over the selection.
        func jointBase() throws -> AICompressPasses.Quantize {
            guard let scheme = quantize else { throw ValidationError("--group-size goes with --quantize SCHEME") }
            guard method == .sparsegpt else { throw ValidationError("--quantize goes with --method sparsegpt (one sweep prunes and quantizes)") }
            return try CalibratedStep.jointBase(scheme: scheme, groupSize: groupSize, selection: selection.parameters)
        }

        /// What a data-aware method removes, from --keep/--sparsity or --pattern N:M.
        func calibratedPattern() throws -> SparsityPattern {
            let p = try CalibratedStep.pattern(keep: keep, sparsity: sparsity, pattern: pattern, method: method.rawValue)
            if scope == .global {
                guard case .unstructured = p else { throw ValidationError("--scope global with --method \(method.rawValue) shares --keep/--sparsity among the layers; --pattern N:M fixes every row's share") }
                if quantize != nil { throw ValidationError("--scope global does not go with --quantize (the joint sweep prunes every layer by the same fraction)") }
            }
            return p
        }
    }
}

extension Prune.Scope: ExpressibleByArgument {}
extension CalibratedPrune.Allocation: ExpressibleByArgument {}

/// `prune --method`: magnitude (the pass's own), or a data-aware `CalibratedPrune` method.
enum PruneMethod: String, CaseIterable, ExpressibleByArgument {
    case magnitude, wanda, sparsegpt

    /// The calibrated method, or nil for magnitude.
    var calibrated: CalibratedPrune.Method? { CalibratedPrune.Method(rawValue: rawValue) }

    /// The method on a language model (nil for magnitude, the ordinary pass).
    var languageModel: LinearLayerPruning.Method? { self == .magnitude ? nil : LinearLayerPruning.Method(rawValue: rawValue) }
}
extension Prune.Norm: ExpressibleByArgument {}

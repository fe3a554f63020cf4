import AICompressCore
import AICompressFormats
import AICompressPasses
import ArgumentParser
import Foundation

private typealias P = Quantize.Parameter

extension AICompress {
    /// `aicompress quantize`: integer or half-precision weights with an error report. Option names
    /// and help come from `Quantize.Parameter`; the pass checks the values.
    struct Quantize: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "quantize",
            abstract: "Quantize weights: \(Format.orList(QuantizationScheme.all.map { $0.id })).",
            discussion: """
                Integer schemes store integers plus scales (and zero points for asymmetric ones): \
                int8 is symmetric per output channel by default, uint8 asymmetric per channel, \
                int4/uint4 use groups of 32 along the input dimension. int4 stores f16 scales and \
                searches each group's scale by least squares over all 16 levels (4.5 bits/weight, \
                less error than llama.cpp's Q4_0 at its size); --imatrix FILE (llama-imatrix output) \
                weights that search by each input column's importance; with --gguf TYPE it weights \
                llama.cpp's block quantizers exactly as llama-quantize --imatrix does (aicompress \
                imatrix makes such a file; --calibration TEXT with --gguf computes the same matrix \
                from a text on the way, and --save-imatrix FILE also writes it). For int8/uint8 the arithmetic follows \
                onnxruntime's quantizer (0 exactly representable, round half to even), so int8/uint8 \
                per-tensor and per-channel results equal its quantize_dynamic bit for bit; zeros \
                (e.g. from pruning) stay exactly zero. The output channel and input axis come from \
                the graph (MatMul [K,N], Gemm transB, Conv) or, without one, the [out, in] layout of \
                PyTorch. 1-D tensors and embeddings are left alone unless selected. ONNX output gets \
                DequantizeLinear nodes (QDQ) that onnxruntime runs; safetensors output gets \
                NAME_scale / NAME_zero_point tensors. A report (bits/weight, SQNR, errors, size) \
                goes to stderr.

                Examples:
                  aicompress quantize --list
                  aicompress quantize --int8 model.onnx model-int8.onnx
                  aicompress quantize --gguf Q4_K_M model.gguf model-q4_k_m.gguf
                  aicompress quantize --gguf Q4_K_M --imatrix imatrix.gguf model.gguf model-q4_k_m.gguf
                  aicompress quantize --gguf Q4_K_M --calibration calib.txt --save-imatrix imatrix.gguf model.gguf model-q4_k_m.gguf
                  aicompress quantize --int4 --group-size 64 model.safetensors q4.ckpt
                  aicompress quantize --int4 --imatrix imatrix.gguf model.gguf q4.ckpt
                  aicompress quantize --uint8 --per-tensor --clip percentile:99.99 in.ckpt out.ckpt
                  aicompress quantize --int8 --exclude 'classifier.*' --report-json r.json in.ckpt out.ckpt
                  aicompress quantize --int4 --method gptq --calibration train.csv model.onnx q4.onnx
                  aicompress quantize --int4 --method awq --calibration train.csv model.onnx q4-awq.onnx
                  aicompress quantize --gguf Q4_0 --method gptq --calibration calib.txt model.gguf q4_0-gptq.gguf
                  aicompress quantize --gguf Q4_0 --method awq --calibration calib.txt model.gguf q4_0-awq.gguf

                --method gptq (with --calibration) quantizes the weights of Gemm and MatMul nodes \
                one layer at a time with GPTQ: each column is rounded in turn and the columns not \
                yet rounded are moved to make up for its error on the calibration inputs (each \
                layer seeing the outputs of the layers already quantized). The layout and range \
                rule are the scheme's, so the file is read as any quantized file; other selected \
                tensors are rounded to nearest. With --gguf TYPE, --calibration is a text: the \
                language model runs block by block over it and every blk.N projection goes through \
                GPTQ into its planned block type (each block's scales fitted by the type's own search \
                as the sweep reaches it), block i+1 calibrated on block i's quantized output. GPTQ \
                moves every weight, pruned zeros included, and writes no sparsity: a model whose \
                swept weights are stored sparse or over 30% exact zeros is refused (prune --method \
                sparsegpt --quantize SCHEME prunes and quantizes keeping the mask).

                --method awq (with --gguf TYPE and a calibration text) scales each input channel of the \
                projections by (mean |x|)^a, a searched per input to minimise the quantized output error on \
                the calibration text, and folds the scales into what produces that input (attn_norm, \
                ffn_norm, attn_v's rows, ffn_up's rows): the same llama.cpp types and sizes, the float \
                model's function unchanged. On a graph model (--int8, --int4, …, \
                CSV/.npy/.npz --calibration) the scales of each Gemm/MatMul input are searched the same way and \
                folded into what produces that input where that is exact: a previous Gemm/MatMul's rows and bias \
                (through Relu/LeakyRelu and a bias Add), a LayerNormalization's or BatchNormalization's scale and \
                bias. A layer fed by the graph input, or through Tanh, Sigmoid, GELU, Reshape or a value read \
                elsewhere too, is rounded unscaled; its report line says why.
                """
        )

        @Flag(help: ArgumentHelp(P.scheme))
        var scheme: AICompressPasses.Quantize.Scheme = .int8

        @Flag(help: "Print every scheme with its bits per weight and typical error, then exit.")
        var list = false

        @Flag(name: .parameter(P.perTensor), help: ArgumentHelp(P.perTensor))
        var perTensor = false

        @Flag(name: .parameter(P.perChannel), help: ArgumentHelp(P.perChannel))
        var perChannel = false

        @Option(name: .parameter(P.groupSize), help: ArgumentHelp(P.groupSize))
        var groupSize: Int?

        @Flag(name: .parameter(P.symmetric), help: ArgumentHelp(P.symmetric))
        var symmetric = false

        @Flag(name: .parameter(P.asymmetric), help: ArgumentHelp(P.asymmetric))
        var asymmetric = false

        @Option(name: .parameter(P.clip), help: ArgumentHelp(P.clip))
        var clip: ClipArgument?

        @Option(name: .parameter(P.scaleType), help: ArgumentHelp(P.scaleType))
        var scaleType: String?

        @Option(name: .parameter(P.imatrix), help: ArgumentHelp(P.imatrix))
        var imatrix: String?

        @Option(name: .parameter(GGUFQuantize.Parameter.gguf), help: ArgumentHelp(GGUFQuantize.Parameter.gguf))
        var gguf: String?

        @Flag(name: .parameter(GGUFQuantize.Parameter.pure), help: ArgumentHelp(GGUFQuantize.Parameter.pure))
        var pure = false

        @Option(name: .parameter(GGUFQuantize.Parameter.tensorType), help: ArgumentHelp(GGUFQuantize.Parameter.tensorType))
        var tensorType: [String] = []

        @Flag(name: .parameter(GGUFQuantize.Parameter.allowRequantize), help: ArgumentHelp(GGUFQuantize.Parameter.allowRequantize))
        var allowRequantize = false

        @Flag(help: "With --gguf: print the per-tensor plan and the final size; write nothing (no output argument needed).")
        var dryRun = false

        @Option(help: "rtn (round to nearest); or gptq, which needs --calibration; or awq (activation-aware input scales folded into the norms or the previous layer), which needs --calibration.")
        var method: QuantizeMethod = .rtn

        @Flag(help: "--method gptq: quantize columns in order of decreasing input energy (groups fitted up front; with --gguf, whole blocks by their energy).")
        var actOrder = false

        @Option(help: "--method gptq: dampening, this fraction of the mean Hessian diagonal added to it.")
        var damp = 0.01

        @Option(help: ArgumentHelp("--method awq: the number of α values searched per input (α = k/N, k = 0 … N−1; 1 to 100).", valueName: "n"))
        var awqGrid = 20

        @Option(help: "With --gguf and --method gptq: the output head (output.weight, or token_embd when tied to it): gptq, calibrated on the final norm past the last block; rtn (round to nearest); or auto: gptq for output.weight, rtn for a tied token_embd (also the lookup table). Default: auto.")
        var head: GPTQHead?

        @Option(help: "With --gguf and --method gptq: an untied token_embd (the lookup table): gptq, on the Gram matrix of what block 0's projections do with an error in it (from the weights; no calibration input multiplies it); rtn (round to nearest); or auto (= gptq). A tied token_embd is the head's (--head). Default: auto.")
        var embedding: GPTQEmbedding?

        @Option(help: ArgumentHelp("With --calibration (--method rtn): also write the importance matrix computed from it (llama.cpp's imatrix GGUF): with --gguf, from the text, as `aicompress imatrix` writes it; on a graph model, Σx² of each Gemm/MatMul weight's input columns over the rows, which then weights the rounding as --imatrix FILE does.", valueName: "file"))
        var saveImatrix: String?

        @OptionGroup var calibration: CalibrationOptions

        @OptionGroup var selection: SelectionOptions
        @OptionGroup var report: ReportOptions
        @OptionGroup var out: OutputOptions
        @OptionGroup var shard: ShardOptions

        @Argument(help: "Input model, or - for standard input.")
        var input: String?

        @Argument(help: "Output file, or - for standard output.")
        var output: String?

        func validate() throws {
            if list { return }
            if let ggufQuantize {
                guard input != nil, dryRun || output != nil else { throw ValidationError("give an input and an output file (or --dry-run)") }
                if saveImatrix != nil && calibration.calibration == nil { throw ValidationError("--save-imatrix needs --calibration TEXT (the importance matrix is computed from it)") }
                // With --method rtn a text --calibration gives the importance matrix (`QuantizeGGUF.ImportanceText`).
                try calibration.check(needed: method != .rtn || saveImatrix != nil || calibration.calibration != nil, method: method.rawValue)
                if saveImatrix != nil && method != .rtn { throw ValidationError("--save-imatrix goes with --method rtn (GPTQ's and AWQ's statistics are gathered on the partly quantized model)") }
                if method == .rtn && calibration.calibration != nil {
                    if imatrix != nil { throw ValidationError("give --imatrix FILE or --calibration TEXT (the matrix computed from it), not both") }
                    if input == "-" || shard.part != nil || (dryRun && saveImatrix != nil) {
                        throw ValidationError("--calibration with --method rtn runs the whole input model: it needs the input as a file, no --shard, and writes --save-imatrix only without --dry-run")
                    }
                    if let s = saveImatrix, [input, output, calibration.calibration].contains(s) { throw ValidationError("--save-imatrix \(s) would overwrite an input or the output") }
                }
                if method != .gptq && (actOrder || damp != 0.01 || head != nil || embedding != nil) {
                    throw ValidationError("--act-order, --damp, --head and --embedding go with --method gptq")
                }
                if method == .gptq && imatrix != nil { throw ValidationError("--imatrix goes with --method rtn; GPTQ weighs columns by its own calibration statistics") }
                if method == .awq && imatrix != nil { throw ValidationError("--imatrix goes with --method rtn; AWQ weighs columns by its own calibration statistics") }
                guard damp >= 0, damp < 1 else { throw ValidationError("--damp must be in [0, 1)") }
                if method == .gptq && shard.part != nil { throw ValidationError("--shard goes with --method rtn: GPTQ runs the whole model") }
                if method != .awq && awqGrid != 20 { throw ValidationError("--awq-grid goes with --method awq") }
                guard (1...100).contains(awqGrid) else { throw ValidationError("--awq-grid must be in 1 … 100 (got \(awqGrid))") }
                if method == .awq && shard.part != nil { throw ValidationError("--shard goes with --method rtn: AWQ runs the whole model") }
                // The values only: the imatrix file is read (and its faults reported) by run().
                _ = try QuantizeGGUF(type: ggufQuantize.type, pure: pure, tensorTypes: tensorType).pass()
                try shard.check(output: output ?? "-", out: out)
                if let output { try out.check(output: output) }
                return
            }
            if pure || !tensorType.isEmpty || dryRun || head != nil || embedding != nil || allowRequantize {
                throw ValidationError("--pure, --tensor-type, --dry-run, --head, --embedding and --allow-requantize go with --gguf TYPE")
            }
            guard let input, let output else { throw ValidationError("give an input and an output file (or --list)") }
            if let s = saveImatrix {
                guard method == .rtn, calibration.calibration != nil, imatrix == nil else {
                    throw ValidationError("--save-imatrix FILE goes with --method rtn and --calibration DATA (the importance matrix is computed from it), not with --imatrix")
                }
                guard input != "-", shard.part == nil else { throw ValidationError("--save-imatrix runs the whole input model: it needs the input as a file and no --shard") }
                if [input, output, calibration.calibration].contains(s) { throw ValidationError("--save-imatrix \(s) would overwrite an input or the output") }
            } else if method == .rtn && calibration.calibration != nil {
                throw ValidationError("--calibration with --method rtn on a graph model goes with --save-imatrix FILE (the importance matrix it writes then weights the rounding)")
            }
            _ = try AICompressPasses.Quantize.fromCommandLine(parameters)
            if method != .awq && awqGrid != 20 { throw ValidationError("--awq-grid goes with --method awq") }
            guard (1...100).contains(awqGrid) else { throw ValidationError("--awq-grid must be in 1 … 100 (got \(awqGrid))") }
            try calibration.check(needed: method != .rtn || saveImatrix != nil, method: method.rawValue)
            if shard.part != nil && method != .rtn { throw ValidationError("--shard goes with --method rtn: \(method == .gptq ? "GPTQ" : "AWQ") needs the whole graph") }
            try shard.check(output: output, out: out)
            if method != .gptq && (actOrder || damp != 0.01) { throw ValidationError("--act-order and --damp go with --method gptq") }
            if method != .rtn && imatrix != nil { throw ValidationError("--imatrix goes with --method rtn; \(method == .gptq ? "GPTQ" : "AWQ") weighs columns by its own calibration statistics") }
            guard damp >= 0, damp < 1 else { throw ValidationError("--damp must be in [0, 1)") }
            try out.check(output: output)
        }

        /// The llama.cpp file-type quantization, when `--gguf` is given.
        var ggufQuantize: QuantizeGGUF? {
            let text = calibration.calibration.map {
                CalibrationText(path: $0, tokens: calibration.calibrationTokens, chunks: calibration.calibrationChunks, quiet: report.quiet)
            }
            return gguf.map {
                QuantizeGGUF(type: $0, pure: pure, tensorTypes: tensorType, imatrix: imatrix,
                             gptq: method == .gptq ? text.map {
                                 QuantizeGGUF.GPTQ(text: $0, damp: damp, actOrder: actOrder, head: head ?? .auto, embedding: embedding ?? .auto)
                             } : nil,
                             importanceText: method == .rtn ? text.map {
                                 QuantizeGGUF.ImportanceText(text: $0, model: input ?? "-", save: saveImatrix)
                             } : nil,
                             awq: method == .awq ? text.map { QuantizeGGUF.AWQ(text: $0, grid: awqGrid) } : nil,
                             allowRequantize: allowRequantize)
            }
        }

        /// The command line as the pass's parameter values (checked by `Quantize(parameters:)`).
        var parameters: PassParameters {
            var v = selection.parameters
            v[P.scheme] = .text(scheme.rawValue)
            v[P.perTensor] = perTensor ? .flag : nil
            v[P.perChannel] = perChannel ? .flag : nil
            v[P.groupSize] = groupSize.map { .integer($0) }
            v[P.symmetric] = symmetric ? .flag : nil
            v[P.asymmetric] = asymmetric ? .flag : nil
            v[P.clip] = clip.map { .text($0.value.description) }
            v[P.scaleType] = scaleType.map { .text($0) }
            v[P.imatrix] = imatrix.map { .text($0) }
            return v
        }

        func run() throws {
            if list {
                try FileHandleOutput.stdout(Quantize.schemeTable())
                return
            }
            if let ggufQuantize, let input {
                if dryRun { return try FileHandleOutput.stdout(try ggufQuantize.dryRun(input: input)) }
                guard let output else { throw ValidationError("give an input and an output file (or --dry-run)") }
                return try ggufQuantize.run(input: input, output: output, out: out, report: report)
            }
            guard let input, let output else { throw ValidationError("give an input and an output file (or --list)") }
            var pass = try AICompressPasses.Quantize.fromCommandLine(parameters)
            if let imatrix {
                let matrix = try ImportanceMatrix(tensors: ModelIO.read(path: imatrix).model.tensors, source: imatrix)
                do { pass = try pass.withImportance(matrix) } catch let e as PassError { throw ValidationError(e.commandLineMessage) }
            }
            if let save = saveImatrix, let data = calibration.data, let path = calibration.calibration {
                pass = try Self.savedImportance(pass, input: input, data: data, dataPath: path, save: save)
            }
            if method == .awq, let data = calibration.data {
                let awq = GraphAWQQuantize(base: pass, calibration: data, grid: awqGrid)
                // Checked on the model PassRunner reads (once), before anything is written.
                return try PassRunner.run(awq, input: input, output: output, out: out, report: report,
                                          recipe: [calibration.recipeStep(awq)]) { loaded in
                    guard loaded.model.graph != nil else {
                        throw ExitStatus.Failure(code: ExitStatus.usage, message: "\(input == "-" ? "<stdin>" : input): --method awq goes with "
                            + "--gguf TYPE on a language model (the model has no graph whose layers it could fold into)")
                    }
                }
            }
            if method == .gptq, let data = calibration.data {
                let gptq = GPTQQuantize(base: pass, calibration: data, gptq: GPTQ(dampFraction: damp, actOrder: actOrder))
                return try PassRunner.run(gptq, input: input, output: output, out: out, report: report,
                                          recipe: [calibration.recipeStep(gptq)]) { loaded in
                    try PrunedWeights.refuse(loaded.model, names: PrunedWeights.graphWeights(loaded.model, selection: pass.selection),
                                             input: input, instead: PrunedWeights.graphAdvice)
                }
            }
            try PassRunner.run(pass, input: input, output: output, out: out, report: report, shard: shard.part)
        }


        /// Every scheme of the table with bits per weight and the SQNR it reaches on N(0, 1) weights,
        /// measured now (`SchemeListing`).
        static func schemeTable() throws -> String {
            let rows = try SchemeListing.rows().map { row in
                [row.label, String(format: "%.3f", row.report.bitsPerWeight), String(format: "%.1f", row.report.sqnr),
                 String(format: "%.2e", row.report.relativeError), row.layout]
            }
            return Format.table(header: ["scheme", "bits/weight", "SQNR dB", "rel. error", "layout"], rows: rows,
                                rightAligned: [1, 2, 3])
                + "(bits/weight: computed from the stored layout, scales and zero points included; SQNR and relative\n"
                + " error: measured now on fixed pseudo-random N(0,1) weights \(SchemeListing.shape); the gguf rows are\n"
                + " llama.cpp's block types on the same weights, for comparison (quantize --gguf TYPE).\n"
                + " 32 bits/weight is f32: int8 is 4x smaller, int4 g32 7.1x.)\n"
        }
    }
}

/// `quantize --method`.
enum QuantizeMethod: String, CaseIterable, ExpressibleByArgument {
    case rtn, gptq, awq
}

extension Quantize.Scheme: EnumerableFlag {
    public static func name(for value: Self) -> NameSpecification { .customLong(value.id) }
    public static func help(for value: Self) -> ArgumentHelp? { ArgumentHelp(value.help) }
}

/// A `--clip` value.
struct ClipArgument: ExpressibleByArgument {
    let value: ClipMethod
    init(value: ClipMethod) { self.value = value }
    init?(argument: String) {
        guard let v = ClipMethod(parameter: argument) else { return nil }
        value = v
    }
    var defaultValueDescription: String { value.description }
}

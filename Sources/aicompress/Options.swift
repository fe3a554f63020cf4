import AICompressCore
import AICompressFormats
import AICompressPasses
import ArgumentParser

/// The input model and the output file of a command that turns one model into another
/// (`prune`, `dequantize`, `apply`).
struct InputOutputArguments: ParsableArguments {
    @Argument(help: "Input model, or - for standard input.")
    var input: String

    @Argument(help: "Output file, or - for standard output.")
    var output: String
}

/// Where and how a command writes its output model (shared by every command that writes one).
struct OutputOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Output format (\(FormatRegistry.idList)). Default: from OUT's extension (\(ModelIO.defaultFormat) for -)."))
    var format: ModelFormatArgument?

    @Flag(help: "Flush the output to the storage device before moving it into place (survives power loss; slower).")
    var sync = false

    @Flag(help: "ONNX output: put tensors of 1 KiB or more in OUT.data.")
    var externalData = false

    @Flag(help: "ONNX output: write tensors as sparse_initializer where that is smaller.")
    var sparseInitializers = false

    @Option(help: "safetensors output: split into shards of at most SIZE (e.g. 2GB, 500MB, 1GiB) plus an index.json; GGUF output: llama.cpp's split files (OUT-00001-of-0000N.gguf, as llama-gguf-split).")
    var shardSize: ByteSize?

    @Option(help: "Hold at most about SIZE in memory (tensors transformed at once, write buffers; mapped input pages are not counted). A tensor that cannot fit is refused (exit 64).")
    var maxMemory: ByteSize?

    /// The format OUT is written in; `check(output:)` has refused an OUT that names none.
    func outputFormat(for path: String) throws -> ModelFormat {
        try ModelIO.outputFormat(path: path, explicit: format?.value)
    }

    var onnx: ONNXWriteOptions {
        ONNXWriteOptions(externalData: externalData, sparseInitializers: sparseInitializers)
    }

    /// The library's write options for these flags.
    var writeOptions: ModelWriteOptions {
        ModelWriteOptions(durable: sync, onnx: onnx, shardSize: shardSize?.bytes)
    }

    /// Writes `model` to `path` in the format and with the options these flags choose
    /// (atomically; `-` is standard output), never over one of `inputs`.
    func write(_ model: Model, to path: String, refusing inputs: [FileIdentity], shard: ShardPart? = nil,
               progress: ((Int) -> Void)? = nil) throws {
        try ModelIO.write(model, to: path, format: try outputFormat(for: path), refusing: inputs, durable: sync, onnx: onnx,
                          shardSize: shardSize?.bytes, shardPart: shard, progress: progress)
    }

    /// Refuses, as a usage error, an OUT whose format is unknown (an extension no format has,
    /// without --format) and options that do not apply to OUT's format.
    func check(output: String) throws {
        let f: ModelFormat
        do { f = try outputFormat(for: output) } catch let e as ModelFileError { throw ValidationError(e.description) }
        if shardSize != nil && f != .safetensors && f != .gguf { throw ValidationError("--shard-size applies to safetensors and GGUF output only") }
        if (externalData || sparseInitializers) && f != .onnx {
            throw ValidationError("--external-data and --sparse-initializers apply to ONNX output only")
        }
    }
}

/// Which tensors a pass touches (shared by every pass command); names and help come from
/// `TensorSelection.Parameter`.
struct SelectionOptions: ParsableArguments {
    @Option(name: .parameter(TensorSelection.Parameter.include), help: ArgumentHelp(TensorSelection.Parameter.include))
    var include: [String] = []

    @Option(name: .parameter(TensorSelection.Parameter.exclude), help: ArgumentHelp(TensorSelection.Parameter.exclude))
    var exclude: [String] = []

    @Flag(name: .parameter(TensorSelection.Parameter.includeOneDimensional),
          help: ArgumentHelp(TensorSelection.Parameter.includeOneDimensional))
    var includeOneDimensional = false

    @Flag(name: .parameter(TensorSelection.Parameter.includeEmbeddings), help: ArgumentHelp(TensorSelection.Parameter.includeEmbeddings))
    var includeEmbeddings = false

    /// The selection as pass parameter values.
    var parameters: PassParameters {
        TensorSelection(include: include, exclude: exclude, includeOneDimensional: includeOneDimensional,
                        includeEmbeddings: includeEmbeddings).parameterValues
    }
}

/// How a pass reports what it did.
struct ReportOptions: ParsableArguments {
    @Option(help: "Also write the report as JSON (schema aicompress.pass-report/1) to FILE.")
    var reportJson: String?

    @Flag(name: .shortAndLong, help: "Print no report table on stderr.")
    var quiet = false
}

// MARK: Pass parameters on the command line

extension NameSpecification {
    /// The long option of a declared pass parameter: `--` + its name.
    static func parameter(_ p: PassParameter) -> NameSpecification { .customLong(p.name) }
}

extension ArgumentHelp {
    /// The help of a declared pass parameter, naming other parameters by their flags.
    init(_ p: PassParameter) { self.init(PassParameter.spell(p.help) { "--" + $0 }) }
}

extension PassError {
    /// The message as the CLI prints it: parameters named by their flags (`--keep`).
    var commandLineMessage: String { message { "--" + $0 } }
}

extension ConfigurablePass {
    /// The pass for values from the command line; a parameter error is a usage error that
    /// names the flag.
    static func fromCommandLine(_ values: PassParameters) throws -> Self {
        do { return try Self(parameters: values) } catch let e as PassError { throw ValidationError(e.commandLineMessage) }
    }
}

import AICompressFormats
import AICompressPasses
import ArgumentParser

/// Where and how a command writes its output model (shared by every command that writes one).
struct OutputOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Output format (\(FormatRegistry.idList)). Default: from OUT's extension, else \(ModelIO.defaultFormat)."))
    var format: ModelFormatArgument?

    @Flag(help: "Flush the output to the storage device before moving it into place (survives power loss; slower).")
    var sync = false

    @Flag(help: "ONNX output: put tensors of 1 KiB or more in OUT.data.")
    var externalData = false

    @Flag(help: "ONNX output: write tensors as sparse_initializer where that is smaller.")
    var sparseInitializers = false

    @Option(help: "safetensors output: split into shards of at most SIZE (e.g. 2GB, 500MB, 1GiB) plus an index.json.")
    var shardSize: ByteSize?

    func outputFormat(for path: String) -> ModelFormat {
        ModelIO.outputFormat(path: path, explicit: format?.value)
    }

    var onnx: ONNXWriteOptions {
        ONNXWriteOptions(externalData: externalData, sparseInitializers: sparseInitializers)
    }

    /// The library's write options for these flags.
    var writeOptions: ModelWriteOptions {
        ModelWriteOptions(durable: sync, onnx: onnx, shardSize: shardSize?.bytes)
    }

    func check(output: String) throws {
        let f = outputFormat(for: output)
        if shardSize != nil && f != .safetensors { throw ValidationError("--shard-size applies to safetensors output only") }
        if (externalData || sparseInitializers) && f != .onnx {
            throw ValidationError("--external-data and --sparse-initializers apply to ONNX output only")
        }
    }
}

/// Which tensors a pass touches (shared by every pass command).
struct SelectionOptions: ParsableArguments {
    @Option(name: .customLong("include"), help: "Only tensors whose name matches this glob (repeatable), e.g. '*.weight'.")
    var include: [String] = []

    @Option(name: .customLong("exclude"), help: "Skip tensors whose name matches this glob (repeatable), e.g. 'classifier.*'.")
    var exclude: [String] = []

    @Flag(name: .customLong("include-1d"), help: "Also touch 1-D tensors (biases, norm weights), skipped by default.")
    var includeOneDimensional = false

    @Flag(help: "Also touch embedding tables, skipped by default.")
    var includeEmbeddings = false

    var selection: TensorSelection {
        TensorSelection(include: include, exclude: exclude, includeOneDimensional: includeOneDimensional,
                        includeEmbeddings: includeEmbeddings)
    }
}

/// How a pass reports what it did.
struct ReportOptions: ParsableArguments {
    @Option(help: "Also write the report as JSON (schema aicompress.pass-report/1) to FILE.")
    var reportJson: String?

    @Flag(name: .shortAndLong, help: "Print no report table on stderr.")
    var quiet = false
}

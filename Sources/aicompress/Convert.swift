import AICompressCore
import AICompressFormats
import ArgumentParser

/// `aicompress convert IN OUT`: rewrite a model in another (or the same) format.
struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a model between formats.",
        discussion: """
            The input format is detected from its content (a .onnx name also counts); the output \
            format comes from --format, else from OUT's extension (.ckpt, .onnx), else the native \
            checkpoint. Tensor values are copied bit for bit and the graph is kept; provenance \
            (tool version, input size and CRC-32, this step) is added to the metadata (in ONNX, \
            to metadata_props).

            ONNX external data is read relative to the model's folder; locations that leave the \
            folder (absolute, '..', links) are refused. --external-data writes tensor bytes to \
            OUT.data beside OUT, as models over protobuf's 2 GiB limit need.

            Examples:
              aicompress convert model.onnx model.ckpt
              aicompress convert model.ckpt model.onnx
              aicompress convert --external-data big.ckpt big.onnx
              cat model.ckpt | aicompress convert - - > copy.ckpt
            """
    )

    @Argument(help: "Input model file, or - for standard input.")
    var input: String

    @Argument(help: "Output file, or - for standard output.")
    var output: String

    @Option(help: "Output format (ckpt, onnx). Default: from OUT's extension.")
    var format: ModelFormatArgument?

    @Flag(help: "Flush the output to the storage device before moving it into place (survives power loss; slower).")
    var sync = false

    @Flag(help: "ONNX output: put tensors of 1 KiB or more in OUT.data.")
    var externalData = false

    @Flag(help: "ONNX output: write tensors as sparse_initializer where that is smaller.")
    var sparseInitializers = false

    func run() throws {
        let loaded = try ModelIO.read(path: input)
        let outputFormat = ModelIO.outputFormat(path: output, explicit: format?.value)
        let model = loaded.withProvenance(step: "convert from=\(loaded.format) to=\(outputFormat)")
        try ModelIO.write(model, to: output, format: outputFormat, refusing: loaded.input.identity, durable: sync,
                          onnx: ONNXWriteOptions(externalData: externalData, sparseInitializers: sparseInitializers))
    }
}

/// A `--format` value.
struct ModelFormatArgument: ExpressibleByArgument {
    let value: ModelFormat
    init?(argument: String) {
        guard let f = ModelFormat(rawValue: argument.lowercased()) else { return nil }
        value = f
    }
    static var allValueStrings: [String] { ModelFormat.allCases.map(\.rawValue) }
}

import AICompressCore
import Foundation
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

    @OptionGroup var out: OutputOptions

    @Flag(name: .shortAndLong, help: "No progress line on stderr (it appears only when stderr is a terminal).")
    var quiet = false

    func validate() throws { try out.check(output: output) }

    func run() throws {
        let loaded = try ModelIO.read(path: input)
        let outputFormat = try out.outputFormat(for: output)
        let model = loaded.withProvenance(step: "convert from=\(loaded.format) to=\(outputFormat)")
        let progress = Progress(label: "convert", tensors: model.tensors.count, bytes: model.storedBytes, quiet: quiet || output == "-")
        defer { progress.finish() }
        try ModelIO.write(model, to: output, format: outputFormat, refusing: loaded.identities, durable: out.sync,
                          onnx: out.onnx, shardSize: out.shardSize?.bytes, progress: { progress.written($0) })
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

/// A size such as `2GB` (10^9), `500MiB` (2^20) or `4096` (bytes).
struct ByteSize: ExpressibleByArgument {
    let bytes: Int
    init?(argument: String) {
        let units: [(String, Double)] = [
            ("kib", 1024), ("mib", 1_048_576), ("gib", 1_073_741_824), ("tib", 1_099_511_627_776),
            ("kb", 1e3), ("mb", 1e6), ("gb", 1e9), ("tb", 1e12), ("k", 1e3), ("m", 1e6), ("g", 1e9), ("b", 1),
        ]
        var text = argument.lowercased().trimmingCharacters(in: .whitespaces)
        var scale = 1.0
        if let (suffix, factor) = units.first(where: { text.hasSuffix($0.0) }) {
            text = String(text.dropLast(suffix.count)).trimmingCharacters(in: .whitespaces)
            scale = factor
        }
        guard let value = Double(text), value.isFinite, value > 0, value * scale >= 1, value * scale < 9e18 else { return nil }
        bytes = Int(value * scale)
    }
}

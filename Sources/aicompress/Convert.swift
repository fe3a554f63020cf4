import AICompressCore
import Foundation
import AICompressFormats
import ArgumentParser

extension AICompress {
    /// `aicompress convert IN OUT`: rewrite a model in another (or the same) format.
    struct Convert: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "convert",
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

                A Hugging Face LLaMA, Mistral, Qwen2, Qwen3 or Phi-3 safetensors checkpoint with config.json and \
                tokenizer.json beside it, written as .gguf, gets llama.cpp's tensor names, q/k \
                layout, architecture keys and vocabulary, so llama.cpp runs it.

                Examples:
                  aicompress convert model.onnx model.ckpt
                  aicompress convert model.ckpt model.onnx
                  aicompress convert --external-data big.ckpt big.onnx
                  aicompress convert llama/model.safetensors.index.json llama.gguf
                  aicompress convert --shard 2/4 in/model.safetensors.index.json out/model.safetensors
                  cat model.ckpt | aicompress convert - - > copy.ckpt
                """
        )

        @Argument(help: "Input model file, or - for standard input.")
        var input: String

        @Argument(help: "Output file, or - for standard output.")
        var output: String

        @OptionGroup var out: OutputOptions
        @OptionGroup var shard: ShardOptions

        @Flag(name: .shortAndLong, help: "No progress line on stderr (it appears only when stderr is a terminal).")
        var quiet = false

        func validate() throws {
            try out.check(output: output)
            try shard.check(output: output, out: out)
        }

        func run() throws {
            let read = try ModelIO.read(path: input)
            let outputFormat = try out.outputFormat(for: output)
            let prepared = try HFLlamaConversion.prepared(read, for: outputFormat)
            let loaded = try shard.part.map { try prepared.restricted(toShard: $0, input: input) } ?? prepared
            let model = loaded.withProvenance(step: "convert from=\(loaded.format) to=\(outputFormat)")
            let progress = Progress(label: "convert", tensors: model.tensors.count, bytes: model.storedBytes, quiet: quiet || output == "-")
            defer { progress.finish() }
            try out.write(model, to: output, refusing: loaded.identities, shard: shard.part, progress: { progress.written($0) })
        }
    }
}

import AICompressCore
import AICompressFormats
import AICompressLLM
import AICompressPasses
import ArgumentParser
import Foundation

extension AICompress {
    /// `aicompress imatrix MODEL.gguf --text FILE -o imatrix.gguf`: llama-imatrix's importance
    /// matrix, in its GGUF format, from our own forward pass.
    struct Imatrix: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "imatrix",
            abstract: "Compute an importance matrix (llama-imatrix's GGUF format) of a GGUF language model on a text.",
            discussion: """
                Runs the model over the text as llama-imatrix does (tokenized once, chunks of \
                --context tokens from an empty cache, BOS first) and sums, for every matrix of the \
                transformer blocks, each input column's squared activation over all tokens. The file \
                (NAME.in_sum2, NAME.counts, imatrix.* keys) is what llama-quantize --imatrix and \
                quantize --imatrix read; the sums agree with llama-imatrix's to float rounding.

                Examples:
                  aicompress imatrix model-f16.gguf --text calibration.txt -o imatrix.gguf --chunks 100
                  aicompress quantize --gguf Q4_K_M --imatrix imatrix.gguf model-f16.gguf model-q4_k_m.gguf
                """
        )

        @Argument(help: "A GGUF language model (architecture llama, qwen2, qwen3 or phi3; Mistral and SmolLM files are llama).")
        var model: String

        @Option(help: "The calibration text (UTF-8).")
        var text: String

        @Option(name: [.customShort("o"), .customLong("output")], help: "The importance matrix file to write.")
        var output: String

        @Option(help: "Tokens per chunk (llama-imatrix's -c).")
        var context = 512

        @Option(help: "At most this many chunks (default: all).")
        var chunks: Int?

        func validate() throws {
            guard context >= 16 else { throw ValidationError("--context must be at least 16 (llama-imatrix ignores products of fewer rows)") }
            if let c = chunks, c < 1 { throw ValidationError("--chunks must be at least 1") }
        }

        func run() throws {
            let collector = try Self.collect(model: model, text: text, context: context, chunks: chunks, quiet: false)
            try Self.save(collector, text: text, to: output)
            FileHandleOutput.stderr("\(output): \(collector.entries.count) matrices, \(collector.chunks) chunks of \(collector.chunkSize) tokens\n")
        }

        /// The statistics of the GGUF language model at `model` over the text at `text`
        /// (progress on an interactive terminal unless `quiet`).
        static func collect(model: String, text: String, context: Int, chunks: Int?, quiet: Bool) throws -> ImportanceCollector {
            let lm = try Evaluate.languageModel(model)
            let bytes = try InputFile(path: text).buffer.withUnsafeBytes { Array($0) }
            let interactive = !quiet && FileHandleOutput.stderrIsInteractive
            do {
                return try ImportanceCollector.run(lm, text: bytes, context: context, chunks: chunks) { done, total in
                    guard interactive else { return }
                    FileHandleOutput.stderr("\r\u{1B}[Kimatrix: chunk \(done)/\(total)" + (done == total ? "\r\u{1B}[K" : ""))
                }
            } catch {
                throw ExitStatus.Failure(code: ExitStatus.dataError, message: "\(model) on \(text): \(error)")
            }
        }

        /// Writes llama.cpp's imatrix file of `collector` (dataset: the text path as given).
        static func save(_ collector: ImportanceCollector, text: String, to output: String) throws {
            let encoded = try ImportanceMatrixWriter.encode(collector, datasets: [text])
            let file = try OutputFile(path: output)
            try encoded.withUnsafeBytes { try file.write($0) }
            try file.commit()
        }
    }
}

extension QuantizeGGUF.ImportanceText {
    /// The matrix, as `quantize --imatrix` would read the file `aicompress imatrix` writes
    /// (read back from `save` when given, so the two are the same by construction).
    func matrix() throws -> ImportanceMatrix {
        let collector = try AICompress.Imatrix.collect(model: model, text: text.path, context: text.tokens, chunks: text.chunks,
                                                       quiet: text.quiet)
        if let save {
            try AICompress.Imatrix.save(collector, text: text.path, to: save)
            return try ImportanceMatrix(tensors: ModelIO.read(path: save).model.tensors, source: save)
        }
        return try ImportanceMatrix(tensors: GraphImportance.tensors(collector.entries), source: text.path)
    }
}

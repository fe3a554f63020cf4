import AICompressPasses
import ArgumentParser

extension AICompress {
    /// `aicompress dequantize IN OUT`: floats back from a quantized model.
    struct Dequantize: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "dequantize",
            abstract: "Turn quantized tensors back into floats.",
            discussion: """
                Every quantized tensor becomes dense again in the dtype it was quantized from, \
                value = (q - zero point) × scale. Other tensors are copied.

                Examples:
                  aicompress dequantize model-int8.ckpt model-f32.ckpt
                  aicompress dequantize q4.ckpt - | aicompress inspect -
                """
        )

        @OptionGroup var files: InputOutputArguments

        @OptionGroup var report: ReportOptions
        @OptionGroup var out: OutputOptions

        func validate() throws { try out.check(output: files.output) }

        func run() throws {
            try PassRunner.run(AICompressPasses.Dequantize(), input: files.input, output: files.output, out: out, report: report)
        }
    }
}

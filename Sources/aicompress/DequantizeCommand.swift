import AICompressPasses
import ArgumentParser

/// `aicompress dequantize IN OUT`: floats back from a quantized model.
struct DequantizeCommand: ParsableCommand {
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

    @Argument(help: "Input model, or - for standard input.")
    var input: String

    @Argument(help: "Output file, or - for standard output.")
    var output: String

    @OptionGroup var report: ReportOptions
    @OptionGroup var out: OutputOptions

    func validate() throws { try out.check(output: output) }

    func run() throws {
        let pass = Dequantize()
        try PassRunner.run(pass, input: input, output: output, out: out, report: report, recipe: [Recipe.Step(pass)])
    }
}

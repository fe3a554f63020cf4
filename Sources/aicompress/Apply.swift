import AICompressCore
import AICompressFormats
import AICompressPasses
import ArgumentParser
import Foundation

extension AICompress {
    /// `aicompress apply recipe.yaml IN OUT`: runs the steps of a recipe.
    struct Apply: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "apply",
            abstract: "Run the compression steps of a YAML recipe.",
            discussion: """
                A recipe lists steps — prune, quantize, dequantize — each with the options of that \
                command as keys (long option names without --; true for a flag, a list repeats an \
                option):

                  steps:
                    - prune:
                        keep: 0.5
                        scope: global
                        include: "*.weight"
                    - quantize:
                        int8: true
                        exclude: ["classifier.*"]

                The steps run in order as one pipeline and the output records the recipe (metadata \
                aicompress.recipe) next to one provenance step per pass; `aicompress recipe OUT` \
                prints it. Every pass command records its step the same way, so a file made by \
                `prune … | quantize …` has a recipe too. A recipe error names the file, the line and \
                the key, and exits with 65 before anything is written.

                Calibrated steps (prune --method wanda|sparsegpt, quantize --method gptq, \
                quantize --gguf with --imatrix or --calibration) record their data file with its \
                SHA-256 and size (calibration-sha256, calibration-bytes; imatrix-sha256, \
                imatrix-bytes) and every setting; apply reads the file again and refuses one that \
                changed (exit 65).

                Examples:
                  aicompress apply recipe.yaml model.onnx small.onnx
                  aicompress recipe small.onnx > again.yaml && aicompress apply again.yaml model.onnx same.onnx
                """
        )

        @Argument(help: "The recipe (YAML), or - for standard input.")
        var recipe: String

        @OptionGroup var files: InputOutputArguments

        @OptionGroup var report: ReportOptions
        @OptionGroup var out: OutputOptions

        func validate() throws {
            if recipe == "-" && files.input == "-" { throw ValidationError("the recipe and the model cannot both come from standard input") }
            try out.check(output: files.output)
        }

        func run() throws {
            let file = try InputFile(path: recipe)
            guard let text = file.buffer.withUnsafeBytes({ String(validating: $0, as: UTF8.self) }) else {
                throw ExitStatus.Failure(code: ExitStatus.dataError, message: "\(recipe): not UTF-8 text")
            }
            // module-qualified: inside `AICompress`, `Recipe` is the `recipe` command
            let parsed: aicompress.Recipe
            let passes: [any CompressionPass]
            let input: ApplyInput
            do {
                parsed = try aicompress.Recipe.parse(text, file: recipe)
                // A calibrated prune is Wanda/SparseGPT on a language model's text or on a graph's table, as the input is.
                input = try ApplyInput(path: files.input, needsLanguageModel: parsed.steps.contains { $0.isCalibrated && $0.command == "prune" })
                passes = try parsed.passes(file: recipe, input: input)
            } catch let e as aicompress.Recipe.Failure {
                throw ExitStatus.Failure(code: ExitStatus.dataError, message: e.description)
            }
            let pass: any CompressionPass = passes.count == 1 ? passes[0] : Pipeline(passes)
            // The checkpoint entry of a Hugging Face folder, as `prune` reads it.
            let source = passes.contains { $0 is LanguageModelPrune } ? input.languageModel?.huggingFace ?? files.input : files.input
            try PassRunner.run(pass, input: source, output: files.output, out: out, report: report, recipe: parsed.steps,
                               parameters: .recipe(recipe))
        }
    }
}

import AICompressFormats
import ArgumentParser

extension AICompress {
    /// `aicompress recipe FILE`: the recipe that produced a file.
    struct Recipe: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "recipe",
            abstract: "Print the recipe (YAML) that produced a model.",
            discussion: """
                Every pass (prune, quantize, dequantize, apply) records its step in the output's \
                metadata; this prints them as a recipe that `aicompress apply` runs again on the \
                original input. Exits with 65 when the file has no recipe.

                Example:
                  aicompress recipe small.ckpt > recipe.yaml
                """
        )

        @Argument(help: "Model file, or - for standard input.")
        var file: String

        func run() throws {
            let loaded = try ModelIO.read(path: file)
            // module-qualified: `Recipe` alone is this command
            guard let text = loaded.model.metadata[aicompress.Recipe.metadataKey] else {
                throw ExitStatus.Failure(code: ExitStatus.dataError, message: "\(file): no recipe recorded (no aicompress pass made this file)")
            }
            try FileHandleOutput.stdout(text)
        }
    }
}

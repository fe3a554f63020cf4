import AICompressLLM
import ArgumentParser

/// How a calibration text is cut for a language model (`prune --method wanda|sparsegpt` on a
/// GGUF or Hugging Face LLaMA-family model): sequences of `--calibration-tokens` tokens, at most
/// `--calibration-sequences` of them.
struct TextCalibrationOptions: ParsableArguments {
    @Option(help: "Language models: tokens per calibration sequence (each starts from an empty cache, BOS first).")
    var calibrationTokens = 512

    @Option(help: "Language models: calibration sequences used at most (the first ones of the text).")
    var calibrationSequences = 32

    /// Checks the values.
    func check() throws {
        guard calibrationTokens >= 16 else { throw ValidationError("--calibration-tokens must be at least 16") }
        guard calibrationSequences >= 1 else { throw ValidationError("--calibration-sequences must be at least 1") }
    }

    /// The engine's options; `gram` for the methods that need XᵀX.
    func options(gram: Bool) -> LayerwiseDecoderCalibration.Options {
        LayerwiseDecoderCalibration.Options(sequenceTokens: calibrationTokens, maxSequences: calibrationSequences, gram: gram)
    }
}

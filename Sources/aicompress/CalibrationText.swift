import AICompressCore
import AICompressFormats
import AICompressLLM

/// A language model's calibration text and how it is cut (`--calibration`,
/// `--calibration-tokens`, `--calibration-chunks`): what GPTQ, AWQ and a text importance matrix
/// share, with the one spelling of its provenance words and recipe keys.
struct CalibrationText {
    /// The text file.
    let path: String
    /// Tokens per sequence.
    let tokens: Int
    /// Sequences used at most.
    let chunks: Int
    /// `--quiet`: no progress on stderr.
    let quiet: Bool

    /// Progress is drawn: stderr is a terminal and not `--quiet`.
    var interactive: Bool { !quiet && FileHandleOutput.stderrIsInteractive }

    /// The file's bytes, read at once.
    func bytes() throws -> [UInt8] { try InputFile(path: path).buffer.withUnsafeBytes { Array($0) } }

    /// The provenance words after the method's: the file, then how it is cut.
    var words: [(String, String)] {
        [("calibration", path), ("calibration-tokens", "\(tokens)"), ("calibration-chunks", "\(chunks)")]
    }

    /// The recipe keys (`CalibratedStep`): the file with its SHA-256 and size, then how it is cut.
    func recipeOptions() throws -> [Recipe.Option] {
        try CalibratedStep.file("calibration", path: path)
            + [CalibratedStep.option("calibration-tokens", "\(tokens)"), CalibratedStep.option("calibration-chunks", "\(chunks)")]
    }

    /// The layer-by-layer calibration of `lm` on this text (the Gram matrices GPTQ and AWQ use).
    func layerwise(_ lm: LanguageModel, bytes: [UInt8], denseTargets: Bool = false) throws -> LayerwiseDecoderCalibration {
        try LayerwiseDecoderCalibration(model: lm, text: bytes,
                                        options: .init(sequenceTokens: tokens, maxSequences: chunks, gram: true, denseTargets: denseTargets))
    }
}

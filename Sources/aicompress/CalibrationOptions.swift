import AICompressLLM
import AICompressCore
import AICompressFormats
import AICompressPasses
import AICompressTraining
import ArgumentParser

/// The calibration data of the data-aware methods (`prune --method wanda|sparsegpt`, `quantize --method gptq|awq`).
struct CalibrationOptions: ParsableArguments {
    @Option(help: "Calibration data for a data-aware --method: a CSV with a header row (a label column, if any, is ignored) or a .npy of features, rows first; for a language model (quantize --gguf), a UTF-8 text tokenized with its tokenizer.")
    var calibration: String?

    @Option(help: "Calibration rows used at most (the first ones).")
    var calibrationRows = 1024

    @Option(help: "A language model's calibration text: tokens per sequence (llama-imatrix's -c).")
    var calibrationTokens = 512

    @Option(help: "A language model's calibration text: sequences used at most (the first ones).")
    var calibrationChunks = 32

    @OptionGroup var layout: CSVLayoutOptions

    /// Checks the options for a method that needs data (`needed`) or not.
    func check(needed: Bool, method: String) throws {
        if needed && calibration == nil { throw ValidationError("--method \(method) needs --calibration DATA (a CSV or .npy of inputs; with --gguf, a text)") }
        if !needed && calibration != nil { throw ValidationError("--calibration goes with a data-aware --method (prune: wanda, sparsegpt; quantize: gptq, awq)") }
        guard calibrationRows >= 1 else { throw ValidationError("--calibration-rows must be at least 1") }
        guard calibrationTokens >= 16 else { throw ValidationError("--calibration-tokens must be at least 16") }
        guard calibrationChunks >= 1 else { throw ValidationError("--calibration-chunks must be at least 1") }
    }

    /// The layer-by-layer engine's options for a language model's text; `gram` for the methods
    /// that need XᵀX (SparseGPT, GPTQ).
    func textOptions(gram: Bool) -> LayerwiseDecoderCalibration.Options {
        LayerwiseDecoderCalibration.Options(sequenceTokens: calibrationTokens, maxSequences: calibrationChunks, gram: gram)
    }

    /// The data, read when the pass knows the model's input width.
    var data: CalibrationData? {
        guard let path = calibration else { return nil }
        var csv = CSVOptions()
        csv.textLabels = true  // a label column is not used
        layout.apply(to: &csv)
        let npyRefusal = layout.npyRefusal(path)
        return CalibrationData(maxRows: calibrationRows) { [csv] expected in
            let input = try InputFile(path: path)
            return try input.buffer.withUnsafeBytes { bytes in
                if DataReadingOptions.isNPY(bytes) {
                    if let e = npyRefusal { throw e }
                    return try NPY.dataset(features: bytes, file: path, labels: nil, labelsFile: "", missing: .error)
                }
                return try Dataset.readCSV(bytes, file: path, options: csv, expectedFeatures: expected)
            }
        }
    }

    /// The recipe step of a calibrated `pass`: its provenance words, then the data.
    func recipeStep(_ pass: any CompressionPass) -> Recipe.Step {
        var options = pass.parameters.filter { !["calibration-rows", "calibration-tokens", "calibration-chunks"].contains($0.0) }.map { Recipe.Option(key: $0.0, values: [$0.1], isFlag: false) }
        if let c = calibration {
            options += [Recipe.Option(key: "calibration", values: [c], isFlag: false),
                        Recipe.Option(key: "calibration-rows", values: ["\(calibrationRows)"], isFlag: false)] + layout.recipeOptions
        }
        return Recipe.Step(command: pass.name, options: options)
    }
}

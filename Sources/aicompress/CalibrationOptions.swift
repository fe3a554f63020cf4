import AICompressLLM
import AICompressCore
import AICompressFormats
import AICompressPasses
import AICompressTraining
import ArgumentParser

/// The calibration data of the data-aware methods (`prune --method wanda|sparsegpt`, `quantize --method gptq|awq`).
struct CalibrationOptions: ParsableArguments {
    @Option(help: "Calibration data for a data-aware --method: a CSV with a header row (a label column, if any, is ignored), a .npy of features, rows first, or an .npz of one array per model input (a label array is ignored); for a language model (quantize --gguf), a UTF-8 text tokenized with its tokenizer.")
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
    func textOptions(gram: Bool, denseTargets: Bool = false) -> LayerwiseDecoderCalibration.Options {
        LayerwiseDecoderCalibration.Options(sequenceTokens: calibrationTokens, maxSequences: calibrationChunks, gram: gram,
                                            denseTargets: denseTargets)
    }

    /// The data, read when the pass knows the model's input width.
    var data: CalibrationData? {
        guard let path = calibration else { return nil }
        var csv = CSVOptions()
        csv.textLabels = true  // a label column is not used
        layout.apply(to: &csv)
        let npyRefusal = layout.npyRefusal(path), npzRefusal = layout.npyRefusal(path, is: "an .npz archive")
        return CalibrationData(maxRows: calibrationRows) { [csv] expected in
            let input = try InputFile(path: path)
            return try input.buffer.withUnsafeBytes { bytes in
                if NPZ.sniff(bytes) {  // one array per graph input; an array named label is not used
                    if let e = npzRefusal { throw e }
                    return try Dataset.named(try NPZ.read(bytes, file: path), label: nil, file: path)
                }
                if DataReadingOptions.isNPY(bytes) {
                    if let e = npyRefusal { throw e }
                    return try NPY.dataset(features: bytes, file: path, labels: nil, labelsFile: "", missing: .error)
                }
                return try Dataset.readCSV(bytes, file: path, options: csv, expectedFeatures: expected)
            }
        }
    }

    /// The data keys of a recipe step: the file with its SHA-256 and size, then how it is cut
    /// (`text`: a language model's text; else a table and its CSV layout).
    func recipeOptions(text: Bool) throws -> [Recipe.Option] {
        guard let path = calibration else { return [] }
        let counts = text ? [("calibration-tokens", calibrationTokens), ("calibration-chunks", calibrationChunks)]
                          : [("calibration-rows", calibrationRows)]
        return try CalibratedStep.file("calibration", path: path) + counts.map { CalibratedStep.option($0.0, "\($0.1)") }
            + (text ? [] : layout.recipeOptions)
    }

    /// The recipe step of a calibrated pass on a graph model: its command's keys, then the data
    /// (`apply` builds the same pass from them, `CalibratedStep`).
    func recipeStep(_ pass: any CompressionPass) throws -> Recipe.Step {
        let data = try recipeOptions(text: false)
        switch pass {
        case let p as GPTQQuantize:
            var step = Recipe.Step(p.base)
            step.options += [CalibratedStep.option("method", "gptq"), CalibratedStep.option("damp", "\(p.gptq.dampFraction)")]
                + (p.gptq.actOrder ? [CalibratedStep.flag("act-order")] : []) + data
            return step
        case let p as GraphAWQQuantize:
            var step = Recipe.Step(p.base)
            step.options += [CalibratedStep.option("method", "awq"), CalibratedStep.option("awq-grid", "\(p.grid)")] + data
            return step
        case let p as CalibratedPrune:
            return CalibratedStep.prune(method: p.method.rawValue, pattern: p.pattern, scope: p.scope, allocation: p.allocation,
                                        selection: Recipe.Step.options(p.selection.parameterValues, TensorSelection.Parameter.all),
                                        calibration: data)
        default:
            return Recipe.Step(command: pass.name, options: pass.parameters.map { CalibratedStep.option($0.0, $0.1) } + data)
        }
    }
}

import AICompressCore
import AICompressTraining

/// Fine-tuning (the core of `aicompress train`): trains every float tensor a model's graph uses
/// as a weight, except frozen ones, with cross-entropy (classifiers) or MSE (one float output)
/// against the data's labels, and stamps a `train …` provenance step.
///
/// ```swift
/// var tuning = FineTuning()
/// tuning.options.epochs = 5
/// let (tuned, report) = try tuning.run(pruned, data: rows)
/// ```
public struct FineTuning: Sendable {
    /// Optimizer, schedule, epochs, seed, sparsity.
    public var options = TrainingOptions()
    /// Shell globs (`TensorSelection.glob`) of tensors kept fixed.
    public var freeze: [String] = []
    /// Put (x − mean)/std of the training data into the graph before training.
    public var standardize = false

    /// Fine-tuning with `options`, freezing tensors matching `freeze`.
    public init(options: TrainingOptions = TrainingOptions(), freeze: [String] = [], standardize: Bool = false) {
        self.options = options
        self.freeze = freeze
        self.standardize = standardize
    }

    /// Whether `name` is kept fixed.
    public func isFrozen(_ name: String) -> Bool { freeze.contains { TensorSelection.glob($0, name) } }

    /// Trains `model` on `data` (with a label column), validating on `validation`.
    /// - Parameters:
    ///   - dataName: names the data in label errors (a file path, say).
    ///   - input: facts about the model's file, recorded in provenance (nil: none).
    ///   - dataCRC32: CRC-32 of the data file, recorded in the step (nil: left out).
    ///   - progress: called after every epoch.
    /// - Returns: the trained model with provenance, and a report.
    /// - Throws: `ExecutionError` (the model cannot run, the labels do not fit), `FineTuningError`
    ///   (`.noGradient` when the loss cannot change any trainable tensor), `ValidationSplitError`.
    public func run(_ model: Model, data: Dataset, dataName: String = "the data", validation: ValidationData = .none,
                    input: InputFacts? = nil, dataCRC32: UInt32? = nil,
                    progress: (EpochLog) -> Void = { _ in }) throws -> (Model, FineTuningReport) {
        let frozen: (String) -> Bool = { isFrozen($0) }
        var modelValue = model
        var task = try ModelTask(network: try Network(model: modelValue, frozen: frozen))
        // a table for a model fed by input name: refused before its labels are looked at
        if data.namedInputs == nil, let refusal = task.tableRefusal { throw refusal }
        if standardize, let named = data.namedInputs {
            throw ExecutionError.badInput("\(named.source): `standardize` works on a feature table, not on arrays fed by input name")
        }
        if standardize {
            let (mean, std) = data.columnStatistics()
            modelValue = try modelValue.standardizingInput(task.inputName, mean: mean, std: std, rowShape: task.rowShape)
            task = try ModelTask(network: try Network(model: modelValue, frozen: frozen))
        }
        guard task.network.parameterCount > 0 else { throw FineTuningError.nothingToTrain }
        do { try task.checkGradientPath() } catch { throw FineTuningError.noGradient(error) }
        let (trainSet, valSet) = try validation.split(data, seed: options.seed)
        let objective = try task.supervisedObjective(trainSet, file: dataName)
        let validationName = validation.name(trainingData: dataName)
        let validationObjective = try valSet.map { v in (v, try task.supervisedObjective(v, file: validationName)) }
        var accuracy: ((ModelTask) throws -> Double)? = nil
        if let v = valSet, let truth = v.targets, try task.isClassifier() {
            accuracy = { t in ClassificationMetrics(truth: truth, predicted: try t.predict(v).values).accuracy }
        }
        let result: TrainingResult
        do {
            result = try Trainer.fit(&task, train: trainSet, objective: objective, validation: validationObjective,
                                     accuracy: accuracy, options: options, progress: progress)
        } catch let e as GradientError {
            throw FineTuningError.noGradient(e)
        }
        var updated = try task.network.updating(modelValue)
        let report = FineTuningReport(training: result, parameters: task.network.parameterCount,
                                      tensors: task.network.parameterNames.count,
                                      quantizedTensors: updated.tensors.filter { $0.quantizedLayout != nil }.count,
                                      rows: trainSet.rows)
        var words = ["train", options.summary]
        if let crc = dataCRC32 { words.append("data.crc32=\(Provenance.hex(crc))") }
        words.append("rows=\(trainSet.rows)")
        if standardize { words.append("standardize") }
        if !freeze.isEmpty { words.append("freeze=\(freeze.joined(separator: ","))") }
        Provenance.stamp(&updated.metadata, input: input, steps: [words.joined(separator: " ")])
        return (updated, report)
    }
}

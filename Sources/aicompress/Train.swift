import AICompressCore
import AICompressFormats
import AICompressTraining
import ArgumentParser
import Foundation

/// `aicompress train MODEL --data train.csv OUT`: fine-tunes a model's weights.
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fine-tune a model on labelled data (after pruning or quantization, say).",
        discussion: """
            Trains every float tensor the graph uses as a weight (not integer, quantized or \
            --freeze'd tensors) with cross-entropy from the logits for classifiers (the input \
            of a final Softmax when the model ends in one) or mean squared error for a single \
            float output. Optimizers follow PyTorch's update rules: sgd (momentum, Nesterov; \
            'gd' = full-batch gradient descent), adam and adamw with bias correction; L2 or \
            decoupled weight decay; step/cosine schedules with warm-up; gradient clipping; \
            early stopping on a validation set keeps the best epoch's weights.

            On a pruned model, weights that are exactly zero stay zero (--free-sparsity lets \
            them change), so fine-tuning recovers accuracy without losing sparsity; tensors \
            stored sparse are written sparse again. --standardize adds (x − mean)/std of the \
            training data to the graph itself, so the saved model applies it. BatchNormalization \
            uses its stored statistics and Dropout is the identity (no training-mode batch \
            statistics). Training is deterministic for a given --seed.

            Examples:
              aicompress train pruned.ckpt --data train.csv tuned.ckpt
              aicompress train model.onnx --data train.csv --optimizer sgd --lr 0.05 --momentum 0.9 --nesterov out.onnx
              aicompress train model.ckpt --data train.csv --patience 5 --epochs 200 --schedule cosine best.ckpt
            """
    )

    @Argument(help: "Model file (with a graph), or - for standard input.")
    var model: String

    @Argument(help: "Output file, or - for standard output.")
    var output: String

    @OptionGroup var data: DataOptions
    @OptionGroup var training: TrainingOptionGroup
    @OptionGroup var out: OutputOptions

    @Option(help: "Keep tensors whose name matches this glob fixed (repeatable).")
    var freeze: [String] = []

    @Flag(help: "Standardize the features with the training data's mean and std, stored in the graph.")
    var standardize = false

    func validate() throws { try out.check(output: output) }

    func run() throws {
        let frozen: (String) -> Bool = { name in freeze.contains { fnmatch($0, name, 0) == 0 } }
        var (loaded, task) = try loadTask(model, frozen: frozen)
        let (all, crc) = try data.load(data.data, expectedFeatures: task.featureCount)
        if let m = all.missingSummary, !training.quiet { FileHandleOutput.stderr(m + "\n") }
        var modelValue = loaded.model
        if standardize {
            let (mean, std) = all.columnStatistics()
            modelValue = try withModel(model) {
                try modelValue.standardizingInput(task.inputName, mean: mean, std: std, rowShape: task.rowShape)
            }
            task = try withModel(model) { try ModelTask(network: try Network(model: modelValue, frozen: frozen)) }
        }
        guard task.network.parameterCount > 0 else {
            throw ExitStatus.Failure(code: ExitStatus.dataError, message: "\(model): no trainable float tensors (all frozen, quantized or unused)")
        }
        let (trainSet, valSet) = try training.validationSplit(all, data: data, expectedFeatures: task.featureCount)
        let result: TrainingResult = try withModel(model) {
            let objective = try task.supervisedObjective(trainSet, file: data.data)
            let validation = try valSet.map { v in (v, try task.supervisedObjective(v, file: training.val ?? data.data)) }
            let accuracy: ((ModelTask) throws -> Double)?
            if let v = valSet, try task.isClassifier() {
                accuracy = { t in
                    let p = try t.predict(v)
                    return ClassificationMetrics(truth: v.targets!, predicted: p.values).accuracy
                }
            } else {
                accuracy = nil
            }
            return try Trainer.fit(&task, train: trainSet, objective: objective, validation: validation, accuracy: accuracy,
                                   options: training.options) { training.report($0, total: training.epochs) }
        }
        let updated = try task.network.updating(modelValue)
        loaded.model = updated
        var step = "train \(training.summary) data.crc32=\(Provenance.hex(crc)) rows=\(trainSet.rows)"
        if standardize { step += " standardize" }
        if !freeze.isEmpty { step += " freeze=\(freeze.joined(separator: ","))" }
        let final = loaded.withProvenance(step: step)
        try ModelIO.write(final, to: output, format: out.outputFormat(for: output), refusing: loaded.identities,
                          durable: out.sync, onnx: out.onnx, shardSize: out.shardSize?.bytes)
        if !training.quiet {
            let last = result.logs.last!
            var s = "trained \(Format.count(task.network.parameterCount)) parameters in \(task.network.parameterNames.count) tensors: "
            s += "\(result.logs.count) epochs, \(result.steps) steps, loss \(String(format: "%.4f", last.trainLoss))"
            if result.stoppedEarly || training.patience > 0 { s += "; kept epoch \(result.bestEpoch)" }
            if let a = result.logs[result.bestEpoch - 1].validationAccuracy { s += " (val_acc \(Format.percent(a)))" }
            let frozenFloat = loaded.model.tensors.filter { $0.quantizedLayout != nil }.count
            if frozenFloat > 0 { s += "; \(frozenFloat) quantized tensors left as they are" }
            FileHandleOutput.stderr(s + "\n")
        }
    }
}

/// `aicompress predict MODEL --data X.csv`: the model's raw outputs, one row per data row.
struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a model on data and print its outputs as CSV.",
        discussion: """
            Writes one CSV row per data row: the columns of the chosen output flattened (all \
            float outputs by default), values printed so they read back exactly. A label column \
            in the data is ignored when the model takes one feature fewer.

            Examples:
              aicompress predict model.onnx --data test.csv > scores.csv
              aicompress predict model.ckpt --data x.npy --output label -o labels.csv
            """
    )

    @Argument(help: "Model file (with a graph), or - for standard input.")
    var model: String

    @OptionGroup var data: DataOptions

    @Option(name: .customLong("output"), help: "Graph output to print (repeatable; default: every output).")
    var outputs: [String] = []

    @Option(name: .shortAndLong, help: "Write the CSV here instead of standard output.")
    var file: String?

    func run() throws {
        let (_, task) = try loadTask(model)
        let (ds, _) = try data.load(data.data, expectedFeatures: task.featureCount)
        let names = outputs.isEmpty ? task.network.graph.outputs.map(\.name) : outputs
        for n in names where !task.network.graph.outputs.contains(where: { $0.name == n }) {
            throw ValidationError("the model has no output '\(n)' (outputs: \(task.network.graph.outputs.map(\.name).joined(separator: ", ")))")
        }
        let p = try withModel(model) { try task.predict(ds, keepOutputs: true) }
        var header = [String]()
        var cols = [(NDArray, Int)]()
        for n in names {
            let v = p.outputs[n]!
            let per = ds.rows == 0 ? 0 : v.count / ds.rows
            cols.append((v, per))
            header += per == 1 ? [n] : (0..<per).map { "\(n)_\($0)" }
        }
        var text = header.joined(separator: ",") + "\n"
        for r in 0..<ds.rows {
            var cells = [String]()
            for (v, per) in cols {
                for j in 0..<per {
                    cells.append(v.isFloat ? "\(v.floats[r * per + j])" : "\(v.ints[r * per + j])")
                }
            }
            text += cells.joined(separator: ",") + "\n"
        }
        if let f = file {
            var sink = try OutputFile(path: f)
            try sink.write(Array(text.utf8))
            try sink.commit()
        } else {
            try FileHandleOutput.stdout(text)
        }
    }
}

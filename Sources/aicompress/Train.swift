import AICompressCore
import AICompressFormats
import AICompressPasses
import AICompressTraining
import ArgumentParser
import Foundation

extension AICompress {
    /// `aicompress train MODEL --data train.csv OUT`: fine-tunes a model's weights.
    struct Train: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "train",
            abstract: "Fine-tune a model on labelled data (after pruning or quantization, say).",
            discussion: """
                Trains every float tensor the graph uses as a weight (not integer, quantized or \
                --freeze'd tensors) with cross-entropy from the logits for classifiers (the input \
                of a final Softmax, also behind scikit-learn's ZipMap; the log of probabilities \
                where the graph has no pre-softmax value) or mean squared error for a single float \
                output. A model whose output has no gradient to its weights is refused. Optimizers \
                follow PyTorch's update rules: sgd (momentum, Nesterov; 'gd' = full-batch gradient \
                descent), adam and adamw with bias correction; L2 or decoupled weight decay; \
                step/cosine schedules with warm-up; gradient clipping.

                By default training runs until the validation loss stops improving: 10% of the \
                rows are held out (with 20 rows or more; or --val / --val-split), training stops \
                after 10 epochs without a lower validation loss (--patience) or at 500 epochs, and \
                the best epoch's weights are kept. --epochs N alone trains exactly N epochs on all \
                rows, as before; --epochs N --patience P stops early within N. The summary says \
                why training stopped.

                On a pruned model, weights that are exactly zero stay zero (--free-sparsity lets \
                them change), so fine-tuning recovers accuracy without losing sparsity; tensors \
                stored sparse are written sparse again. --standardize adds (x − mean)/std of the \
                training data to the graph itself, so the saved model applies it. BatchNormalization \
                uses its stored statistics and Dropout is the identity (no training-mode batch \
                statistics). Training is deterministic for a given --seed.

                A model with several inputs (a transformer encoder's input_ids, attention_mask, \
                token_type_ids) trains on an .npz holding one array per input name plus the \
                labels (the array --label names, default label); integer inputs are fed as \
                exact integers. Scalar initializers (an exporter's epsilon, 1/sqrt(d), GELU's \
                0.5) are constants, never trained.

                Examples:
                  aicompress train pruned.ckpt --data train.csv tuned.ckpt
                  aicompress train model.onnx --data train.csv --optimizer sgd --lr 0.05 --momentum 0.9 --nesterov out.onnx
                  aicompress train model.ckpt --data train.csv --epochs 30 --lr 0.003 fixed.ckpt
                  aicompress train model.ckpt --data train.csv --val val.csv --patience 20 --epochs 200 best.ckpt
                  aicompress train encoder.onnx --data tokens.npz --val tokens-val.npz tuned.onnx
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
            let tuning = FineTuning(options: training.options, freeze: freeze, standardize: standardize)
            let loaded: LoadedModel, featureCount: Int?
            do {
                let (l, task) = try loadTask(model, frozen: tuning.isFrozen)
                // a model fed by input name (an .npz) has no feature count for a table to match
                (loaded, featureCount) = (l, task.tableRefusal == nil ? task.featureCount : nil)
            }
            let (all, crc) = try data.load(data.data, expectedFeatures: featureCount)
            if let m = all.missingSummary, !training.quiet { FileHandleOutput.stderr(m + "\n") }
            let validation = try training.validationData(data: data, expectedFeatures: featureCount)
            let (final, report) = try training.mappingSplitErrors {
                try withModel(model) {
                    do {
                        return try tuning.run(loaded.model, data: all, dataName: data.data, validation: validation, input: loaded.facts,
                                              dataCRC32: crc) { training.report($0, total: training.epochs) }
                    } catch let e as FineTuningError {
                        throw ExitStatus.Failure(code: ExitStatus.dataError, message: "\(model): \(e)")
                    }
                }
            }
            try out.write(final, to: output, refusing: loaded.identities)
            if !training.quiet, let kept = report.training.keptLog {
                let result = report.training
                var s = "trained \(Format.count(report.parameters)) parameters in \(report.tensors) tensors: "
                s += "\(result.logs.count) epochs, \(result.steps) steps, loss \(String(format: "%.4f", kept.trainLoss))"
                if let a = report.validationAccuracy { s += " (val_acc \(Format.percent(a)))" }
                s += "; " + training.stopSummary(result)
                if report.quantizedTensors > 0 { s += "; \(report.quantizedTensors) quantized tensors left as they are" }
                FileHandleOutput.stderr(s + "\n")
            }
        }
    }
}
